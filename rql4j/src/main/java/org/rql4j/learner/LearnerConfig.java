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

  int bufferSize();

  int batchSize();

  int learningStarts();

  int trainFrequency();

  int gradientSteps();

  /** The collection and training schedule these settings give the shared loop. */
  default OffPolicyLearner.Schedule schedule() {
    return new OffPolicyLearner.Schedule(seed(), totalSteps(), numEnvs(), bufferSize(), batchSize(), learningStarts(),
        trainFrequency(), gradientSteps());
  }

  LearnerConfig withTotalSteps(long v);

  LearnerConfig withSeed(long v);

  LearnerConfig withPriorWeight(float v);

  /** The RL algorithm the baselines run with priorWeight 0 (table labels): "soft DQN", "SAC". */
  String algorithm();

  /**
   * The {@link OffPolicyLearner#kind()} of the learners these settings make (what a training
   * checkpoint records), known without making one: {@value ResidualSoftQLearning#KIND} or
   * {@value ResidualSac#KIND}.
   */
  String learnerKind();

  /** A new learner for an env of these spaces. */
  OffPolicyLearner newLearner(Space observationSpace, Space actionSpace);
}
