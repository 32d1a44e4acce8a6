package org.rql4j.bridge;

/** The reward an env made with an add-on reward returns (the basic part is the env's own reward). */
public enum RewardVariant {
  /** The basic part only. */
  BASIC,
  /** The add-on part only: what a residual learner trains on. */
  ADDON,
  /** basic + add-on: the oracle's reward, and the one results are evaluated on. */
  TOTAL
}
