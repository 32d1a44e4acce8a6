package org.rql4j.learner;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.rql4j.buffer.RolloutBuffer;
import org.rql4j.env.Space;
import org.rql4j.prior.Distributions;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.runtime.DjlRuntime;
import org.rql4j.runtime.Scalars;

/**
 * PPO on DJL, the policy-gradient member of the family (Algorithm 4 of docs/method.md): soft PPO
 * and residual PPO are PPO on the shaped per-step reward {@link #shapedReward}, with no separate
 * entropy bonus. The update is SB3's PPO: per epoch a shuffled pass over the rollout in minibatches;
 * per minibatch advantages normalized (unbiased std, +1e-8), the clipped surrogate
 * {@code -mean(min(A r, A clip(r, 1 - eps, 1 + eps)))} with {@code r = exp(log pi_theta(a|s) -
 * log pi_old(a|s))}, the value loss {@code mean((R - V(s))^2)} (not clipped), an optional
 * entropy bonus, one Adam step on {@code pg + entCoef (-entropy) + vfCoef value} after a global
 * gradient-norm clip.
 *
 * <p>Policies: for a Box space a diagonal Gaussian whose mean is an MLP of the observation and
 * whose log-std is one learned vector (SB3's), actions sampled unbounded, stored so, and clipped to
 * the Box bounds only for the env; for a Discrete space a categorical of the MLP's logits. The
 * value function is a separate MLP. Both MLPs use tanh (SB3's on-policy default) with this
 * project's uniform {@code ±1/sqrt(fan_in)} initialization (SB3 uses orthogonal). Not thread-safe.
 */
public final class ResidualPpo implements LearnerState, AutoCloseable {

  private static final double HALF_LOG_2PI_E = 0.5 * (1 + StrictMath.log(2 * Math.PI));

  private final ResidualPpoConfig config;
  private final NDManager manager;
  private final int obsDim;
  private final boolean discrete;
  private final int actDim;
  private final long start;
  private final Space.Box box;
  private final Mlp policy;
  private final Mlp value;
  private final NDArray logStd;
  private final List<NDArray> trainable = new ArrayList<>();
  private final TorchAdam optimizer;
  private final RunningMeanStd obsStats;
  private final RunningMeanStd returnStats;
  private double[] runningReturns;
  // under a KL budget: the temperature the dual steps set (w = kappa * alphaHat) and the KL's moving average
  private KlBudget.Dual dual;

  /** SB3's VecNormalize constants: epsilon under the square root, and the clip of normalized values. */
  private static final double NORM_EPS = 1e-8;
  private static final double NORM_CLIP = 10.0;

  public ResidualPpo(ResidualPpoConfig config, int obsDim, Space actionSpace) {
    this.config = config;
    this.obsDim = obsDim;
    if (actionSpace instanceof Space.Discrete d) {
      discrete = true;
      actDim = (int) d.n();
      start = d.start();
      box = null;
    } else if (actionSpace instanceof Space.Box b && b.shape().length == 1) {
      for (int i = 0; i < b.low().length; i++) {
        if (!Double.isFinite(b.low()[i]) || !Double.isFinite(b.high()[i])) {
          throw new IllegalArgumentException("PPO clips Box actions to the bounds for the env; dimension " + i
              + " is unbounded");
        }
      }
      discrete = false;
      actDim = (int) b.flatDim();
      start = 0;
      box = b;
    } else {
      throw new IllegalArgumentException("PPO needs a Discrete or a one-dimensional Box action space, got "
          + actionSpace);
    }
    DjlRuntime.noGradOnThisThread();
    manager = NDManager.newBaseManager("PyTorch");
    policy = new Mlp(manager, obsDim, config.hidden(), actDim, config.seed(), true);
    value = new Mlp(manager, obsDim, config.hidden(), 1, config.seed() + 1, true);
    policy.parameters().forEach(p -> trainable.add(p.getArray()));
    if (discrete) {
      logStd = null;
    } else {
      float[] init = new float[actDim];
      java.util.Arrays.fill(init, config.logStdInit());
      try (NDArray wrapped = manager.create(init, new Shape(actDim))) {
        logStd = wrapped.duplicate(); // libtorch memory: Adam updates it in place (InPlace)
      }
      logStd.setRequiresGradient(true);
      trainable.add(logStd);
    }
    value.parameters().forEach(p -> trainable.add(p.getArray()));
    optimizer = TorchAdam.ofArrays(manager, trainable, config.learningRate());
    obsStats = config.normalizeObservations() ? new RunningMeanStd(obsDim) : null;
    returnStats = config.normalizeRewards() ? new RunningMeanStd(1) : null;
  }

