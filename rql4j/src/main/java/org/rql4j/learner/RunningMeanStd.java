package org.rql4j.learner;


/**
 * Running mean and (population) variance of vectors, merged batch by batch with Chan et al.'s
 * parallel formula: SB3's {@code RunningMeanStd} (the statistics behind {@code VecNormalize}),
 * starting from {@code count = 1e-4}, mean 0, variance 1.
 */
public final class RunningMeanStd {

  private final double[] mean;
  private final double[] var;
  private double count = 1e-4;

  public RunningMeanStd(int dim) {
    mean = new double[dim];
    var = new double[dim];
    java.util.Arrays.fill(var, 1.0);
  }

  /** Sets the statistics (as {@link #mean}, {@link #var} and {@link #count} give them). */
  public void set(double[] newMean, double[] newVar, double newCount) {
    if (newMean.length != mean.length || newVar.length != var.length || !(newCount > 0)) {
      throw new IllegalArgumentException("running statistics of width " + mean.length + " need " + mean.length
          + " means and variances and a count > 0");
    }
    System.arraycopy(newMean, 0, mean, 0, mean.length);
    System.arraycopy(newVar, 0, var, 0, var.length);
    count = newCount;
  }

  /** The width. */
  public int dim() {
    return mean.length;
  }

  public double count() {
    return count;
  }

  public double mean(int i) {
    return mean[i];
  }

  public double var(int i) {
    return var[i];
  }

  /** Merges a batch of {@code x.length / dim} rows. */
  public void update(float[] x) {
    int d = mean.length;
    int n = x.length / d;
    if (n == 0) {
      return;
    }
    double[] bMean = new double[d];
    double[] bVar = new double[d];
    for (int r = 0; r < n; r++) {
      for (int i = 0; i < d; i++) {
        bMean[i] += x[r * d + i];
      }
    }
    for (int i = 0; i < d; i++) {
      bMean[i] /= n;
    }
    for (int r = 0; r < n; r++) {
      for (int i = 0; i < d; i++) {
        double e = x[r * d + i] - bMean[i];
        bVar[i] += e * e;
      }
    }
    double total = count + n;
    for (int i = 0; i < d; i++) {
      bVar[i] /= n;
      double delta = bMean[i] - mean[i];
      double m2 = var[i] * count + bVar[i] * n + delta * delta * count * n / total;
      mean[i] += delta * n / total;
      var[i] = m2 / total;
    }
    count = total;
  }

  /** {@code clip((x - mean) / sqrt(var + eps), -clip, clip)} per row of {@code x}, as float32 (SB3's order). */
  public float[] normalize(float[] x, double eps, double clip) {
    int d = mean.length;
    float[] out = new float[x.length];
    for (int k = 0; k < x.length; k++) {
      int i = k % d;
      double z = (x[k] - mean[i]) / Math.sqrt(var[i] + eps);
      out[k] = (float) Math.max(-clip, Math.min(clip, z));
    }
    return out;
  }

  /** The means (a copy). */
  public double[] means() {
    return mean.clone();
  }

  /** The variances (a copy). */
  public double[] variances() {
    return var.clone();
  }
}
