package org.rql4j.buffer;

import java.util.Arrays;

/**
 * One on-policy rollout of {@code nSteps} steps of {@code numEnvs} env copies (PPO's buffer),
 * with generalized advantage estimation. Rows are stored step-major: row {@code t * numEnvs + i}
 * is copy {@code i} at step {@code t}.
 *
 * <p>Each step stores the (already shaped) reward, the value estimate {@code V(s_t)}, the
 * behaviour policy's log-prob of the action, and how the step ended for each copy: terminated
 * (the next state is worth 0), truncated by a time limit (the next state is worth
 * {@code V(final observation)}, given with the step) or neither (the next state is the next
 * row's, or after the last step the values passed to {@link #computeAdvantages}). Both kinds of
 * end cut the advantage chain. For each row:
 * {@code delta_t = r_t + gamma V_next - V(s_t)}, {@code A_t = delta_t + gamma lambda A_{t+1}}
 * (0 after an end), {@code return_t = A_t + V(s_t)}.
 */
public final class RolloutBuffer {

  private final int nSteps;
  private final int numEnvs;
  private final int obsDim;
  private final int actionWidth;
  private final float[] observations;
  private final float[] actions;
  private final float[] rewards;
  private final float[] values;
  private final float[] logProbs;
  private final boolean[] terminated;
  private final boolean[] truncated;
  private final float[] truncatedValues;
  private final float[] advantages;
  private final float[] returns;
  private int steps;
  private boolean computed;

  public RolloutBuffer(int nSteps, int numEnvs, int obsDim, int actionWidth) {
    if (nSteps <= 0 || numEnvs <= 0 || obsDim <= 0 || actionWidth <= 0) {
      throw new IllegalArgumentException("RolloutBuffer needs positive sizes, got nSteps " + nSteps + ", numEnvs "
          + numEnvs + ", obsDim " + obsDim + ", actionWidth " + actionWidth);
    }
    this.nSteps = nSteps;
    this.numEnvs = numEnvs;
    this.obsDim = obsDim;
    this.actionWidth = actionWidth;
    int rows = nSteps * numEnvs;
    observations = new float[rows * obsDim];
    actions = new float[rows * actionWidth];
    rewards = new float[rows];
    values = new float[rows];
    logProbs = new float[rows];
    terminated = new boolean[rows];
    truncated = new boolean[rows];
    truncatedValues = new float[rows];
    advantages = new float[rows];
    returns = new float[rows];
  }

  /**
   * Adds one step of every copy ({@code [numEnvs, ...]} each, flat).
   *
   * @param truncatedValues {@code V(final observation)} of the copies whose episode hit its time
   *     limit at this step (read only where {@code truncated} and not {@code terminated}; may be
   *     null when no copy was truncated)
   */
  public void add(float[] obs, float[] acts, float[] stepRewards, float[] stepValues, float[] stepLogProbs,
      boolean[] stepTerminated, boolean[] stepTruncated, float[] stepTruncatedValues) {
    if (steps == nSteps) {
      throw new IllegalStateException("the rollout is full (" + nSteps + " steps); compute advantages, use it, "
          + "then reset()");
    }
    check("observations", obs, numEnvs * obsDim);
    check("actions", acts, numEnvs * actionWidth);
    check("rewards", stepRewards, numEnvs);
    check("values", stepValues, numEnvs);
    check("log-probs", stepLogProbs, numEnvs);
    if (stepTerminated.length != numEnvs || stepTruncated.length != numEnvs) {
      throw new IllegalArgumentException("terminated / truncated need " + numEnvs + " flags each, got "
          + stepTerminated.length + " and " + stepTruncated.length);
    }
    int row = steps * numEnvs;
    System.arraycopy(obs, 0, observations, row * obsDim, obs.length);
    System.arraycopy(acts, 0, actions, row * actionWidth, acts.length);
    System.arraycopy(stepRewards, 0, rewards, row, numEnvs);
    System.arraycopy(stepValues, 0, values, row, numEnvs);
    System.arraycopy(stepLogProbs, 0, logProbs, row, numEnvs);
    for (int i = 0; i < numEnvs; i++) {
      terminated[row + i] = stepTerminated[i];
      truncated[row + i] = stepTruncated[i] && !stepTerminated[i];
      if (truncated[row + i]) {
        if (stepTruncatedValues == null) {
          throw new IllegalArgumentException("copy " + i + " was truncated: its final observation's value is needed");
        }
        truncatedValues[row + i] = stepTruncatedValues[i];
      }
    }
    steps++;
    computed = false;
  }

