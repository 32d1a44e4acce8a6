package org.rql4j.prior;

import java.nio.file.Path;
import org.rql4j.env.Space;

/**
 * What a prior package declares (its {@code prior.json}, validated).
 *
 * @param name label for logs and results
 * @param distribution what the module outputs
 * @param observationSpace the env's observation space (before flattening)
 * @param actionSpace Discrete for categorical priors, Box for Gaussian ones
 * @param obsDim the module's input width (flattened observation)
 * @param flatten {@code none} or {@code gymnasium}
 * @param actionLow Box action lower bounds (Gaussians), else null
 * @param actionHigh Box action upper bounds (Gaussians), else null
 * @param temperature categorical-from-Q temperature, or NaN when not given
 * @param sourceSha256 sha256 of the exported checkpoint (provenance)
 * @param packageDir the package folder (null for remote priors loaded elsewhere)
 * @param sidecarJson the sidecar as read
 */
public record PriorSpec(
    String name,
    Distribution distribution,
    Space observationSpace,
    Space actionSpace,
    int obsDim,
    String flatten,
    double[] actionLow,
    double[] actionHigh,
    double temperature,
    String sourceSha256,
    Path packageDir,
    String sidecarJson) {

  /**
   * Refuses a prior whose spaces do not match an env's: the same action space (Box bounds may
   * differ only where the prior's action scaling maps onto the env's bounds) and an observation
   * space that flattens to the prior's input width.
   *
   * @throws PriorException naming the prior, both spaces and what to do
   */
  public void checkCompatible(String envId, Space envObservationSpace, Space envActionSpace) {
    String where = label();
    boolean actionsMatch = actionSpace instanceof Space.Box pb && envActionSpace instanceof Space.Box eb
        ? java.util.Arrays.equals(pb.shape(), eb.shape())
        : actionSpace.equals(envActionSpace);
    if (!actionsMatch) {
      throw new PriorException(where + " acts in " + actionSpace + " but env " + envId + " expects " + envActionSpace
          + ": customize a prior trained on this env (or export it with the env's action space)");
    }
    if (envObservationSpace.flatDim() != obsDim) {
      throw new PriorException(where + " reads observations of width " + obsDim + " (" + observationSpace
          + ") but env " + envId + " observes " + envObservationSpace + " (width " + envObservationSpace.flatDim()
          + "): the prior was trained on another observation space");
    }
  }

  /** How error messages name the prior: {@code prior 'name' (its package folder)}. */
  public String label() {
    return "prior '" + name + "'" + (packageDir == null ? "" : " (" + packageDir + ")");
  }

  /** Number of actions (categorical) or action dimensions (Gaussians). */
  public int actionDim() {
    return (int) (actionSpace instanceof Space.Discrete d ? d.n() : actionSpace.flatDim());
  }
}
