package org.rql4j.prior;

import java.util.Locale;

/** What a prior's module outputs (docs/prior-package.md). */
public enum Distribution {
  /** Log-probabilities of every action of a Discrete space, {@code [B, n]}. */
  CATEGORICAL,
  /** {@code (mean, logStd)} of a Gaussian over the env's Box action (PPO/A2C). */
  DIAG_GAUSSIAN,
  /** {@code (mean, logStd)} of a Gaussian over the pre-tanh action; action = tanh(u) (SAC). */
  SQUASHED_GAUSSIAN;

  /** The sidecar's name for this distribution. */
  public String sidecarName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses a sidecar name; null when unknown. */
  static Distribution fromSidecar(String name) {
    for (Distribution d : values()) {
      if (d.sidecarName().equals(name)) {
        return d;
      }
    }
    return null;
  }

  /** Whether the action space is continuous (Box). */
  public boolean isGaussian() {
    return this != CATEGORICAL;
  }
}
