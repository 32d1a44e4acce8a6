package org.rql4j.env;

/**
 * One numeric info key across a batch: {@code values[i]} is copy i's value where
 * {@code present[i]}, 0 elsewhere.
 */
public record InfoColumn(double[] values, boolean[] present) {

  /** Copy i's value, or {@code fallback} when copy i did not report the key. */
  public double get(int i, double fallback) {
    return present[i] ? values[i] : fallback;
  }
}
