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

  /** Number of actions (categorical) or action dimensions (Gaussians). */
  public int actionDim() {
    return (int) (actionSpace instanceof Space.Discrete d ? d.n() : actionSpace.flatDim());
  }
}