  private static void check(String what, float[] a, int n) {
    if (a == null || a.length != n) {
      throw new IllegalArgumentException(what + " need " + n + " values, got " + (a == null ? "null" : a.length));
    }
  }

  /** Whether all {@code nSteps} steps are in. */
  public boolean full() {
    return steps == nSteps;
  }

  /** Rows held ({@code steps * numEnvs}). */
  public int size() {
    return steps * numEnvs;
  }

  /**
   * Generalized advantage estimation over the rollout (see the class comment).
   *
   * @param lastValues {@code V} of each copy's observation after the last step
   */
  public void computeAdvantages(float[] lastValues, double gamma, double lambda) {
    check("last values", lastValues, numEnvs);
    for (int i = 0; i < numEnvs; i++) {
      double next = 0; // A_{t+1}
      for (int t = steps - 1; t >= 0; t--) {
        int row = t * numEnvs + i;
        double nextValue;
        boolean chain;
        if (terminated[row]) {
          nextValue = 0;
          chain = false;
        } else if (truncated[row]) {
          nextValue = truncatedValues[row];
          chain = false;
        } else {
          nextValue = t == steps - 1 ? lastValues[i] : values[row + numEnvs];
          chain = t < steps - 1;
        }
        double delta = rewards[row] + gamma * nextValue - values[row];
        double a = delta + (chain ? gamma * lambda * next : 0);
        advantages[row] = (float) a;
        returns[row] = (float) (a + values[row]);
        next = a;
      }
    }
    computed = true;
  }

  /** Empties the buffer for the next rollout. */
  public void reset() {
    steps = 0;
    computed = false;
  }

  /** The advantages of the rows held (after {@link #computeAdvantages}). */
  public float[] advantages() {
    requireComputed();
    return Arrays.copyOf(advantages, size());
  }

  /** The value targets {@code A + V} of the rows held (after {@link #computeAdvantages}). */
  public float[] returns() {
    requireComputed();
    return Arrays.copyOf(returns, size());
  }

  private void requireComputed() {
    if (!computed) {
      throw new IllegalStateException("call computeAdvantages after the last add");
    }
  }

  /** One minibatch of rows. */
  public record Batch(int size, float[] observations, float[] actions, float[] oldLogProbs, float[] oldValues,
      float[] advantages, float[] returns) {}

  /** The rows {@code indices} (after {@link #computeAdvantages}). */
  public Batch gather(int[] indices) {
    requireComputed();
    int n = indices.length;
    float[] o = new float[n * obsDim];
    float[] a = new float[n * actionWidth];
    float[] lp = new float[n];
    float[] v = new float[n];
    float[] adv = new float[n];
    float[] ret = new float[n];
    for (int k = 0; k < n; k++) {
      int row = indices[k];
      if (row < 0 || row >= size()) {
        throw new IndexOutOfBoundsException("row " + row + " of a rollout of " + size());
      }
      System.arraycopy(observations, row * obsDim, o, k * obsDim, obsDim);
      System.arraycopy(actions, row * actionWidth, a, k * actionWidth, actionWidth);
      lp[k] = logProbs[row];
      v[k] = values[row];
      adv[k] = advantages[row];
      ret[k] = returns[row];
    }
    return new Batch(n, o, a, lp, v, adv, ret);
  }
}
