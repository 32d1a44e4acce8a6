package org.rql4j.env;

/**
 * A reset of some or all copies of a {@link VectorEnv}.
 *
 * @param seeds empty: no seeding; one seed s: copy i gets s + i (Gymnasium's rule); or one per copy
 * @param mask copies to reset (null: all); DISABLED mode resets ended copies this way
 * @param optionsJson options for {@code env.reset} as a JSON object, or null
 */
public record ResetRequest(long[] seeds, boolean[] mask, String optionsJson) {

  public ResetRequest {
    seeds = seeds == null ? new long[0] : seeds.clone();
  }

  /** Reset every copy, seeding copy i with {@code seed + i}. */
  public static ResetRequest seeded(long seed) {
    return new ResetRequest(new long[] {seed}, null, null);
  }

  /** Reset every copy without seeding. */
  public static ResetRequest unseeded() {
    return new ResetRequest(new long[0], null, null);
  }

  /** Reset only the copies where {@code mask[i]}, without seeding. */
  public static ResetRequest masked(boolean[] mask) {
    return new ResetRequest(new long[0], mask.clone(), null);
  }
}
