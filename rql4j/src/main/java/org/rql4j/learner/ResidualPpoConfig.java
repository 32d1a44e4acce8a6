package org.rql4j.learner;

import java.util.Arrays;

/**
 * Settings of {@link ResidualPpo} (Algorithm 4 of docs/method.md: soft and residual policy
 * gradient, here PPO). Defaults are SB3's PPO defaults.
 *
 * <p>The per-step reward PPO optimizes is {@code r + priorWeight log pi(a|s) - alphaHat log
 * pi_theta(a|s) (+ survivalBonus, 0 unless set)}: plain PPO with both 0, soft PPO with {@code alphaHat > 0}, residual PPO with a
 * prior and {@code priorWeight > 0}, the KL-regularized objective {@code r - beta KL(pi_theta || pi)}
 * with {@link #klRegularized}.
 *
 * @param totalSteps env steps to collect (over all copies)
 * @param nSteps steps per copy in each rollout
 * @param batchSize minibatch size of the update
 * @param nEpochs passes over each rollout
 * @param learningRate Adam learning rate (one optimizer over the policy and the value network)
 * @param gamma discount
 * @param gaeLambda GAE's lambda
 * @param clipRange PPO's ratio clip epsilon
 * @param vfCoef weight of the value loss
 * @param entCoef weight of an entropy bonus (0: none; soft and residual PPO put the entropy in the reward instead)
 * @param maxGradNorm global gradient-norm clip
 * @param normalizeAdvantage normalize advantages per minibatch
 * @param alphaHat temperature of the soft reward term {@code -alphaHat log pi_theta(a|s)} (0: none)
 * @param priorWeight {@code w}: weight of the prior's log-prob in the reward (0: no prior)
 * @param logStdInit initial log-std of a Gaussian policy (state-independent, learned)
 * @param hidden hidden widths of the policy and of the value network (tanh)
 * @param numEnvs env copies stepped together
 * @param seed seed of initialization, sampling, minibatches and env resets
 * @param normalizeObservations feed the networks observations normalized by their running mean and
 *     std (SB3's {@code VecNormalize(norm_obs=True)}: clipped to ±10); the prior still reads raw ones
 * @param normalizeRewards divide each shaped reward by the running std of the discounted return
 *     (SB3's {@code VecNormalize(norm_reward=True)}: clipped to ±10)
 * @param initFromPrior start {@code pi_theta} as a copy of the prior's network (the prior package's
 *     module must be a tanh MLP of this config's widths with a diagonal Gaussian head; checked)
 * @param survivalBonus {@code b}: a constant added to every step's shaped reward (0: Algorithm 4 as
 *     written). In an env that ends episodes early (a hopper that falls), the residual reward
 *     {@code r_R + w log pi - alphaHat log pi_theta} is negative on average: a penalty add-on, and
 *     {@code (alphaHat - w) H(pi_theta) - w KL(pi_theta || pi) <= 0} when {@code w >= alphaHat} and
 *     the entropy {@code H >= 0} (a discrete policy, or a Gaussian with stds above {@code 1/sqrt(2 pi
 *     e)} ~ 0.24), so ending the episode pays. RQL's derivation drops the prior's soft value
 *     {@code V*} because it cancels; that holds when no episode ends early, and the cancelled part is
 *     worth about {@code (1 - gamma) omega V*} per step ({@code omega}: the basic reward's weight in
 *     the total, {@code w = omega alpha}) when the prior's value is roughly constant over the states
 *     it visits. {@code b} puts that value back as a user-chosen constant (with {@code w != alphaHat}
 *     the same constant also depends on the units the actions are measured in: rescaling the actions by
 *     {@code c} shifts {@code w log pi - alphaHat log pi_theta} by {@code (alphaHat - w) d log c})
 */
