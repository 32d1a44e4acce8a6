package org.rql4j.env;

/**
 * What a {@link VectorEnv} does with a copy whose episode ended (Gymnasium's
 * {@code gymnasium.vector.AutoresetMode}; the contract in {@code proto/rql4j/v1/env.proto}).
 */
public enum AutoresetMode {
  /**
   * The copy resets inside the same step: the returned observation starts the new episode, the
   * ended episode's last observation is in {@link VectorStep#finalObservations()}, and reward,
   * flags and info describe the ended step. What off-policy learners want; the default.
   */
  SAME_STEP,
  /**
   * Gymnasium's default: the ending step returns the last observation; the next step ignores that
   * copy's action and returns the new first observation with reward 0 and both flags false.
   */
  NEXT_STEP,
  /** No automatic reset: reset ended copies with {@link VectorEnv#reset(ResetRequest)} and a mask. */
  DISABLED
}
