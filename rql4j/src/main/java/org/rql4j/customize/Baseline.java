package org.rql4j.customize;

import java.util.Arrays;
import java.util.Locale;

/** What a run trains: the customization itself, or one of the baselines a results table compares it with. */
public enum Baseline {
  /** Residual learning on the add-on reward with the prior (the customization). */
  RESIDUAL,
  /** The same learner without the prior on the total reward (basic + add-on): what knowing the basic reward buys. */
  ORACLE,
  /** The same learner without the prior on the add-on reward alone: what the prior's behaviour is worth. */
  ADDON_ONLY,
  /**
   * PPO only: KL-regularized PPO on the add-on reward with the prior, the reward
   * {@code r_R - beta KL(pi_theta || pi)} (prior weight = alphaHat = beta); the residual-policy-gradient
   * tables' third comparison (docs/tasks.md).
   */
  KL;

  /** The name in tables, run folders and the CLI: {@code residual}, {@code oracle}, {@code addon-only}, {@code kl}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Whether the run learns with the prior (the customization and the KL-regularized baseline). */
  public boolean usesPrior() {
    return this == RESIDUAL || this == KL;
  }

  /** The baseline of a label; an IllegalArgumentException listing the labels otherwise. */
  public static Baseline of(String label) {
    for (Baseline b : values()) {
      if (b.label().equals(label)) {
        return b;
      }
    }
    throw new IllegalArgumentException("unknown baseline '" + label + "'; choose one of "
        + Arrays.stream(values()).map(Baseline::label).toList());
  }
}
