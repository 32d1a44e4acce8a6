package org.rql4j.learner;

import java.util.Arrays;

/**
 * Settings of {@link ResidualSac} (Algorithm 2 of docs/method.md). Factories hold the RQL
 * reference values of docs/tasks.md.
 *
 * @param totalSteps env steps to collect (over all copies)
 * @param learningRate Adam learning rate of the actor, the critics and the temperature
 * @param batchSize transitions per gradient step
 * @param bufferSize replay buffer capacity
 * @param gamma discount
 * @param tau Polyak coefficient of the target critics (after every gradient step)
 * @param trainFrequency env steps between training bursts
 * @param gradientSteps gradient steps per burst
 * @param learningStarts env steps of uniform random actions before the first burst
 * @param alphaHat the customized policy's temperature (the initial value when it is learned)
 * @param learnAlpha learn {@code log alphaHat} as SAC does, towards {@code targetEntropy}
 * @param targetEntropy the learned temperature's target entropy; null: {@code -dim(A)}
 * @param priorWeight {@code w}: weight of the prior's log-probability (0: plain SAC, the baselines)
 * @param warmStartMultiplier {@code w} is multiplied by this for the first {@code warmStartSteps}
 * @param warmStartSteps env steps of the warm start (0: none)
 * @param maxGradNorm global gradient-norm clip of the critics' and of the actor's gradients, each
 *     as {@code torch.nn.utils.clip_grad_norm_} (0: none, the reference)
 * @param priorMinStd floor on the prior's pre-tanh std where its log-prob is evaluated (0: none,
 *     the exact prior, the reference). A prior that is sure (std 0.07 on some parking states)
 *     makes {@code w log pi} fall quadratically with the actor's distance in std units, hundreds
 *     of nats below zero for actions the env can hardly tell apart near the tanh's saturation;
 *     the floor bounds that curvature and leaves the prior's mean, and every state where its std
 *     is above the floor, unchanged
 * @param hidden hidden layer widths of the actor and of each critic
 * @param numEnvs env copies stepped together
 * @param seed seed of network initialization, sampling and env resets
 */
