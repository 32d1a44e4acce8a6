package org.rql4j.env;

import java.util.Map;

/**
 * One Gymnasium environment with the single-env API: {@link #reset(Long)} then {@link #step}
 * until {@code terminated || truncated}, then reset again (no automatic reset).
 */
public interface Env extends AutoCloseable {

  /** Observation space. */
  Space observationSpace();

  /** Action space. */
  Space actionSpace();

  /** Starts an episode; a null seed leaves the env's random state as it is. */
  Reset reset(Long seed);

  /** Starts an episode without reseeding. */
  default Reset reset() {
    return reset(null);
  }

  /** Takes one action. */
  Step step(Value action);

  /** Takes one Discrete action. */
  default Step step(long action) {
    return step(Tensor.scalar(action));
  }

  /** Takes one Box action (FLOAT32 of the given values, 1-d). */
  default Step step(float... action) {
    return step(Tensor.ofFloats(action));
  }

  /** Releases the environment (idempotent). */
  @Override
  void close();

  /** First observation of an episode and the reset's numeric info. */
  record Reset(Value observation, Map<String, Double> info) {}

  /** Gymnasium's 5-tuple; only {@code terminated} stops bootstrapping. */
  record Step(
      Value observation, double reward, boolean terminated, boolean truncated,
      Map<String, Double> info) {

    /** Whether the episode is over (either flag). */
    public boolean done() {
      return terminated || truncated;
    }
  }

  /**
   * Adapts a one-copy {@link VectorEnv} in {@link AutoresetMode#DISABLED} mode to the single-env
   * API (its spaces are the vector env's single-copy spaces).
   */
  static Env single(VectorEnv vectorEnv) {
    return new SingleEnv(vectorEnv);
  }
}
