package org.rql4j.learner;

import java.util.Random;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.env.Space;
import org.rql4j.env.Value;
import org.rql4j.prior.PriorPolicy;

/**
 * What the shared off-policy training loop ({@code org.rql4j.train.OffPolicyTraining}) needs of a
 * learner: how it acts, what it stores of the prior per state, how it trains on the replay buffer,
 * and its state for checkpoints. Implemented by {@link ResidualSoftQLearning} (Algorithm 1) and
 * {@link ResidualSac} (Algorithm 2).
 */
public interface OffPolicyLearner extends LearnerState, AutoCloseable {

  /**
   * The collection and training schedule, in env steps (over all envs).
   *
   * @param trainFrequency run {@code gradientSteps} updates whenever the step count crosses a
   *     multiple of it, after {@code learningStarts}
   */
  record Schedule(long seed, long totalSteps, int numEnvs, int bufferSize, int batchSize, int learningStarts,
      int trainFrequency, int gradientSteps) {}

  /**
   * Actions for n envs.
   *
   * @param stored what the replay buffer keeps, {@code [n, actionWidth]}
   * @param env what the env is stepped with
   */
  record Actions(float[] stored, Value env) {}

  /**
   * Lets a KL budget set the temperature from now on ({@link KlBudget}); null turns it off. Learners
   * without one refuse a budget.
   *
   * @throws IllegalArgumentException for a learner that cannot follow a budget (e.g. without the prior)
   */
  default void setKlBudget(KlBudget budget) {
    if (budget != null) {
      throw new IllegalArgumentException(kind() + " has no KL budget: set its prior weight and temperature instead");
    }
  }

  /** The KL budget in force, or null. */
  default KlBudget klBudget() {
    return null;
  }

  /** Under a KL budget, the temperature the dual steps have set; NaN otherwise. */
  default double budgetTemperature() {
    return Double.NaN;
  }

  /** Under a KL budget, the measured KL to the prior as reports show it (its mean over about the last 1000 gradient steps, {@link KlBudget.Dual#klReported}); NaN otherwise. */
  default double budgetKl() {
    return Double.NaN;
  }

  /**
   * Under a KL budget, for Discrete actions: the share of states (the replay buffer's, as for the KL) whose
   * most likely action under the customized policy is not the prior's, averaged as the reported KL is;
   * NaN otherwise. The budget bounds the stochastic policy; this says how much of it reaches the
   * deterministic one, which picks the most likely action.
   */
  default double budgetGreedyMoved() {
    return Double.NaN;
  }

  /** The learner's name in checkpoints and logs, e.g. {@code residual-soft-q}. */
  String kind();

  /** The settings (a record; its JSON is checked when a checkpoint is resumed). */
  LearnerConfig config();

  default Schedule schedule() {
    return config().schedule();
  }

  /** Whether the prior takes part (priorWeight is not 0). */
  default boolean usesPrior() {
    return config().priorWeight() != 0;
  }

  /**
   * The learner's policy (sharing its networks: valid while the learner is open), which saves
   * itself to a folder that {@link Policies#load} reads back without the learner.
   *
   * @param prior the frozen prior (ignored when the learner does not use one)
   * @param actionSpace the env's action space
   * @param seed the seed of the policy's own sampling (stochastic actions)
   */
  org.rql4j.policy.SavablePolicy policy(org.rql4j.prior.PriorPolicy prior, Space actionSpace, long seed);

  /** Refuses an env whose spaces this learner was not built for (IllegalArgumentException naming both). */
  void checkSpaces(String envId, Space observationSpace, Space actionSpace);

  /** Refuses a prior of a kind this learner cannot use (PriorException naming it and what to use). */
  void checkPrior(org.rql4j.prior.PriorSpec spec);

  /**
   * Refuses an env whose observations are not read as they come ({@link org.rql4j.env.SupportedSpaces}) or
   * whose flat observation width is not {@code width} (IllegalArgumentException naming both).
   */
  static void checkObservationWidth(String envId, Space observationSpace, int width) {
    org.rql4j.env.SupportedSpaces.checkObservation(envId, observationSpace);
    if (observationSpace.flatDim() != width) {
      throw new IllegalArgumentException("env " + envId + " observes " + observationSpace + " (width "
          + observationSpace.flatDim() + ") but the learner reads " + width + " values");
    }
  }

  /** Floats per stored action. */
  int actionWidth();

  /** Floats the prior contributes per state (0 without a prior). */
  int priorWidth();

  /** What the buffer stores of the prior for {@code n} flat observations: {@code [n, priorWidth]}. */
  float[] priorFeatures(PriorPolicy prior, float[] observations, int n);

  /**
   * Exploration actions for a batch of observations at env step {@code step}.
   *
   * @param priorFeatures this batch's prior features (null without a prior)
   */
  Actions act(float[] observations, float[] priorFeatures, long step, Random rng);

  /** Called after each vector step that took the step count from {@code before} to {@code after}. */
  default void afterEnvSteps(long before, long after) {}

  /** Runs {@code gradientSteps} updates on batches from {@code buffer}; returns the last loss. */
  double train(ReplayBuffer buffer, long step, Random rng);

  /** The exploration setting's name and value at {@code step} for progress lines (e.g. epsilon, alpha). */
  String explorationName();

  double exploration(long step);

  /** Optimizer steps taken (all optimizers of the learner; in checkpoint summaries). */
  @Override
  long optimizerSteps();

  @Override
  void close();
}
