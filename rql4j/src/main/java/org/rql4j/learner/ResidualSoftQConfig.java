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

  /** {@value ResidualSoftQLearning#KIND}. */
  @Override
  public String learnerKind() {
    return ResidualSoftQLearning.KIND;
  }

  @Override
  public OffPolicyLearner newLearner(org.rql4j.env.Space observationSpace, org.rql4j.env.Space actionSpace) {
    if (!(actionSpace instanceof org.rql4j.env.Space.Discrete d)) {
      throw new IllegalArgumentException("residual soft Q-learning needs a Discrete action space, got " + actionSpace
          + " (use residual SAC for Box actions)");
    }
    org.rql4j.env.SupportedSpaces.checkObservation(null, observationSpace);
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

  /** A builder starting from these settings: set any field with {@code optX}, then {@link Builder#build()} (which checks them). */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** A builder starting from {@link #cartpole()}'s settings. */
  public static Builder builder() {
    return cartpole().toBuilder();
  }

  /** {@link ResidualSoftQConfig} field by field (DJL style: {@code optX}); {@link #build()} checks the values. */
  public static final class Builder {
    private long totalSteps;
    private float learningRate;
    private int batchSize;
    private int bufferSize;
    private float gamma;
    private int trainFrequency;
    private int gradientSteps;
    private int learningStarts;
    private int targetUpdateInterval;
    private float explorationFraction;
    private float explorationInitialEps;
    private float explorationFinalEps;
    private float maxGradNorm;
    private float alphaHat;
    private float priorWeight;
    private int[] hidden;
    private int numEnvs;
    private long seed;

    private Builder(ResidualSoftQConfig c) {
      this.totalSteps = c.totalSteps;
      this.learningRate = c.learningRate;
      this.batchSize = c.batchSize;
      this.bufferSize = c.bufferSize;
      this.gamma = c.gamma;
      this.trainFrequency = c.trainFrequency;
      this.gradientSteps = c.gradientSteps;
      this.learningStarts = c.learningStarts;
      this.targetUpdateInterval = c.targetUpdateInterval;
      this.explorationFraction = c.explorationFraction;
      this.explorationInitialEps = c.explorationInitialEps;
      this.explorationFinalEps = c.explorationFinalEps;
      this.maxGradNorm = c.maxGradNorm;
      this.alphaHat = c.alphaHat;
      this.priorWeight = c.priorWeight;
      this.hidden = c.hidden.clone();
      this.numEnvs = c.numEnvs;
      this.seed = c.seed;
    }

    /** Sets {@link ResidualSoftQConfig#totalSteps()}. */
    public Builder optTotalSteps(long v) {
      this.totalSteps = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#learningRate()}. */
    public Builder optLearningRate(float v) {
      this.learningRate = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#batchSize()}. */
    public Builder optBatchSize(int v) {
      this.batchSize = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#bufferSize()}. */
    public Builder optBufferSize(int v) {
      this.bufferSize = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#gamma()}. */
    public Builder optGamma(float v) {
      this.gamma = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#trainFrequency()}. */
    public Builder optTrainFrequency(int v) {
      this.trainFrequency = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#gradientSteps()}. */
    public Builder optGradientSteps(int v) {
      this.gradientSteps = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#learningStarts()}. */
    public Builder optLearningStarts(int v) {
      this.learningStarts = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#targetUpdateInterval()}. */
    public Builder optTargetUpdateInterval(int v) {
      this.targetUpdateInterval = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#explorationFraction()}. */
    public Builder optExplorationFraction(float v) {
      this.explorationFraction = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#explorationInitialEps()}. */
    public Builder optExplorationInitialEps(float v) {
      this.explorationInitialEps = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#explorationFinalEps()}. */
    public Builder optExplorationFinalEps(float v) {
      this.explorationFinalEps = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#maxGradNorm()}. */
    public Builder optMaxGradNorm(float v) {
      this.maxGradNorm = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#alphaHat()}. */
    public Builder optAlphaHat(float v) {
      this.alphaHat = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#priorWeight()}. */
    public Builder optPriorWeight(float v) {
      this.priorWeight = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#hidden()}. */
    public Builder optHidden(int[] v) {
      this.hidden = v == null ? null : v.clone();
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#numEnvs()}. */
    public Builder optNumEnvs(int v) {
      this.numEnvs = v;
      return this;
    }

    /** Sets {@link ResidualSoftQConfig#seed()}. */
    public Builder optSeed(long v) {
      this.seed = v;
      return this;
    }

    /** The settings; an IllegalArgumentException naming a field out of range. */
    public ResidualSoftQConfig build() {
      return new ResidualSoftQConfig(totalSteps, learningRate, batchSize, bufferSize, gamma, trainFrequency, gradientSteps, learningStarts, targetUpdateInterval, explorationFraction, explorationInitialEps, explorationFinalEps, maxGradNorm, alphaHat, priorWeight, hidden, numEnvs, seed);
    }
  }
}