public record ResidualSacConfig(
    long totalSteps,
    float learningRate,
    int batchSize,
    int bufferSize,
    float gamma,
    float tau,
    int trainFrequency,
    int gradientSteps,
    int learningStarts,
    float alphaHat,
    boolean learnAlpha,
    Float targetEntropy,
    float priorWeight,
    float warmStartMultiplier,
    long warmStartSteps,
    float maxGradNorm,
    float priorMinStd,
    int[] hidden,
    int numEnvs,
    long seed) implements LearnerConfig {

  /** The actor's log-std is clamped to [LOG_STD_MIN, LOG_STD_MAX] (as SB3's SAC). */
  public static final float LOG_STD_MIN = -20f;
  public static final float LOG_STD_MAX = 2f;

  public ResidualSacConfig {
    hidden = hidden.clone();
    require(totalSteps > 0, "totalSteps", totalSteps);
    require(learningRate > 0, "learningRate", learningRate);
    require(batchSize > 0, "batchSize", batchSize);
    require(bufferSize >= batchSize, "bufferSize (>= batchSize)", bufferSize);
    require(gamma >= 0 && gamma <= 1, "gamma (in [0, 1])", gamma);
    require(tau > 0 && tau <= 1, "tau (in (0, 1])", tau);
    require(trainFrequency > 0, "trainFrequency", trainFrequency);
    require(gradientSteps >= 0, "gradientSteps", gradientSteps);
    require(learningStarts >= 0, "learningStarts", learningStarts);
    require(alphaHat > 0, "alphaHat", alphaHat);
    require(priorWeight >= 0, "priorWeight", priorWeight);
    require(warmStartMultiplier > 0, "warmStartMultiplier", warmStartMultiplier);
    require(warmStartSteps >= 0, "warmStartSteps", warmStartSteps);
    require(maxGradNorm >= 0 && Float.isFinite(maxGradNorm), "maxGradNorm (>= 0, 0: none)", maxGradNorm);
    require(priorMinStd >= 0 && Float.isFinite(priorMinStd), "priorMinStd (>= 0, 0: none)", priorMinStd);
    require(numEnvs > 0, "numEnvs", numEnvs);
    require(hidden.length > 0 && Arrays.stream(hidden).allMatch(h -> h > 0), "hidden", Arrays.toString(hidden));
  }

  private static void require(boolean ok, String name, Object value) {
    if (!ok) {
      throw new IllegalArgumentException("ResidualSacConfig." + name + " is out of range: " + value);
    }
  }

  /**
   * tasks.md's MountainCar SAC: lr 3e-4, batch 512, buffer 5e4, gamma 0.9999, tau 0.01, train
   * every 32 steps for 32 gradient steps, learning starts 0, fixed alphaHat 0.1, prior weight 0.1,
   * [64, 64]. No gSDE: exploration samples the actor's own Gaussian.
   */
  public static ResidualSacConfig mountaincar() {
    return new ResidualSacConfig(100_000, 3e-4f, 512, 50_000, 0.9999f, 0.01f, 32, 32, 0, 0.1f, false, null,
        0.1f, 1f, 0, 0f, 0f, new int[] {64, 64}, 1, 0);
  }

  /**
   * tasks.md's parking SAC: lr 1e-3, batch 256, buffer 1e6, gamma 0.95, tau 0.005, train every
   * step, learning starts 100, learned alphaHat (from 1), prior weight = the prior's own entropy
   * coefficient (0.01: the shipped {@code parking-boundary-sac}'s final one, {@code made_by.final_ent_coef};
   * the paper's prior had 0.0097) x10 for the first 1e5 steps, 4 envs, [256, 256, 256].
   */
  public static ResidualSacConfig parking() {
    return new ResidualSacConfig(800_000, 1e-3f, 256, 1_000_000, 0.95f, 0.005f, 1, 1, 100, 1f, true, null,
        0.01f, 10f, 100_000, 0f, 0f, new int[] {256, 256, 256}, 4, 0);
  }

  @Override
  public String algorithm() {
    return "SAC";
  }

  /** {@value ResidualSac#KIND}. */
  @Override
  public String learnerKind() {
    return ResidualSac.KIND;
  }

  @Override
  public OffPolicyLearner newLearner(org.rql4j.env.Space observationSpace, org.rql4j.env.Space actionSpace) {
    org.rql4j.env.SupportedSpaces.checkObservation(null, observationSpace);
    return new ResidualSac(this, (int) observationSpace.flatDim(), actionSpace);
  }

  @Override
  public int[] hidden() {
    return hidden.clone();
  }

  /** The prior weight in force at env step {@code step} (the warm start's multiple early on). */
  public double priorWeightAt(long step) {
    return step < warmStartSteps ? priorWeight * warmStartMultiplier : priorWeight;
  }

  /** The target entropy for an action space of {@code actionDim} dimensions. */
  public double targetEntropy(int actionDim) {
    return targetEntropy == null ? -actionDim : targetEntropy;
  }

  @Override
  public ResidualSacConfig withTotalSteps(long v) {
    return new ResidualSacConfig(v, learningRate, batchSize, bufferSize, gamma, tau, trainFrequency, gradientSteps,
        learningStarts, alphaHat, learnAlpha, targetEntropy, priorWeight, warmStartMultiplier, warmStartSteps,
        maxGradNorm, priorMinStd, hidden, numEnvs, seed);
  }

  @Override
  public ResidualSacConfig withSeed(long v) {
    return new ResidualSacConfig(totalSteps, learningRate, batchSize, bufferSize, gamma, tau, trainFrequency,
        gradientSteps, learningStarts, alphaHat, learnAlpha, targetEntropy, priorWeight, warmStartMultiplier,
        warmStartSteps, maxGradNorm, priorMinStd, hidden, numEnvs, v);
  }

  @Override
  public ResidualSacConfig withPriorWeight(float v) {
    return new ResidualSacConfig(totalSteps, learningRate, batchSize, bufferSize, gamma, tau, trainFrequency,
        gradientSteps, learningStarts, alphaHat, learnAlpha, targetEntropy, v, warmStartMultiplier, warmStartSteps,
        maxGradNorm, priorMinStd, hidden, numEnvs, seed);
  }

  /** A fixed temperature {@code v} ({@code learn}: learned, starting from {@code v}). */
  public ResidualSacConfig withAlphaHat(float v, boolean learn) {
    return new ResidualSacConfig(totalSteps, learningRate, batchSize, bufferSize, gamma, tau, trainFrequency,
        gradientSteps, learningStarts, v, learn, targetEntropy, priorWeight, warmStartMultiplier, warmStartSteps,
        maxGradNorm, priorMinStd, hidden, numEnvs, seed);
  }

  public ResidualSacConfig withWarmStart(float multiplier, long steps) {
    return new ResidualSacConfig(totalSteps, learningRate, batchSize, bufferSize, gamma, tau, trainFrequency,
        gradientSteps, learningStarts, alphaHat, learnAlpha, targetEntropy, priorWeight, multiplier, steps,
        maxGradNorm, priorMinStd, hidden, numEnvs, seed);
  }

  /** The stabilizers beyond the reference: see {@code maxGradNorm} and {@code priorMinStd} (0: off). */
  public ResidualSacConfig withStabilizers(float gradNorm, float minStd) {
    return new ResidualSacConfig(totalSteps, learningRate, batchSize, bufferSize, gamma, tau, trainFrequency,
        gradientSteps, learningStarts, alphaHat, learnAlpha, targetEntropy, priorWeight, warmStartMultiplier,
        warmStartSteps, gradNorm, minStd, hidden, numEnvs, seed);
  }

  public ResidualSacConfig withSchedule(int batch, int trainFreq, int gradSteps, int starts) {
    return new ResidualSacConfig(totalSteps, learningRate, batch, Math.max(bufferSize, batch), gamma, tau, trainFreq,
        gradSteps, starts, alphaHat, learnAlpha, targetEntropy, priorWeight, warmStartMultiplier, warmStartSteps,
        maxGradNorm, priorMinStd, hidden, numEnvs, seed);
  }

  public ResidualSacConfig withNumEnvs(int v) {
    return new ResidualSacConfig(totalSteps, learningRate, batchSize, bufferSize, gamma, tau, trainFrequency,
        gradientSteps, learningStarts, alphaHat, learnAlpha, targetEntropy, priorWeight, warmStartMultiplier,
        warmStartSteps, maxGradNorm, priorMinStd, hidden, v, seed);
  }

  public ResidualSacConfig withBufferSize(int v) {
    return new ResidualSacConfig(totalSteps, learningRate, batchSize, v, gamma, tau, trainFrequency, gradientSteps,
        learningStarts, alphaHat, learnAlpha, targetEntropy, priorWeight, warmStartMultiplier, warmStartSteps,
        maxGradNorm, priorMinStd, hidden, numEnvs, seed);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ResidualSacConfig c && toString().equals(c.toString());
  }

  @Override
  public int hashCode() {
    return toString().hashCode();
  }

  @Override
  public String toString() {
    return "ResidualSacConfig[totalSteps=" + totalSteps + ", learningRate=" + learningRate + ", batchSize="
        + batchSize + ", bufferSize=" + bufferSize + ", gamma=" + gamma + ", tau=" + tau + ", trainFrequency="
        + trainFrequency + ", gradientSteps=" + gradientSteps + ", learningStarts=" + learningStarts + ", alphaHat="
        + alphaHat + (learnAlpha ? " (learned, target entropy " + (targetEntropy == null ? "-dim(A)"
        : targetEntropy) + ")" : " (fixed)") + ", priorWeight=" + priorWeight
        + (warmStartSteps > 0 ? " (x" + warmStartMultiplier + " for the first " + warmStartSteps + " steps)" : "")
        + (maxGradNorm > 0 ? ", maxGradNorm=" + maxGradNorm : "")
        + (priorMinStd > 0 ? ", priorMinStd=" + priorMinStd : "")
        + ", hidden=" + Arrays.toString(hidden) + ", numEnvs=" + numEnvs + ", seed=" + seed + "]";
  }

  /** A builder starting from these settings: set any field with {@code optX}, then {@link Builder#build()} (which checks them). */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** A builder starting from {@link #mountaincar()}'s settings. */
  public static Builder builder() {
    return mountaincar().toBuilder();
  }

  /** {@link ResidualSacConfig} field by field (DJL style: {@code optX}); {@link #build()} checks the values. */
  public static final class Builder {
    private long totalSteps;
    private float learningRate;
    private int batchSize;
    private int bufferSize;
    private float gamma;
    private float tau;
    private int trainFrequency;
    private int gradientSteps;
    private int learningStarts;
    private float alphaHat;
    private boolean learnAlpha;
    private Float targetEntropy;
    private float priorWeight;
    private float warmStartMultiplier;
    private long warmStartSteps;
    private float maxGradNorm;
    private float priorMinStd;
    private int[] hidden;
    private int numEnvs;
    private long seed;

    private Builder(ResidualSacConfig c) {
      this.totalSteps = c.totalSteps;
      this.learningRate = c.learningRate;
      this.batchSize = c.batchSize;
      this.bufferSize = c.bufferSize;
      this.gamma = c.gamma;
      this.tau = c.tau;
      this.trainFrequency = c.trainFrequency;
      this.gradientSteps = c.gradientSteps;
      this.learningStarts = c.learningStarts;
      this.alphaHat = c.alphaHat;
      this.learnAlpha = c.learnAlpha;
      this.targetEntropy = c.targetEntropy;
      this.priorWeight = c.priorWeight;
      this.warmStartMultiplier = c.warmStartMultiplier;
      this.warmStartSteps = c.warmStartSteps;
      this.maxGradNorm = c.maxGradNorm;
      this.priorMinStd = c.priorMinStd;
      this.hidden = c.hidden.clone();
      this.numEnvs = c.numEnvs;
      this.seed = c.seed;
    }

    /** Sets {@link ResidualSacConfig#totalSteps()}. */
    public Builder optTotalSteps(long v) {
      this.totalSteps = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#learningRate()}. */
    public Builder optLearningRate(float v) {
      this.learningRate = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#batchSize()}. */
    public Builder optBatchSize(int v) {
      this.batchSize = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#bufferSize()}. */
    public Builder optBufferSize(int v) {
      this.bufferSize = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#gamma()}. */
    public Builder optGamma(float v) {
      this.gamma = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#tau()}. */
    public Builder optTau(float v) {
      this.tau = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#trainFrequency()}. */
    public Builder optTrainFrequency(int v) {
      this.trainFrequency = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#gradientSteps()}. */
    public Builder optGradientSteps(int v) {
      this.gradientSteps = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#learningStarts()}. */
    public Builder optLearningStarts(int v) {
      this.learningStarts = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#alphaHat()}. */
    public Builder optAlphaHat(float v) {
      this.alphaHat = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#learnAlpha()}. */
    public Builder optLearnAlpha(boolean v) {
      this.learnAlpha = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#targetEntropy()}. */
    public Builder optTargetEntropy(Float v) {
      this.targetEntropy = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#priorWeight()}. */
    public Builder optPriorWeight(float v) {
      this.priorWeight = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#warmStartMultiplier()}. */
    public Builder optWarmStartMultiplier(float v) {
      this.warmStartMultiplier = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#warmStartSteps()}. */
    public Builder optWarmStartSteps(long v) {
      this.warmStartSteps = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#maxGradNorm()}. */
    public Builder optMaxGradNorm(float v) {
      this.maxGradNorm = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#priorMinStd()}. */
    public Builder optPriorMinStd(float v) {
      this.priorMinStd = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#hidden()}. */
    public Builder optHidden(int[] v) {
      this.hidden = v == null ? null : v.clone();
      return this;
    }

    /** Sets {@link ResidualSacConfig#numEnvs()}. */
    public Builder optNumEnvs(int v) {
      this.numEnvs = v;
      return this;
    }

    /** Sets {@link ResidualSacConfig#seed()}. */
    public Builder optSeed(long v) {
      this.seed = v;
      return this;
    }

    /** The settings; an IllegalArgumentException naming a field out of range. */
    public ResidualSacConfig build() {
      return new ResidualSacConfig(totalSteps, learningRate, batchSize, bufferSize, gamma, tau, trainFrequency, gradientSteps, learningStarts, alphaHat, learnAlpha, targetEntropy, priorWeight, warmStartMultiplier, warmStartSteps, maxGradNorm, priorMinStd, hidden, numEnvs, seed);
    }
  }
}
