package org.rql4j.learner;

import org.rql4j.env.Space;

/**
 * What the CLI and the results tables need of a learner's settings, whatever the learner:
 * {@link ResidualSoftQConfig} (Discrete actions) or {@link ResidualSacConfig} (Box actions).
 */
public interface LearnerConfig {

  long totalSteps();

  int numEnvs();

  long seed();

  float priorWeight();

  LearnerConfig withTotalSteps(long v);

  LearnerConfig withSeed(long v);

  LearnerConfig withPriorWeight(float v);

  /** The RL algorithm the baselines run with priorWeight 0 (table labels): "soft DQN", "SAC". */
  String algorithm();

  /** A new learner for an env of these spaces. */
  OffPolicyLearner newLearner(Space observationSpace, Space actionSpace);
}