  /**
   * Refuses to start {@code pi_theta} as a copy of a prior that cannot be copied: only a diag_gaussian
   * prior (an exported PPO / A2C actor) over a Box action space can ({@link #initializePolicyFrom} then
   * checks its layers).
   *
   * @throws IllegalArgumentException naming the prior, and how to train from scratch instead
   */
  public static void checkInitFrom(org.rql4j.prior.PriorSpec spec, Space actionSpace) {
    if (!(actionSpace instanceof Space.Box) || spec.distribution() != org.rql4j.prior.Distribution.DIAG_GAUSSIAN) {
      throw new IllegalArgumentException("initializing pi_theta from a prior needs a Box action space and a "
          + "diag_gaussian prior (an exported PPO / A2C actor); " + spec.label() + " is "
          + spec.distribution() + " over " + actionSpace + ": train pi_theta from scratch (no init "
          + "from the prior: initFromPrior false, e.g. 'initFromPrior: false' under 'config' in a --config file)");
    }
  }

  /**
   * Makes {@code pi_theta} a copy of {@code prior}'s network ({@link ResidualPpoConfig#initFromPrior}):
   * the prior's TorchScript module must hold {@code latent.<k>.weight / bias} linear layers of this
   * config's widths, a {@code mu} head and a state-independent {@code log_std} (what {@code
   * rql4j-bridge export} makes of an SB3 PPO actor). After the copy the two means are compared on a
   * probe batch: a module with another activation, or with normalization inside, is refused.
   *
   * @throws IllegalArgumentException naming what does not match, and what to do
   */
  public void initializePolicyFrom(org.rql4j.prior.TorchScriptPrior prior) {
    DjlRuntime.noGradOnThisThread();
    String label = "prior '" + prior.spec().name() + "'";
    checkInitFrom(prior.spec(), actionSpace());
    java.util.Map<String, float[]> params = prior.namedParameters();
    int[] widths = config.hidden();
    List<float[]> weights = new ArrayList<>();
    int fanIn = obsDim;
    List<String> latent = params.keySet().stream().filter(k -> k.matches("latent\\.\\d+\\.weight"))
        .sorted(java.util.Comparator.comparingInt(k -> Integer.parseInt(k.split("\\.")[1]))).toList();
    String arch = "its parameters are " + describe(params) + "; the policy is a tanh MLP " + obsDim + " -> "
        + java.util.Arrays.toString(widths) + " -> " + actDim + " with a log_std vector";
    if (latent.size() != widths.length || !params.containsKey("mu.weight") || !params.containsKey("log_std")) {
      throw new IllegalArgumentException("cannot initialize pi_theta from " + label + ": " + arch + ". Set the PPO "
          + "hidden widths to the prior's, or train pi_theta from scratch");
    }
    for (int k = 0; k < widths.length; k++) {
      String name = latent.get(k);
      weights.add(expect(params, name, widths[k] * fanIn, label, arch));
      weights.add(expect(params, name.replace(".weight", ".bias"), widths[k], label, arch));
      fanIn = widths[k];
    }
    weights.add(expect(params, "mu.weight", actDim * fanIn, label, arch));
    weights.add(expect(params, "mu.bias", actDim, label, arch));
    float[] priorLogStd = expect(params, "log_std", actDim, label, arch);
    policy.importWeights(weights);
    InPlace.copy(logStd, priorLogStd);
    // the same means on a probe batch, or the module is not the MLP the names suggest
    Random rng = new Random(12345);
    float[] probe = new float[16 * obsDim];
    for (int i = 0; i < probe.length; i++) {
      probe[i] = (float) rng.nextGaussian();
    }
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      NDArray obs = m.create(probe, new Shape(16, obsDim));
      float[] ours = policy.forward(obs).toFloatArray();
      float[] theirs = prior.distribution(obs).mean().toFloatArray();
      double worst = 0;
      for (int i = 0; i < ours.length; i++) {
        worst = Math.max(worst, Math.abs(ours[i] - theirs[i]) / Math.max(1, Math.abs(theirs[i])));
      }
      if (!(worst <= 1e-4)) {
        throw new IllegalArgumentException("cannot initialize pi_theta from " + label + ": with its weights copied the "
            + "policy's means differ from the prior's by " + worst + " on a probe batch (the module is not a plain tanh "
            + "MLP: another activation, or input normalization inside). Train pi_theta from scratch");
      }
    }
  }

  private static float[] expect(java.util.Map<String, float[]> params, String name, int size, String label,
      String arch) {
    float[] v = params.get(name);
    if (v == null || v.length != size) {
      throw new IllegalArgumentException("cannot initialize pi_theta from " + label + ": " + name + " has "
          + (v == null ? "no values" : v.length + " values") + ", expected " + size + " (" + arch + "). Set the PPO "
          + "hidden widths to the prior's, or train pi_theta from scratch");
    }
    return v;
  }

  private static String describe(java.util.Map<String, float[]> params) {
    StringBuilder b = new StringBuilder("{");
    params.forEach((k, v) -> b.append(b.length() > 1 ? ", " : "").append(k).append(": ").append(v.length));
    return b.append("}").toString();
  }

  /** Zeroes the copies' running discounted returns of the reward scaling (after the env was reset). */
  public void resetRunningReturns() {
    runningReturns = null;
  }

  /** Adds a batch of raw observations to the running statistics (no-op without observation normalization). */
  public void observe(float[] rawObservations) {
    if (obsStats != null) {
      obsStats.update(rawObservations);
    }
  }

  /** Raw observations as the networks see them: normalized by the running statistics, or as they are. */
  public float[] networkInput(float[] rawObservations) {
    return obsStats == null ? rawObservations : obsStats.normalize(rawObservations, NORM_EPS, NORM_CLIP);
  }

  /**
   * The rewards PPO learns from, for one vector step: scaled by the running std of the discounted
   * return when {@link ResidualPpoConfig#normalizeRewards} (SB3's VecNormalize order: the running
   * return is updated and merged into the statistics, the rewards divided and clipped, then the
   * running return of the copies whose episode ended is zeroed); else {@code rewards} unchanged.
   */
  public float[] scaleRewards(float[] rewards, boolean[] done) {
    if (returnStats == null) {
      return rewards;
    }
    if (runningReturns == null) {
      runningReturns = new double[rewards.length];
    }
    float[] ret = new float[rewards.length];
    for (int i = 0; i < rewards.length; i++) {
      runningReturns[i] = runningReturns[i] * config.gamma() + rewards[i];
      ret[i] = (float) runningReturns[i];
    }
    returnStats.update(ret);
    double scale = Math.sqrt(returnStats.var(0) + NORM_EPS);
    float[] out = new float[rewards.length];
    for (int i = 0; i < rewards.length; i++) {
      out[i] = (float) Math.max(-NORM_CLIP, Math.min(NORM_CLIP, rewards[i] / scale));
      if (done[i]) {
        runningReturns[i] = 0;
      }
    }
    return out;
  }

  /**
   * Lets a KL budget set the temperature from now on ({@link KlBudget}): {@code alphaHat} starts at the
   * config's (its {@code priorWeight} when the config's {@code alphaHat} is 0), clamped to the budget's
   * range, and the prior weight follows it, {@code w = kappa * alphaHat}, in the shaped reward
   * {@code r + w log pi - alphaHat log pi_theta}: with {@code kappa = 1} this is the KL-regularized objective.
   * The training loop measures {@link #klToPrior} on each rollout's states after the update and makes one
   * dual step ({@link #dualStep}) of the update's size in gradient steps. The KL is measured in nats
   * directly, so reward scaling does not rescale it. Null turns it off.
   *
   * @throws IllegalArgumentException for a learner without the prior (priorWeight 0)
   */
  public void setKlBudget(KlBudget budget) {
    if (budget != null) {
      budget.requirePriorItself("residual PPO");
    }
    if (budget != null && config.priorWeight() == 0) {
      throw new IllegalArgumentException("a KL budget needs the prior: this PPO learner has priorWeight 0 (a baseline "
          + "without the prior has no KL to it)");
    }
    double start = dual != null ? dual.alphaHat() : config.alphaHat() > 0 ? config.alphaHat() : config.priorWeight();
    this.dual = budget == null ? null : new KlBudget.Dual(budget, start);
  }

  /** The KL budget in force, or null. */
  public KlBudget klBudget() {
    return dual == null ? null : dual.budget();
  }

  /** The temperature in the shaped reward: the config's, or where a KL budget's dual steps set it. */
  public double alphaHat() {
    return dual == null ? config.alphaHat() : dual.alphaHat();
  }

  /** The prior weight in the shaped reward: the config's, or {@code kappa * alphaHat} under a KL budget. */
  public double priorWeight() {
    return dual == null ? config.priorWeight() : dual.priorWeight();
  }

  /** Under a KL budget, the temperature the dual steps have set; NaN otherwise. */
  public double budgetTemperature() {
    return dual == null ? Double.NaN : dual.alphaHat();
  }

  /** Under a KL budget, the measured KL to the prior as reports show it (its mean over about the last 1000 gradient steps, {@link KlBudget.Dual#klReported}); NaN otherwise. */
  public double budgetKl() {
    return dual == null ? Double.NaN : dual.klReported();
  }

  /** The gradient steps of one {@link #update} on a rollout of {@code rolloutSize} rows. */
  public int gradientStepsPerUpdate(int rolloutSize) {
    return config.nEpochs() * ((rolloutSize + config.batchSize() - 1) / config.batchSize());
  }

  /**
   * The mean over {@code [n, obsDim]} raw observations of {@code KL(pi_theta(.|s) || pi(.|s))}: exact for
   * a categorical prior, closed-form for a diag_gaussian one (docs/method.md).
   *
   * @throws IllegalArgumentException for a prior of another kind (no closed form against PPO's Gaussian)
   */
  public double klToPrior(float[] observations, PriorPolicy prior) {
    return klToPrior(observations, priorRows(observations, prior));
  }

  /**
   * The prior's side of {@link #klToPrior(float[], float[])} for {@code [n, obsDim]} raw observations: its
   * log-probabilities {@code [n, actions]} (categorical), or {@code [mean | logStd]} rows {@code [n, 2 d]}
   * (diag_gaussian).
   */
  public float[] priorRows(float[] observations, PriorPolicy prior) {
    checkKlPrior(prior.spec());
    DjlRuntime.noGradOnThisThread();
    return prior.outputs(manager, observations, observations.length / obsDim);
  }

  /**
   * {@link #klToPrior(float[], PriorPolicy)} from the prior's rows ({@link #priorRows}): the categorical KL
   * of {@code softmax(policy(s))} to the prior's log-probabilities, or the closed-form KL of the
   * Gaussian {@code N(policy(s), exp(logStd))} to the prior's.
   */
  public double klToPrior(float[] observations, float[] priorRows) {
    DjlRuntime.noGradOnThisThread();
    int n = observations.length / obsDim;
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      NDArray out = policy.forward(m.create(networkInput(observations), new Shape(n, obsDim)));
      if (discrete) {
        return Distributions.meanAsDouble(Distributions.categoricalKl(out.logSoftmax(1),
            m.create(priorRows, new Shape(n, actDim))));
      }
      NDArray rows = m.create(priorRows, new Shape(n, 2L * actDim));
      return Distributions.meanAsDouble(Distributions.diagGaussianKl(out, logStd.broadcast(new Shape(n, actDim)),
          rows.get(new ai.djl.ndarray.index.NDIndex(":, :" + actDim)),
          rows.get(new ai.djl.ndarray.index.NDIndex(":, " + actDim + ":"))));
    }
  }

  /**
   * Refuses a prior whose KL to PPO's policy has no exact form here: a categorical prior over Discrete
   * actions, or a diag_gaussian one over a Box, is needed.
   */
  public void checkKlPrior(org.rql4j.prior.PriorSpec spec) {
    org.rql4j.prior.Distribution want = discrete ? org.rql4j.prior.Distribution.CATEGORICAL
        : org.rql4j.prior.Distribution.DIAG_GAUSSIAN;
    if (spec.distribution() != want) {
      throw new IllegalArgumentException("a KL budget with PPO needs a " + want.sidecarName() + " prior (its KL to "
          + "PPO's policy is exact); " + spec.label() + " is " + spec.distribution().sidecarName()
          + ": set the prior weight and temperature instead");
    }
  }

  /**
   * One dual step from a rollout's measured KL ({@link #klToPrior}), counted as the {@code gradientSteps}
   * of the update before it ({@link KlBudget#step(double, double, int)}).
   */
  public void dualStep(double kl, int gradientSteps) {
    dual.observe(kl, gradientSteps);
  }

  public ResidualPpoConfig config() {
    return config;
  }

  /**
   * The per-step reward of Algorithm 4: {@code r + w log pi(a|s) - alphaHat log pi_theta(a|s)}
   * (the prior's and the acting policy's log-probs of the action taken), plus the config's
   * survival bonus {@code b} (0 in Algorithm 4 as written; see {@link ResidualPpoConfig}).
   */
  public static double shapedReward(double reward, double priorLogProb, double ownLogProb, double priorWeight,
      double alphaHat, double survivalBonus) {
    return reward + (priorWeight == 0 ? 0 : priorWeight * priorLogProb) - (alphaHat == 0 ? 0 : alphaHat * ownLogProb)
        + survivalBonus;
  }

  /**
   * One step's decisions for {@code n} observations.
   *
   * @param actions as stored in the rollout and scored by log-probs ({@code [n, actDim]} Gaussian
   *     samples, or {@code [n]} Discrete indices from the space's start)
   * @param envActions as sent to the env (clipped to the Box bounds)
   * @param logProbs {@code log pi_theta(a|s)} per row
   * @param values {@code V(s)} per row
   */
  public record Decision(float[] actions, float[] envActions, float[] logProbs, float[] values) {}

  /** Width of a stored action: {@code actDim} for a Box, 1 for a Discrete. */
  public int actionWidth() {
    return discrete ? 1 : actDim;
  }

  /**
   * Samples, or the mean / the most likely action when {@code deterministic}, for {@code [n, obsDim]}
   * raw observations (normalized here when the config says so, with the current statistics).
   */
  public Decision act(float[] observations, boolean deterministic, Random rng) {
    return actOnInput(networkInput(observations), deterministic, rng);
  }

  /** As {@link #act}, for observations already as the networks see them ({@link #networkInput}). */
  public Decision actOnInput(float[] input, boolean deterministic, Random rng) {
    DjlRuntime.noGradOnThisThread();
    int n = input.length / obsDim;
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      NDArray obs = m.create(input, new Shape(n, obsDim));
      NDArray out = policy.forward(obs);
      float[] values = value.forward(obs).reshape(n).toFloatArray();
      float[] actions;
      float[] logProbs;
      if (discrete) {
        NDArray logP = out.logSoftmax(1);
        float[] lp = logP.toFloatArray();
        actions = new float[n];
        logProbs = new float[n];
        for (int i = 0; i < n; i++) {
          int pick = ResidualSoftQLearning.chooseAction(lp, i * actDim, actDim, deterministic, rng);
          actions[i] = pick + start;
          logProbs[i] = lp[i * actDim + pick];
        }
        return new Decision(actions, actions.clone(), logProbs, values);
      }
      NDArray a = out;
      if (!deterministic) {
        float[] noise = new float[n * actDim];
        for (int i = 0; i < noise.length; i++) {
          noise[i] = (float) rng.nextGaussian();
        }
        a = out.add(logStd.exp().mul(m.create(noise, new Shape(n, actDim))));
      }
      actions = a.toFloatArray();
      logProbs = Distributions.diagGaussianLogProb(out, logStd, a).toFloatArray();
      float[] env = actions.clone();
      for (int i = 0; i < env.length; i++) {
        int k = i % actDim;
        env[i] = (float) Math.min(box.high()[k], Math.max(box.low()[k], env[i]));
      }
      return new Decision(actions, env, logProbs, values);
    }
  }

  /**
   * The learned policy as a {@link org.rql4j.policy.Policy} (for evaluation): the Gaussian's mean
   * clipped to the bounds, or the most likely action, when deterministic; else a sample.
   */
  public org.rql4j.policy.Policy asPolicy(long seed) {
    Random rng = new Random(seed);
    return (observation, deterministic) -> {
      float[] o = ((org.rql4j.env.Tensor) observation).toFloatArray();
      Decision d = act(o, deterministic, rng);
      return discrete ? org.rql4j.env.Tensor.scalar((long) d.envActions()[0])
          : org.rql4j.env.Tensor.ofFloats(d.envActions());
    };
  }

  /**
   * The learned policy as a {@link org.rql4j.policy.SavablePolicy} (sharing this learner's networks:
   * valid while it is open), which saves itself to a folder that {@link Policies#load} reads back.
   */
  public org.rql4j.policy.SavablePolicy savablePolicy(long seed) {
    return new PpoPolicy(this, false, seed);
  }

  /** The observation statistics of observation normalization; null without it. */
  RunningMeanStd observationStats() {
    return obsStats;
  }

  /** The width of the observations. */
  public int observationDim() {
    return obsDim;
  }

  /** The action space the learner was made for. */
  public Space actionSpace() {
    return discrete ? new Space.Discrete(actDim, start) : box;
  }

  /** The state-independent log-std of the Gaussian (null for Discrete actions). */
  NDArray logStdArray() {
    return logStd;
  }

  /** {@code V(s)} for {@code [n, obsDim]} raw observations (normalized here when the config says so). */
  public float[] values(float[] observations) {
    DjlRuntime.noGradOnThisThread();
    int n = observations.length / obsDim;
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      return value.forward(m.create(networkInput(observations), new Shape(n, obsDim))).reshape(n).toFloatArray();
    }
  }

  /**
   * What one minibatch step computed (before its Adam step).
   *
   * @param policyLoss the clipped surrogate loss
   * @param valueLoss {@code mean((R - V)^2)}
   * @param entropy the policy's mean entropy
   * @param loss {@code policyLoss - entCoef entropy + vfCoef valueLoss}
   * @param approxKl {@code mean((r - 1) - log r)}
   * @param clipFraction share of rows whose ratio left {@code [1 - eps, 1 + eps]}
   * @param gradNorm the global gradient norm before clipping
   */
  public record Losses(double policyLoss, double valueLoss, double entropy, double loss, double approxKl,
      double clipFraction, double gradNorm) {}

  /**
   * The losses of one minibatch (its observations as the networks saw them: {@link #networkInput})
   * and their backward pass (gradients are left on the parameters,
   * not clipped): the compat tests compare them with PyTorch's.
   */
  public Losses backward(RolloutBuffer.Batch batch) {
    DjlRuntime.noGradOnThisThread();
    int b = batch.size();
    Gradients.zeroArrays(trainable);
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      NDArray obs = m.create(batch.observations(), new Shape(b, obsDim));
      NDArray oldLogProb = m.create(batch.oldLogProbs());
      NDArray adv = m.create(batch.advantages());
      if (config.normalizeAdvantage() && b > 1) {
        float[] a = batch.advantages();
        double mean = 0;
        for (float x : a) {
          mean += x;
        }
        mean /= b;
        double var = 0;
        for (float x : a) {
          var += (x - mean) * (x - mean);
        }
        double std = Math.sqrt(var / (b - 1));
        adv = Scalars.div(Scalars.sub(adv, (float) mean), (float) (std + 1e-8));
      }
      NDArray returns = m.create(batch.returns());
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray out = policy.forward(obs);
        NDArray logProb;
        NDArray entropy;
        if (discrete) {
          NDArray logP = out.logSoftmax(1);
          logProb = Distributions.categoricalLogProb(logP, m.create(batch.actions()), start);
          entropy = logP.exp().mul(logP).sum(new int[] {1}).neg();
        } else {
          NDArray actions = m.create(batch.actions(), new Shape(b, actDim));
          logProb = Distributions.diagGaussianLogProb(out, logStd, actions);
          entropy = Scalars.add(logStd, (float) HALF_LOG_2PI_E).sum().broadcast(new Shape(b));
        }
        NDArray logRatio = logProb.sub(oldLogProb);
        NDArray ratio = logRatio.exp();
        float eps = config.clipRange();
        NDArray surrogate = adv.mul(ratio).minimum(adv.mul(ratio.clip(1 - eps, 1 + eps)));
        NDArray policyLoss = surrogate.mean().neg();
        NDArray v = value.forward(obs).reshape(b);
        NDArray valueLoss = returns.sub(v).square().mean();
        NDArray entropyMean = entropy.mean();
        NDArray loss = policyLoss.add(Scalars.mul(valueLoss, config.vfCoef()));
        if (config.entCoef() != 0) {
          loss = loss.sub(Scalars.mul(entropyMean, config.entCoef()));
        }
        gc.backward(loss);
        double approxKl = Scalars.sub(ratio, 1).sub(logRatio).mean().getFloat();
        float[] r = ratio.toFloatArray();
        int clipped = 0;
        for (float x : r) {
          if (Math.abs(x - 1) > eps) {
            clipped++;
          }
        }
        return new Losses(policyLoss.getFloat(), valueLoss.getFloat(), entropyMean.getFloat(), loss.getFloat(),
            approxKl, (double) clipped / b, Double.NaN);
      }
    }
  }

  /** One minibatch step: {@link #backward}, the gradient-norm clip, Adam. */
  public Losses step(RolloutBuffer.Batch batch) {
    Losses l = backward(batch);
    double norm = Gradients.clipGlobalNormArrays(trainable, config.maxGradNorm());
    optimizer.step();
    return new Losses(l.policyLoss(), l.valueLoss(), l.entropy(), l.loss(), l.approxKl(), l.clipFraction(), norm);
  }

  /**
   * PPO's update on a full rollout whose advantages are computed: {@code nEpochs} shuffled passes
   * in minibatches of {@code batchSize} (the last one smaller when the rollout does not divide).
   * Returns the last epoch's mean losses.
   */
  public Losses update(RolloutBuffer rollout, Random rng) {
    int n = rollout.size();
    int[] order = new int[n];
    double[] sums = new double[7];
    int batches = 0;
    for (int epoch = 0; epoch < config.nEpochs(); epoch++) {
      for (int i = 0; i < n; i++) {
        order[i] = i;
      }
      for (int i = n - 1; i > 0; i--) {
        int j = rng.nextInt(i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      java.util.Arrays.fill(sums, 0);
      batches = 0;
      for (int s = 0; s < n; s += config.batchSize()) {
        Losses l = step(rollout.gather(java.util.Arrays.copyOfRange(order, s, Math.min(n, s + config.batchSize()))));
        double[] v = {l.policyLoss(), l.valueLoss(), l.entropy(), l.loss(), l.approxKl(), l.clipFraction(),
            l.gradNorm()};
        for (int k = 0; k < v.length; k++) {
          sums[k] += v[k];
        }
        batches++;
      }
    }
    return new Losses(sums[0] / batches, sums[1] / batches, sums[2] / batches, sums[3] / batches, sums[4] / batches,
        sums[5] / batches, sums[6] / batches);
  }

  /** The policy network (its last layer gives the Gaussian's mean or the logits). */
  public Mlp policy() {
    return policy;
  }

  public Mlp valueNetwork() {
    return value;
  }

  /** The Gaussian's log-std (null for a Discrete space). */
  public float[] logStd() {
    return logStd == null ? null : logStd.toFloatArray();
  }

  /** Each trainable array's gradient (policy layers, log-std for a Box, value layers), as flat floats. */
  public List<float[]> gradients() {
    List<float[]> out = new ArrayList<>();
    for (NDArray a : trainable) {
      try (NDArray g = a.getGradient()) {
        out.add(g.toFloatArray());
      }
    }
    return out;
  }

  /** {@value #KIND}. */
  @Override
  public String kind() {
    return KIND;
  }

  /** The learner's kind in checkpoints. */
  public static final String KIND = "residual-ppo";

  /**
   * The policy and value networks ({@code policy.*}, {@code value.*}), the Gaussian's log-std
   * ({@code log_std}), Adam's moments ({@code optim.*}) and the running statistics of observations
   * and returns ({@code obs_rms.mean}, {@code obs_rms.var}, {@code return_rms.*}, float64) with the
   * copies' running returns ({@code running_returns}).
   */
  @Override
  public NDList stateTensors(NDManager out) {
    NDList list = policy.namedTensors("policy", out);
    list.addAll(value.namedTensors("value", out));
    if (logStd != null) {
      list.add(LearnerStates.floats(out, "log_std", logStd.toFloatArray()));
    }
    list.addAll(optimizer.namedState("optim", out));
    for (String name : new String[] {"obs_rms", "return_rms"}) {
      RunningMeanStd stats = name.equals("obs_rms") ? obsStats : returnStats;
      if (stats != null) {
        list.add(LearnerStates.doubles(out, name + ".mean", stats.means()));
        list.add(LearnerStates.doubles(out, name + ".var", stats.variances()));
      }
    }
    if (returnStats != null && runningReturns != null) {
      list.add(LearnerStates.doubles(out, "running_returns", runningReturns));
    }
    return list;
  }

  @Override
  public com.google.gson.JsonObject stateValues() {
    com.google.gson.JsonObject v = new com.google.gson.JsonObject();
    v.addProperty("optim.step", optimizer.steps());
    if (obsStats != null) {
      v.addProperty("obs_rms.count", obsStats.count());
    }
    if (returnStats != null) {
      v.addProperty("return_rms.count", returnStats.count());
    }
    KlBudget.save(v, dual); // where the dual steps left the temperature
    return v;
  }

  @Override
  public void restoreState(java.util.Map<String, NDArray> tensors, com.google.gson.JsonObject values)
      throws java.io.IOException {
    DjlRuntime.noGradOnThisThread();
    policy.setFrom(tensors, "policy", "the checkpoint");
    value.setFrom(tensors, "value", "the checkpoint");
    if (logStd != null) {
      InPlace.copy(logStd, LearnerStates.tensor(tensors, "log_std", actDim, DataType.FLOAT32).toFloatArray());
    } else if (tensors.containsKey("log_std")) {
      throw new java.io.IOException("the checkpoint has a Gaussian's log-std; this PPO learner acts in Discrete actions");
    }
    optimizer.restoreNamedState(tensors, "optim", LearnerStates.whole(values, "optim.step"));
    for (String name : new String[] {"obs_rms", "return_rms"}) {
      RunningMeanStd stats = name.equals("obs_rms") ? obsStats : returnStats;
      if ((stats != null) != tensors.containsKey(name + ".mean")) {
        throw new java.io.IOException("the checkpoint's " + (name.equals("obs_rms") ? "observation normalization"
            : "reward scaling") + " setting differs from this config's");
      }
      if (stats != null) {
        stats.set(LearnerStates.tensor(tensors, name + ".mean", stats.dim(), DataType.FLOAT64).toDoubleArray(),
            LearnerStates.tensor(tensors, name + ".var", stats.dim(), DataType.FLOAT64).toDoubleArray(),
            values.has(name + ".count") ? values.get(name + ".count").getAsDouble() : stats.count());
      }
    }
    NDArray returns = tensors.get("running_returns");
    runningReturns = returnStats == null || returns == null ? null : returns.toDoubleArray();
    KlBudget.restore(values, dual);
  }

  /** Adam steps taken. */
  public long optimizerSteps() {
    return optimizer.steps();
  }

  @Override
  public void close() {
    optimizer.close();
    policy.close();
    value.close();
    manager.close();
  }
}