public record ResidualPpoConfig(
    long totalSteps,
    int nSteps,
    int batchSize,
    int nEpochs,
    float learningRate,
    float gamma,
    float gaeLambda,
    float clipRange,
    float vfCoef,
    float entCoef,
    float maxGradNorm,
    boolean normalizeAdvantage,
    float alphaHat,
    float priorWeight,
    float logStdInit,
    int[] hidden,
    int numEnvs,
    long seed,
    boolean normalizeObservations,
    boolean normalizeRewards,
    boolean initFromPrior,
    float survivalBonus) {

  public ResidualPpoConfig {
    hidden = hidden.clone();
    require(totalSteps > 0, "totalSteps", totalSteps);
    require(nSteps > 0, "nSteps", nSteps);
    require(batchSize > 0, "batchSize", batchSize);
    require(nEpochs > 0, "nEpochs", nEpochs);
    require(learningRate > 0, "learningRate", learningRate);
    require(gamma >= 0 && gamma <= 1, "gamma (in [0, 1])", gamma);
    require(gaeLambda >= 0 && gaeLambda <= 1, "gaeLambda (in [0, 1])", gaeLambda);
    require(clipRange > 0, "clipRange", clipRange);
    require(vfCoef >= 0, "vfCoef", vfCoef);
    require(entCoef >= 0, "entCoef", entCoef);
    require(maxGradNorm > 0, "maxGradNorm", maxGradNorm);
    require(alphaHat >= 0 && Float.isFinite(alphaHat), "alphaHat (>= 0)", alphaHat);
    require(priorWeight >= 0 && Float.isFinite(priorWeight), "priorWeight (>= 0)", priorWeight);
    require(Float.isFinite(logStdInit), "logStdInit", logStdInit);
    require(Float.isFinite(survivalBonus), "survivalBonus (finite)", survivalBonus);
    require(numEnvs > 0, "numEnvs", numEnvs);
    require(hidden.length > 0 && Arrays.stream(hidden).allMatch(h -> h > 0), "hidden", Arrays.toString(hidden));
    if (initFromPrior && normalizeObservations) {
      throw new IllegalArgumentException("ResidualPpoConfig: initFromPrior copies a prior that reads raw observations; "
          + "it cannot be combined with normalizeObservations");
    }
  }

  private static void require(boolean ok, String name, Object value) {
    if (!ok) {
      throw new IllegalArgumentException("ResidualPpoConfig." + name + " is out of range: " + value);
    }
  }

  /**
   * SB3's PPO defaults: 2048 steps per copy, minibatch 64, 10 epochs, lr 3e-4, gamma 0.99, GAE
   * lambda 0.95, clip 0.2, value weight 0.5, no entropy bonus, grad-norm clip 0.5, normalized
   * advantages, log-std 0, [64, 64] tanh; plain PPO (no soft term, no prior).
   */
  public static ResidualPpoConfig defaults() {
    return new ResidualPpoConfig(1_000_000, 2048, 64, 10, 3e-4f, 0.99f, 0.95f, 0.2f, 0.5f, 0f, 0.5f, true, 0f, 0f, 0f,
        new int[] {64, 64}, 1, 0, false, false, false, 0f);
  }

  /**
   * The MuJoCo tasks' values (the shipped PPO priors were trained with the same ones): SB3's
   * defaults, 4 copies of 512 steps per rollout (2048), rewards scaled by the running return std,
   * raw observations.
   */
  public static ResidualPpoConfig mujoco() {
    return defaults().withSchedule(1_000_000, 512, 64, 10, 4).withNormalization(false, true);
  }

  /** Soft PPO: the reward {@code r - alphaHat log pi_theta(a|s)}, no prior ({@code priorWeight = 0}). */
  public ResidualPpoConfig softPpo(float alphaHatValue) {
    return withSoft(alphaHatValue, 0f);
  }

  /** The KL-regularized objective {@code r - beta KL(pi_theta || pi)}: {@code priorWeight = alphaHat = beta}. */
  public ResidualPpoConfig klRegularized(float beta) {
    return withSoft(beta, beta);
  }

  /** The reward's soft terms: {@code + w log pi(a|s) - alphaHat log pi_theta(a|s)}. */
  public ResidualPpoConfig withSoft(float alphaHatValue, float w) {
    return new ResidualPpoConfig(totalSteps, nSteps, batchSize, nEpochs, learningRate, gamma, gaeLambda, clipRange,
        vfCoef, entCoef, maxGradNorm, normalizeAdvantage, alphaHatValue, w, logStdInit, hidden, numEnvs, seed,
        normalizeObservations, normalizeRewards, initFromPrior, survivalBonus);
  }

  public ResidualPpoConfig withSchedule(long total, int steps, int batch, int epochs, int envs) {
    return new ResidualPpoConfig(total, steps, batch, epochs, learningRate, gamma, gaeLambda, clipRange, vfCoef,
        entCoef, maxGradNorm, normalizeAdvantage, alphaHat, priorWeight, logStdInit, hidden, envs, seed,
        normalizeObservations, normalizeRewards, initFromPrior, survivalBonus);
  }

  public ResidualPpoConfig withNetwork(int[] widths, float lr, float initLogStd) {
    return new ResidualPpoConfig(totalSteps, nSteps, batchSize, nEpochs, lr, gamma, gaeLambda, clipRange, vfCoef,
        entCoef, maxGradNorm, normalizeAdvantage, alphaHat, priorWeight, initLogStd, widths, numEnvs, seed,
        normalizeObservations, normalizeRewards, initFromPrior, survivalBonus);
  }

  public ResidualPpoConfig withReturns(float discount, float lambda) {
    return new ResidualPpoConfig(totalSteps, nSteps, batchSize, nEpochs, learningRate, discount, lambda, clipRange,
        vfCoef, entCoef, maxGradNorm, normalizeAdvantage, alphaHat, priorWeight, logStdInit, hidden, numEnvs, seed,
        normalizeObservations, normalizeRewards, initFromPrior, survivalBonus);
  }

  public ResidualPpoConfig withSeed(long v) {
    return new ResidualPpoConfig(totalSteps, nSteps, batchSize, nEpochs, learningRate, gamma, gaeLambda, clipRange,
        vfCoef, entCoef, maxGradNorm, normalizeAdvantage, alphaHat, priorWeight, logStdInit, hidden, numEnvs, v,
        normalizeObservations, normalizeRewards, initFromPrior, survivalBonus);
  }

  public ResidualPpoConfig withTotalSteps(long total) {
    return withSchedule(total, nSteps, batchSize, nEpochs, numEnvs);
  }

  /** Observation normalization (running mean / std) and reward scaling (running return std) on or off. */
  public ResidualPpoConfig withNormalization(boolean observations, boolean rewards) {
    return new ResidualPpoConfig(totalSteps, nSteps, batchSize, nEpochs, learningRate, gamma, gaeLambda, clipRange,
        vfCoef, entCoef, maxGradNorm, normalizeAdvantage, alphaHat, priorWeight, logStdInit, hidden, numEnvs, seed,
        observations, rewards, initFromPrior, survivalBonus);
  }

  /** Whether {@code pi_theta} starts as a copy of the prior's network. */
  public ResidualPpoConfig withInitFromPrior(boolean init) {
    return new ResidualPpoConfig(totalSteps, nSteps, batchSize, nEpochs, learningRate, gamma, gaeLambda, clipRange,
        vfCoef, entCoef, maxGradNorm, normalizeAdvantage, alphaHat, priorWeight, logStdInit, hidden, numEnvs, seed,
        normalizeObservations, normalizeRewards, init, survivalBonus);
  }

  /** The constant {@code b} added to every step's shaped reward (see the class comment). */
  public ResidualPpoConfig withSurvivalBonus(float b) {
    return new ResidualPpoConfig(totalSteps, nSteps, batchSize, nEpochs, learningRate, gamma, gaeLambda, clipRange,
        vfCoef, entCoef, maxGradNorm, normalizeAdvantage, alphaHat, priorWeight, logStdInit, hidden, numEnvs, seed,
        normalizeObservations, normalizeRewards, initFromPrior, b);
  }

  /** The learning rate and the ratio clip. */
  public ResidualPpoConfig withStepSize(float lr, float clip) {
    return new ResidualPpoConfig(totalSteps, nSteps, batchSize, nEpochs, lr, gamma, gaeLambda, clip, vfCoef,
        entCoef, maxGradNorm, normalizeAdvantage, alphaHat, priorWeight, logStdInit, hidden, numEnvs, seed,
        normalizeObservations, normalizeRewards, initFromPrior, survivalBonus);
  }

  @Override
  public int[] hidden() {
    return hidden.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ResidualPpoConfig c && toString().equals(c.toString());
  }

  @Override
  public int hashCode() {
    return toString().hashCode();
  }

  @Override
  public String toString() {
    return "ResidualPpoConfig[totalSteps=" + totalSteps + ", nSteps=" + nSteps + ", batchSize=" + batchSize
        + ", nEpochs=" + nEpochs + ", learningRate=" + learningRate + ", gamma=" + gamma + ", gaeLambda=" + gaeLambda
        + ", clipRange=" + clipRange + ", vfCoef=" + vfCoef + ", entCoef=" + entCoef + ", maxGradNorm=" + maxGradNorm
        + ", normalizeAdvantage=" + normalizeAdvantage + ", alphaHat=" + alphaHat + ", priorWeight=" + priorWeight
        + ", logStdInit=" + logStdInit + ", hidden=" + Arrays.toString(hidden) + ", numEnvs=" + numEnvs + ", seed="
        + seed + ", normalizeObservations=" + normalizeObservations + ", normalizeRewards=" + normalizeRewards
        + ", initFromPrior=" + initFromPrior + ", survivalBonus=" + survivalBonus + "]";
  }

  /** A builder starting from these settings: set any field with {@code optX}, then {@link Builder#build()} (which checks them). */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** A builder starting from {@link #mujoco()}'s settings. */
  public static Builder builder() {
    return mujoco().toBuilder();
  }

  /** {@link ResidualPpoConfig} field by field (DJL style: {@code optX}); {@link #build()} checks the values. */
  public static final class Builder {
    private long totalSteps;
    private int nSteps;
    private int batchSize;
    private int nEpochs;
    private float learningRate;
    private float gamma;
    private float gaeLambda;
    private float clipRange;
    private float vfCoef;
    private float entCoef;
    private float maxGradNorm;
    private boolean normalizeAdvantage;
    private float alphaHat;
    private float priorWeight;
    private float logStdInit;
    private int[] hidden;
    private int numEnvs;
    private long seed;
    private boolean normalizeObservations;
    private boolean normalizeRewards;
    private boolean initFromPrior;
    private float survivalBonus;

    private Builder(ResidualPpoConfig c) {
      this.totalSteps = c.totalSteps;
      this.nSteps = c.nSteps;
      this.batchSize = c.batchSize;
      this.nEpochs = c.nEpochs;
      this.learningRate = c.learningRate;
      this.gamma = c.gamma;
      this.gaeLambda = c.gaeLambda;
      this.clipRange = c.clipRange;
      this.vfCoef = c.vfCoef;
      this.entCoef = c.entCoef;
      this.maxGradNorm = c.maxGradNorm;
      this.normalizeAdvantage = c.normalizeAdvantage;
      this.alphaHat = c.alphaHat;
      this.priorWeight = c.priorWeight;
      this.logStdInit = c.logStdInit;
      this.hidden = c.hidden.clone();
      this.numEnvs = c.numEnvs;
      this.seed = c.seed;
      this.normalizeObservations = c.normalizeObservations;
      this.normalizeRewards = c.normalizeRewards;
      this.initFromPrior = c.initFromPrior;
      this.survivalBonus = c.survivalBonus;
    }

    /** Sets {@link ResidualPpoConfig#totalSteps()}. */
    public Builder optTotalSteps(long v) {
      this.totalSteps = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#nSteps()}. */
    public Builder optNSteps(int v) {
      this.nSteps = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#batchSize()}. */
    public Builder optBatchSize(int v) {
      this.batchSize = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#nEpochs()}. */
    public Builder optNEpochs(int v) {
      this.nEpochs = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#learningRate()}. */
    public Builder optLearningRate(float v) {
      this.learningRate = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#gamma()}. */
    public Builder optGamma(float v) {
      this.gamma = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#gaeLambda()}. */
    public Builder optGaeLambda(float v) {
      this.gaeLambda = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#clipRange()}. */
    public Builder optClipRange(float v) {
      this.clipRange = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#vfCoef()}. */
    public Builder optVfCoef(float v) {
      this.vfCoef = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#entCoef()}. */
    public Builder optEntCoef(float v) {
      this.entCoef = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#maxGradNorm()}. */
    public Builder optMaxGradNorm(float v) {
      this.maxGradNorm = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#normalizeAdvantage()}. */
    public Builder optNormalizeAdvantage(boolean v) {
      this.normalizeAdvantage = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#alphaHat()}. */
    public Builder optAlphaHat(float v) {
      this.alphaHat = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#priorWeight()}. */
    public Builder optPriorWeight(float v) {
      this.priorWeight = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#logStdInit()}. */
    public Builder optLogStdInit(float v) {
      this.logStdInit = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#hidden()}. */
    public Builder optHidden(int[] v) {
      this.hidden = v == null ? null : v.clone();
      return this;
    }

    /** Sets {@link ResidualPpoConfig#numEnvs()}. */
    public Builder optNumEnvs(int v) {
      this.numEnvs = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#seed()}. */
    public Builder optSeed(long v) {
      this.seed = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#normalizeObservations()}. */
    public Builder optNormalizeObservations(boolean v) {
      this.normalizeObservations = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#normalizeRewards()}. */
    public Builder optNormalizeRewards(boolean v) {
      this.normalizeRewards = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#initFromPrior()}. */
    public Builder optInitFromPrior(boolean v) {
      this.initFromPrior = v;
      return this;
    }

    /** Sets {@link ResidualPpoConfig#survivalBonus()}. */
    public Builder optSurvivalBonus(float v) {
      this.survivalBonus = v;
      return this;
    }

    /** The settings; an IllegalArgumentException naming a field out of range. */
    public ResidualPpoConfig build() {
      return new ResidualPpoConfig(totalSteps, nSteps, batchSize, nEpochs, learningRate, gamma, gaeLambda, clipRange, vfCoef, entCoef, maxGradNorm, normalizeAdvantage, alphaHat, priorWeight, logStdInit, hidden, numEnvs, seed, normalizeObservations, normalizeRewards, initFromPrior, survivalBonus);
    }
  }
}
