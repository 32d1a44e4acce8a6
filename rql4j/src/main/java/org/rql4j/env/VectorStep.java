package org.rql4j.env;

import java.util.Map;

/**
 * The result of stepping a {@link VectorEnv}: batched over copies, Gymnasium's 5-tuple with
 * {@code terminated} and {@code truncated} kept apart (only {@code terminated} stops bootstrapping).
 *
 * @param observations batched observation [numEnvs, ...]; see {@link AutoresetMode} for ended copies
 * @param rewards one reward per copy
 * @param terminated copy reached a terminal state
 * @param truncated copy was cut off (time limit), not a terminal state
 * @param info numeric info entries per key (e.g. {@code basic_reward}, {@code addon_reward})
 * @param finalObservations SAME_STEP mode: the ended episodes' last observations (zero rows for
 *     copies that did not end); null when no copy ended or in other modes
 */
public record VectorStep(
    Value observations,
    double[] rewards,
    boolean[] terminated,
    boolean[] truncated,
    Map<String, InfoColumn> info,
    Value finalObservations) {

  /** Whether copy {@code i}'s episode ended this step. */
  public boolean done(int i) {
    return terminated[i] || truncated[i];
  }

  /**
   * The observation that follows copy i's action: the final observation if its episode ended in
   * SAME_STEP mode, the step's observation otherwise.
   */
  public Value nextObservation(int i) {
    return finalObservations != null && done(i) ? finalObservations.row(i) : observations.row(i);
  }
}
