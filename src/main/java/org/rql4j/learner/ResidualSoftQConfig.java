package org.rql4j.learner;

import java.util.Arrays;

/**
 * Settings of {@link ResidualSoftQLearning} (Algorithm 1 of docs/method.md). Defaults are the RQL
 * reference code's CartPole values (docs/tasks.md).
 *
 * @param totalSteps env steps to collect (over all copies)
 * @param learningRate Adam learning rate (PyTorch formula)
 * @param batchSize transitions per gradient step
 * @param bufferSize replay buffer capacity
 * @param gamma discount
 * @param trainFrequency env steps between training bursts
 * @param gradientSteps gradient steps per burst
 * @param learningStarts env steps collected before the first burst
 * @param targetUpdateInterval env steps between hard target copies (counted while collecting)
 * @param explorationFraction share of the run over which epsilon decays linearly
 * @param explorationInitialEps epsilon at the start
 * @param explorationFinalEps epsilon after the decay
 * @param maxGradNorm global gradient-norm clip
 * @param alphaHat temperature of the customized policy
 * @param priorWeight {@code w = omega * alpha}: weight of the prior's log-probability (0: plain soft DQN)
 * @param hidden hidden layer widths of the residual Q network
 * @param numEnvs env copies stepped together
 * @param seed seed of network initialization, sampling and env resets
 */
public record ResidualSoftQConfig(
    long totalSteps,
    float learningRate,
    int batchSize,
    int bufferSize,
    float gamma,
    int trainFrequency,
    int gradientSteps,
    int learningStarts,
    int targetUpdateInterval,
    float explorationFraction,
    float explorationInitialEps,
    float explorationFinalEps,
    float maxGradNorm,
    float alphaHat,
    float priorWeight,
    int[] hidden,
    int numEnvs,
    long seed) implements LearnerConfig {

  public ResidualSoftQConfig {
    hidden = hidden.clone();
    require(totalSteps > 0, "totalSteps", totalSteps);
    require(learningRate > 0, "learningRate", learningRate);
    require(batchSize > 0, "batchSize", batchSize);
    require(bufferSize >= batchSize, "bufferSize (>= batchSize)", bufferSize);
    require(gamma >= 0 && gamma <= 1, "gamma (in [0, 1])", gamma);
    require(trainFrequency > 0, "trainFrequency", trainFrequency);
    require(gradientSteps >= 0, "gradientSteps", gradientSteps);
    require(targetUpdateInterval > 0, "targetUpdateInterval", targetUpdateInterval);
    require(alphaHat > 0, "alphaHat", alphaHat);
    require(priorWeight >= 0, "priorWeight", priorWeight);
    require(numEnvs > 0, "numEnvs", numEnvs);
    require(explorationFraction >= 0 && explorationFraction <= 1, "explorationFraction (in [0, 1])", explorationFraction);
  }

  private static void require(boolean ok, String name, Object value) {
    if (!ok) {
      throw new IllegalArgumentException("ResidualSoftQConfig." + name + " is out of range: " + value);
    }
  }

  /** The RQL reference values for CartPole (docs/tasks.md). */
  public static ResidualSoftQConfig cartpole() {
    return new ResidualSoftQConfig(100_000, 2.3e-3f, 64, 100_000, 0.99f, 256, 128, 1000, 10, 0.16f, 1.0f, 0.04f,
        10f, 1f, 1f, new int[] {256, 256}, 1, 0);
  }

  /** The RQL reference values for highway (docs/tasks.md). */
  public static ResidualSoftQConfig highway() {
    return new ResidualSoftQConfig(500_000, 1e-4f, 32, 15_000, 0.8f, 1, 1, 200, 50, 0.7f, 1.0f, 0.05f,
        10f, 1f, 1f, new int[] {256, 256}, 1, 0);
  }

  @Override
  public String algorithm() {
    return "soft DQN";
  }

  @Override
  public OffPolicyLearner newLearner(org.rql4j.env.Space observationSpace, org.rql4j.env.Space actionSpace) {
    if (!(actionSpace instanceof org.rql4j.env.Space.Discrete d)) {
      throw new IllegalArgumentException("residual soft Q-learning needs a Discrete action space, got " + actionSpace
          + " (use residual SAC for Box actions)");
    }
    return new ResidualSoftQLearning(this, (int) observationSpace.flatDim(), (int) d.n());
  }

  @Override
  public int[] hidden() {
    return hidden.clone();
  }

  /** Epsilon after {@code step} env steps: linear from initial to final over the exploration fraction. */
  public double epsilon(long step) {
    double end = explorationFraction * totalSteps;
    if (end <= 0 || step >= end) {
      return explorationFinalEps;
    }
    return explorationInitialEps + (explorationFinalEps - explorationInitialEps) * (step / end);
  }

  @Override
  public ResidualSoftQConfig withTotalSteps(long v) {
    return new ResidualSoftQConfig(v, learningRate, batchSize, bufferSize, gamma, trainFrequency, gradientSteps,
        learningStarts, targetUpdateInterval, explorationFraction, explorationInitialEps, explorationFinalEps,
        maxGradNorm, alphaHat, priorWeight, hidden, numEnvs, seed);
  }

  @Override
  public ResidualSoftQConfig withPriorWeight(float v) {
    return new ResidualSoftQConfig(totalSteps, learningRate, batchSize, bufferSize, gamma, trainFrequency,
        gradientSteps, learningStarts, targetUpdateInterval, explorationFraction, explorationInitialEps,
        explorationFinalEps, maxGradNorm, alphaHat, v, hidden, numEnvs, seed);
  }

  public ResidualSoftQConfig withAlphaHat(float v) {
    return new ResidualSoftQConfig(totalSteps, learningRate, batchSize, bufferSize, gamma, trainFrequency,
        gradientSteps, learningStarts, targetUpdateInterval, explorationFraction, explorationInitialEps,
        explorationFinalEps, maxGradNorm, v, priorWeight, hidden, numEnvs, seed);
  }

  @Override
  public ResidualSoftQConfig withSeed(long v) {
    return new ResidualSoftQConfig(totalSteps, learningRate, batchSize, bufferSize, gamma, trainFrequency,
        gradientSteps, learningStarts, targetUpdateInterval, explorationFraction, explorationInitialEps,
        explorationFinalEps, maxGradNorm, alphaHat, priorWeight, hidden, numEnvs, v);
  }

  public ResidualSoftQConfig withNumEnvs(int v) {
    return new ResidualSoftQConfig(totalSteps, learningRate, batchSize, bufferSize, gamma, trainFrequency,
        gradientSteps, learningStarts, targetUpdateInterval, explorationFraction, explorationInitialEps,
        explorationFinalEps, maxGradNorm, alphaHat, priorWeight, hidden, v, seed);
  }

  @Override
  public String toString() {
    return "ResidualSoftQConfig[totalSteps=" + totalSteps + ", learningRate=" + learningRate + ", batchSize="
        + batchSize + ", bufferSize=" + bufferSize + ", gamma=" + gamma + ", trainFrequency=" + trainFrequency
        + ", gradientSteps=" + gradientSteps + ", learningStarts=" + learningStarts + ", targetUpdateInterval="
        + targetUpdateInterval + ", exploration=" + explorationInitialEps + "->" + explorationFinalEps + " over "
        + explorationFraction + ", maxGradNorm=" + maxGradNorm + ", alphaHat=" + alphaHat + ", priorWeight="
        + priorWeight + ", hidden=" + Arrays.toString(hidden) + ", numEnvs=" + numEnvs + ", seed=" + seed + "]";
  }
}
