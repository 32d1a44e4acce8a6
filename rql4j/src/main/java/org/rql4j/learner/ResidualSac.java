package org.rql4j.learner;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.prior.Distribution;
import org.rql4j.prior.Distributions;
import org.rql4j.prior.GaussianParams;
import org.rql4j.prior.PriorException;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.prior.PriorSpec;
import org.rql4j.runtime.DjlRuntime;
import org.rql4j.runtime.Scalars;

/**
 * Residual soft actor-critic (Algorithm 2 of docs/method.md) for Box actions: a tanh-squashed
 * Gaussian actor {@code pi_hat}, twin residual critics {@code Q_R1, Q_R2} with Polyak targets,
 * and a fixed or learned temperature {@code alphaHat}. With {@code a' ~ pi_hat(.|s')}:
 * {@code y = r_R + gamma (1 - terminated) (min_i Q_R_target_i(s',a') + w log pi(a'|s') - alphaHat log pi_hat(a'|s'))};
 * critic loss {@code 0.5 sum_i MSE(Q_R_i(s,a), y)} (SB3's form); actor loss
 * {@code E[alphaHat log pi_hat(a~|s) - min_i Q_R_i(s,a~) - w log pi(a~|s)]} with {@code a~}
 * reparameterized, so that its gradient flows through {@code a~} into the frozen prior's
 * log-prob. The prior's {@code mu(s), sigma(s)} are stored with each transition (they do not
 * depend on the action) and its log-prob is evaluated here from the actor's pre-tanh sample
 * {@code u}: {@code sum_i [log N(u_i; mu_i, sigma_i) - log(1 - tanh(u_i)^2 + 1e-6)]}. With
 * {@code priorWeight = 0} it is plain SAC (the baselines).
 *
 * <p>One gradient step runs as SB3's SAC does: the temperature update (with the temperature
 * before it used for the rest of the step), the critic update, the actor update against the
 * updated critics, then the Polyak update. Actions are normalized to [-1, 1] (stored and fed to the
 * critics so) and rescaled to the env's Box bounds when stepping. Exploration samples the actor's
 * own Gaussian (no gSDE). Not thread-safe.
 *
 * <p>Two optional stabilizers beyond the reference (both off by default, see
 * {@link ResidualSacConfig}): a global gradient-norm clip of each network's gradients before its
 * Adam step, and a floor on the prior's std in its log-prob.
 */
public final class ResidualSac implements OffPolicyLearner {

  private final ResidualSacConfig config;
  private final NDManager manager;
  private final int obsDim;
  private final int actDim;
  private final Space.Box box;
  private final double[] low;
  private final double[] high;
  private final Mlp actor;
  private final Mlp q1;
  private final Mlp q2;
  private final Mlp q1Target;
  private final Mlp q2Target;
  private final List<Parameter> criticParameters = new ArrayList<>();
  private final NDArray logAlpha;
  private final TorchAdam actorOptimizer;
  private final TorchAdam criticOptimizer;
  private final TorchAdam alphaOptimizer;
  private final double targetEntropy;
  // under a KL budget: the temperature the dual steps set (w = kappa * alphaHat) and the KL's moving average
  private KlBudget.Dual dual;
  // under a KL budget, first: the actor imitates the prior until the KL is within the budget (see setKlBudget)
  private boolean imitating;
  private long imitationSteps;

  /** The most gradient steps the imitation that starts a budgeted run takes (see {@link #setKlBudget}). */
  public static final long MAX_IMITATION_STEPS = 10000;

  /**
   * The actor's learning rate while it imitates the prior, when the config's is lower: fitting a prior's
   * Gaussian to within 0.1 nats is a regression that the customization's rate (3e-4 by default) takes
   * tens of thousands of steps for (an SB3 SAC Pendulum prior: a KL of 1.4 after 5000 steps at 3e-4; at
   * 1e-3 about 0.1 after 5000 and 0.03 after 10000).
   */
  public static final float IMITATION_LEARNING_RATE = 1e-3f;

  /**
   * @param obsDim flat observation width
   * @param actionSpace the env's Box action space (bounded)
   */
  public ResidualSac(ResidualSacConfig config, int obsDim, Space actionSpace) {
    if (!(actionSpace instanceof Space.Box box)) {
      throw new IllegalArgumentException("residual SAC needs a Box action space, got " + actionSpace
          + " (use residual soft Q-learning for Discrete actions)");
    }
    org.rql4j.env.SupportedSpaces.checkAction(null, actionSpace); // one-dimensional: actions travel as [n, d]
    for (int i = 0; i < box.low().length; i++) {
      if (!Double.isFinite(box.low()[i]) || !Double.isFinite(box.high()[i]) || box.low()[i] >= box.high()[i]) {
        throw new IllegalArgumentException("residual SAC needs finite Box action bounds with low < high, got "
            + actionSpace + " (rescale the env's actions to a bounded Box)");
      }
    }
    DjlRuntime.configure();
    DjlRuntime.noGradOnThisThread();
    this.config = config;
    this.obsDim = obsDim;
    this.actDim = box.low().length;
    this.box = box;
    this.low = box.low();
    this.high = box.high();
    this.targetEntropy = config.targetEntropy(actDim);
    this.manager = NDManager.newBaseManager("PyTorch");
    int[] h = config.hidden();
    long seed = config.seed();
    this.actor = new Mlp(manager, obsDim, h, 2 * actDim, seed);
    this.q1 = new Mlp(manager, obsDim + actDim, h, 1, seed + 1);
    this.q2 = new Mlp(manager, obsDim + actDim, h, 1, seed + 2);
    this.q1Target = new Mlp(manager, obsDim + actDim, h, 1, seed + 1);
    this.q2Target = new Mlp(manager, obsDim + actDim, h, 1, seed + 2);
    q1Target.copyFrom(q1);
    q2Target.copyFrom(q2);
    criticParameters.addAll(q1.parameters());
    criticParameters.addAll(q2.parameters());
    try (NDArray wrapped = manager.create(new float[] {(float) StrictMath.log(config.alphaHat())}, new Shape(1))) {
      this.logAlpha = wrapped.duplicate(); // libtorch memory: Adam updates it in place (InPlace)
    }
    logAlpha.setRequiresGradient(true);
    this.actorOptimizer = new TorchAdam(manager, actor.parameters(), config.learningRate());
    this.criticOptimizer = new TorchAdam(manager, criticParameters, config.learningRate());
    this.alphaOptimizer = TorchAdam.ofArrays(manager, List.of(logAlpha), config.learningRate());
  }

  @Override
  public ResidualSacConfig config() {
    return config;
  }

  @Override
  public org.rql4j.policy.SavablePolicy policy(org.rql4j.prior.PriorPolicy prior, Space actionSpace, long seed) {
    return new SacPolicy(this, seed);
  }

  /** The learner kind a checkpoint of residual SAC records. */
  public static final String KIND = "residual-sac";

  /** {@value #KIND}. */
  @Override
  public String kind() {
    return KIND;
  }

  public Mlp actor() {
    return actor;
  }

  /** The online critics {@code Q_R1, Q_R2} and their targets, in that order. */
  public List<Mlp> critics() {
    return List.of(q1, q2, q1Target, q2Target);
  }

  public double[] actionLow() {
    return low.clone();
  }

  public double[] actionHigh() {
    return high.clone();
  }

  public int actionDim() {
    return actDim;
  }

  /** The temperature now ({@code exp(log alphaHat)}, or where a KL budget's dual steps set it). */
  public double alphaHat() {
    return dual != null ? dual.alphaHat() : StrictMath.exp(logAlpha.getFloat());
  }

  /** Sets the temperature (tests; a learned temperature, or a KL budget's, continues from it). */
  public void setAlphaHat(double alpha) {
    DjlRuntime.noGradOnThisThread();
    InPlace.copy(logAlpha, new float[] {(float) StrictMath.log(alpha)});
    if (dual != null) {
      dual.setAlphaHat(alpha);
    }
  }

  /**
   * Lets a KL budget set the temperature from now on ({@link KlBudget}): {@code alphaHat} starts at the
   * config's (clamped to the budget's range) and moves by a dual step after every gradient step, on the
   * closed-form KL between the actor's and the prior's pre-tanh Gaussians ({@link #klToPrior}); the
   * prior weight follows it, {@code w = kappa * alphaHat} (the config's {@code priorWeight} and its warm
   * start are not used: a multiple of {@code w} would be another {@code kappa}, with a KL floor). Null turns
   * it off.
   *
   * <p>The actor starts from random weights, far from the prior, so its first KL says nothing about the
   * temperature: a dual step on it would drive {@code alphaHat} to its upper clamp while the actor is
   * still learning what the prior does. So a budgeted run starts by imitating the prior: the actor's loss
   * is the closed-form KL to the prior ({@link #imitationBackward}; the critics train as usual) until the KL
   * on a batch is within the budget, or for at most {@link #MAX_IMITATION_STEPS} gradient steps, at a learning
   * rate of at least {@link #IMITATION_LEARNING_RATE}; then the
   * customization and the dual steps begin. Soft Q-learning starts at the prior by construction
   * ({@code Q_R = 0}); PPO from a copy of the prior's network where it can (diag_gaussian priors).
   *
   * @throws IllegalArgumentException for a learner without the prior, or one that learns its temperature
   *     for a target entropy (the budget replaces that)
   */
  @Override
  public void setKlBudget(KlBudget budget) {
    if (budget != null) {
      budget.requirePriorItself("residual SAC");
    }
    if (budget != null && !usesPrior()) {
      throw new IllegalArgumentException("a KL budget needs the prior: this learner has priorWeight 0 (a baseline "
          + "without the prior has no KL to it)");
    }
    if (budget != null && config.learnAlpha()) {
      throw new IllegalArgumentException("a KL budget sets residual SAC's temperature itself: drop the learned "
          + "temperature (alpha_hat auto), or drop the budget");
    }
    double alpha = alphaHat();
    this.dual = budget == null ? null : new KlBudget.Dual(budget, alpha);
    if (dual != null) {
      setAlphaHat(dual.alphaHat());
    }
    imitating = dual != null;
    imitationSteps = 0;
  }

  @Override
  public KlBudget klBudget() {
    return dual == null ? null : dual.budget();
  }

  @Override
  public double budgetTemperature() {
    return dual == null ? Double.NaN : dual.alphaHat();
  }

  @Override
  public double budgetKl() {
    return dual == null ? Double.NaN : dual.klReported();
  }

  /** The prior weight {@code w} in force at env step {@code step}: the config's, or {@code kappa * alphaHat} under a budget. */
  public double priorWeightAt(long step) {
    if (dual == null) {
      return config.priorWeightAt(step);
    }
    return dual.priorWeight(); // no warm start under a budget: the imitation does its work, and a multiple would be kappa != 1
  }

  /**
   * The mean over rows of {@code KL(pi_hat(.|s) || pi(.|s))} between the actor's pre-tanh Gaussian and the
   * prior's, in closed form and summed over the action dimensions:
   * {@code sum_i [log(sigma_i / sigmaHat_i) + (sigmaHat_i^2 + (muHat_i - mu_i)^2) / (2 sigma_i^2) - 1/2]}.
   * tanh is a bijection, so this is also the KL between the squashed policies. {@code priorRows} are
   * the stored {@code [mean, logStd]} rows; the prior's std is floored as in its log-prob
   * ({@code priorMinStd}), so it is the KL to the prior the learner holds on to.
   */
  public double klToPrior(float[] observations, float[] priorRows) {
    DjlRuntime.noGradOnThisThread();
    int n = observations.length / obsDim;
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      Gaussian g = actorGaussian(m.create(observations, new Shape(n, obsDim)));
      Gaussian p = priorGaussian(m.create(priorRows, new Shape(n, 2L * actDim)));
      return Distributions.meanAsDouble(Distributions.diagGaussianKl(g.mean, g.logStd, p.mean, p.logStd));
    }
  }

  /** The KL on the batch's states with the updated actor, into the moving average; then the dual step. */
  private void dualStep(ReplayBuffer.Batch batch) {
    dual.observe(klToPrior(batch.observations(), batch.priorFeatures()), 1);
  }

  @Override
  public void checkSpaces(String envId, Space observationSpace, Space actionSpace) {
    if (!(actionSpace instanceof Space.Box envBox) || !java.util.Arrays.equals(envBox.low(), low)
        || !java.util.Arrays.equals(envBox.high(), high)) {
      throw new IllegalArgumentException("env " + envId + " acts in " + actionSpace + " but the learner was built "
          + "for a Box of " + actDim + " actions in [" + java.util.Arrays.toString(low) + ", "
          + java.util.Arrays.toString(high) + "]");
    }
    OffPolicyLearner.checkObservationWidth(envId, observationSpace, obsDim);
  }

  @Override
  public void checkPrior(PriorSpec spec) {
    if (spec.distribution() != Distribution.SQUASHED_GAUSSIAN) {
      throw new PriorException(spec.label() + " is a " + spec.distribution().sidecarName() + " policy; residual SAC needs a "
          + "squashed_gaussian prior (a SAC actor, e.g. exported from SB3 with `rql4j-bridge export --kind sb3-sac`)");
    }
    // its log-probs are of actions normalized by ITS bounds; the learner normalizes by the env's
    if (spec.actionLow() != null && (!java.util.Arrays.equals(spec.actionLow(), low)
        || !java.util.Arrays.equals(spec.actionHigh(), high))) {
      throw new PriorException(spec.label() + " scales its actions to ["
          + java.util.Arrays.toString(spec.actionLow()) + ", " + java.util.Arrays.toString(spec.actionHigh())
          + "] but the env's Box is [" + java.util.Arrays.toString(low) + ", " + java.util.Arrays.toString(high)
          + "]: its log-probs would be of other actions; export the prior with the env's action space");
    }
  }

  @Override
  public int actionWidth() {
    return actDim;
  }

  /** The prior's pre-tanh {@code mean} and {@code logStd} per state: {@code [mean (d), logStd (d)]}. */
  @Override
  public int priorWidth() {
    return usesPrior() ? 2 * actDim : 0;
  }

  @Override
  public float[] priorFeatures(PriorPolicy prior, float[] observations, int n) {
    DjlRuntime.noGradOnThisThread();
    return prior.outputs(manager, observations, n);
  }

  /** Uniform random actions before {@code learningStarts}, then samples of {@code pi_hat}. */
  @Override
  public Actions act(float[] observations, float[] priorFeatures, long step, Random rng) {
    int n = observations.length / obsDim;
    float[] a;
    if (step < config.learningStarts()) {
      a = new float[n * actDim];
      for (int i = 0; i < a.length; i++) {
        a[i] = (float) (rng.nextDouble() * 2 - 1);
      }
    } else {
      a = act(observations, false, rng);
    }
    return new Actions(a, Tensor.ofFloats(toBounds(a), n, actDim));
  }

  /**
   * {@code pi_hat}'s actions for {@code [n, obsDim]} observations, normalized to [-1, 1]:
   * {@code tanh(mean)} when deterministic, else {@code tanh(mean + std * noise)} (noise from {@code rng}).
   */
  public float[] act(float[] observations, boolean deterministic, Random rng) {
    DjlRuntime.noGradOnThisThread();
    int n = observations.length / obsDim;
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      Gaussian g = actorGaussian(m.create(observations, new Shape(n, obsDim)));
      NDArray u = deterministic ? g.mean : sample(g, m.create(noise(n, rng), new Shape(n, actDim))).u();
      return u.tanh().toFloatArray();
    }
  }

  /**
   * {@code pi_hat}'s pre-tanh Gaussian for {@code [n, obsDim]} observations: {@code {mean, logStd}},
   * each {@code [n, actDim]} row-major, the log-std clamped as in training (what an exported policy's
   * {@code forward} returns, docs/prior-package.md).
   */
  public float[][] actorDistribution(float[] observations) {
    DjlRuntime.noGradOnThisThread();
    int n = observations.length / obsDim;
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      Gaussian g = actorGaussian(m.create(observations, new Shape(n, obsDim)));
      return new float[][] {g.mean.toFloatArray(), g.logStd.toFloatArray()};
    }
  }

  /** Normalized actions in [-1, 1] rescaled to the Box bounds: {@code low + (a + 1) / 2 (high - low)}. */
  public float[] toBounds(float[] normalized) {
    return box.fromUnitInterval(normalized);
  }

  /** {@code n * actDim} standard normal floats from {@code rng}. */
  public float[] noise(int n, Random rng) {
    float[] e = new float[n * actDim];
    for (int i = 0; i < e.length; i++) {
      e[i] = (float) rng.nextGaussian();
    }
    return e;
  }

  @Override
  public double train(ReplayBuffer buffer, long step, Random rng) {
    double loss = Double.NaN;
    for (int g = 0; g < config.gradientSteps(); g++) {
      ReplayBuffer.Batch b = buffer.sample(config.batchSize(), rng);
      Losses l = update(b, noise(b.size(), rng), noise(b.size(), rng), priorWeightAt(step));
      if (imitating) {
        imitationSteps++;
        imitating = klToPrior(b.observations(), b.priorFeatures()) > dual.budget().nats()
            && imitationSteps < MAX_IMITATION_STEPS;
      } else if (dual != null) {
        dualStep(b);
      }
      // the critic loss is reported; a non-finite actor or temperature loss is reported as NaN (divergence)
      boolean finite = Double.isFinite(l.actorLoss()) && (!config.learnAlpha() || Double.isFinite(l.alphaLoss()));
      loss = finite ? l.criticLoss() : Double.NaN;
    }
    return loss;
  }

  @Override
  public String explorationName() {
    return "alpha";
  }

  @Override
  public double exploration(long step) {
    return alphaHat();
  }

  @Override
  public long optimizerSteps() {
    return criticOptimizer.steps() + actorOptimizer.steps() + alphaOptimizer.steps();
  }

  /**
   * What one gradient step computed.
   *
   * @param target {@code y} per row
   * @param alphaHat the temperature the step used (before its own temperature update)
   * @param alphaLoss the temperature's loss (NaN when it is fixed)
   * @param criticGradNorm the critics' global gradient norm before any clipping (NaN when not clipping)
   * @param actorGradNorm the actor's, likewise
   */
  public record Losses(float[] target, double criticLoss, double actorLoss, double alphaLoss, double alphaHat,
      double criticGradNorm, double actorGradNorm) {}

  private record Gaussian(NDArray mean, NDArray logStd) {}

  /** A reparameterized draw of {@code pi_hat}: pre-tanh {@code u}, the action {@code tanh(u)}, its log-prob. */
  private record Sample(NDArray u, NDArray action, NDArray logPiHat) {}

  private static Sample sample(Gaussian g, NDArray standardNormal) {
    NDArray u = g.mean.add(g.logStd.exp().mul(standardNormal));
    return new Sample(u, u.tanh(), Distributions.squashedGaussianLogProbPreTanh(g.mean, g.logStd, u));
  }

  /** The actor's pre-tanh Gaussian, log-std clamped to [-20, 2]. */
  private Gaussian actorGaussian(NDArray obs) {
    NDArray out = actor.forward(obs);
    NDArray mean = out.get(new NDIndex(":, :" + actDim));
    NDArray logStd = out.get(new NDIndex(":, " + actDim + ":"))
        .clip(ResidualSacConfig.LOG_STD_MIN, ResidualSacConfig.LOG_STD_MAX);
    return new Gaussian(mean, logStd);
  }

  private static NDArray critic(Mlp q, NDArray obs, NDArray action) {
    return q.forward(NDArrays.concat(new NDList(obs, action), 1)).reshape(-1);
  }

  /**
   * {@code log pi(tanh(u)|s)} of the prior from its stored {@code [mean, logStd]} rows, its std
   * floored at {@code priorMinStd} when that is set.
   */
  NDArray priorLogProb(NDArray priorRows, NDArray u) {
    Gaussian p = priorGaussian(priorRows);
    return Distributions.squashedGaussianLogProbPreTanh(p.mean, p.logStd, u);
  }

  /**
   * The prior's pre-tanh Gaussian from its stored {@code [mean, logStd]} rows, its log-std floored at
   * {@code log(priorMinStd)} when that is set: the prior the learner holds on to.
   */
  private Gaussian priorGaussian(NDArray priorRows) {
    NDArray mean = priorRows.get(new NDIndex(":, :" + actDim));
    NDArray logStd = priorRows.get(new NDIndex(":, " + actDim + ":"));
    return new Gaussian(mean, config.priorMinStd() > 0
        ? Scalars.maximum(logStd, (float) StrictMath.log(config.priorMinStd())) : logStd);
  }

  /**
   * One gradient step (SB3's order, see the class comment) with the given standard-normal noise:
   * {@code noiseNext} draws {@code a'} for the target, {@code noiseCurrent} draws {@code a~} for
   * the actor and temperature losses ({@code [batch, actDim]} each).
   *
   * @param priorWeight {@code w} in force (the warm start's multiple early on)
   */
  public Losses update(ReplayBuffer.Batch batch, float[] noiseNext, float[] noiseCurrent, double priorWeight) {
    DjlRuntime.noGradOnThisThread();
    double alpha = alphaHat();
    double alphaLoss = Double.NaN;
    if (config.learnAlpha()) {
      alphaLoss = alphaBackward(batch, noiseCurrent);
      alphaOptimizer.step();
    }
    boolean clip = config.maxGradNorm() > 0;
    Critic c = criticBackward(batch, noiseNext, priorWeight, alpha);
    double criticNorm = clip ? Gradients.clipGlobalNorm(criticParameters, config.maxGradNorm()) : Double.NaN;
    criticOptimizer.step();
    double actorLoss = imitating ? imitationBackward(batch) : actorBackward(batch, noiseCurrent, priorWeight, alpha);
    double actorNorm = clip ? Gradients.clipGlobalNorm(actor.parameters(), config.maxGradNorm()) : Double.NaN;
    actorOptimizer.step(imitating ? Math.max(1f, IMITATION_LEARNING_RATE / config.learningRate()) : 1f);
    q1Target.softUpdateFrom(q1, config.tau());
    q2Target.softUpdateFrom(q2, config.tau());
    return new Losses(c.target(), c.loss(), actorLoss, alphaLoss, alpha, criticNorm, actorNorm);
  }

  /** The critic target and loss of a batch; gradients are left in the critics' parameters. */
  public record Critic(float[] target, double loss) {}

  /**
   * The critic half of a step: {@code y} from the target critics and a fresh {@code a' ~ pi_hat(.|s')},
   * the loss {@code 0.5 (MSE(Q_R1, y) + MSE(Q_R2, y))}, and its backward pass (the critics'
   * gradients are replaced).
   */
  public Critic criticBackward(ReplayBuffer.Batch batch, float[] noiseNext, double priorWeight, double alpha) {
    DjlRuntime.noGradOnThisThread();
    int b = batch.size();
    Gradients.zero(criticParameters);
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      NDArray obs = m.create(batch.observations(), new Shape(b, obsDim));
      NDArray actions = m.create(batch.actions(), new Shape(b, actDim));
      NDArray nextObs = m.create(batch.nextObservations(), new Shape(b, obsDim));
      NDArray y;
      {
        Sample next = sample(actorGaussian(nextObs), m.create(noiseNext, new Shape(b, actDim)));
        NDArray logPrior = priorWeight == 0 ? null
            : priorLogProb(m.create(batch.nextPriorFeatures(), new Shape(b, 2L * actDim)), next.u());
        y = softTarget(m.create(batch.rewards()), m.create(batch.notTerminated()), critic(q1Target, nextObs,
            next.action()), critic(q2Target, nextObs, next.action()), logPrior, next.logPiHat(), config.gamma(), alpha,
            priorWeight);
      }
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray l1 = critic(q1, obs, actions).sub(y).square().mean();
        NDArray l2 = critic(q2, obs, actions).sub(y).square().mean();
        NDArray loss = Scalars.mul(l1.add(l2), 0.5); // in the loss's float32 (a float64 scalar would promote it)
        gc.backward(loss);
        return new Critic(y.toFloatArray(), loss.getFloat());
      }
    }
  }

  /**
   * The actor half of a step: {@code a~ = tanh(mean + std * noise)} and the loss
   * {@code mean(alpha log pi_hat(a~|s) - min_i Q_R_i(s,a~) - w log pi(a~|s))} with its backward pass
   * (the actor's gradients are replaced; the critics' are cleared again).
   */
  public double actorBackward(ReplayBuffer.Batch batch, float[] noiseCurrent, double priorWeight, double alpha) {
    DjlRuntime.noGradOnThisThread();
    int b = batch.size();
    Gradients.zero(actor.parameters());
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      NDArray obs = m.create(batch.observations(), new Shape(b, obsDim));
      NDArray eps = m.create(noiseCurrent, new Shape(b, actDim));
      NDArray prior = priorWeight == 0 ? null : m.create(batch.priorFeatures(), new Shape(b, 2L * actDim));
      double loss;
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        Sample s = sample(actorGaussian(obs), eps);
        NDArray perRow = Scalars.mul(s.logPiHat(), alpha).sub(critic(q1, obs, s.action()).minimum(critic(q2, obs, s.action())));
        if (prior != null) {
          // the gradient flows through the pre-tanh sample u into the frozen prior's log-prob
          perRow = perRow.sub(Scalars.mul(priorLogProb(prior, s.u()), priorWeight));
        }
        NDArray l = perRow.mean();
        gc.backward(l);
        loss = l.getFloat();
      }
      Gradients.zero(criticParameters);
      return loss;
    }
  }

  /**
   * The actor's loss while it imitates the prior at the start of a budgeted run (see {@link #setKlBudget}):
   * the mean closed-form {@code KL(pi_hat(.|s) || pi(.|s))} over the batch's states, and its backward pass
   * (the actor's gradients are replaced).
   */
  public double imitationBackward(ReplayBuffer.Batch batch) {
    DjlRuntime.noGradOnThisThread();
    int b = batch.size();
    Gradients.zero(actor.parameters());
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      NDArray obs = m.create(batch.observations(), new Shape(b, obsDim));
      Gaussian p = priorGaussian(m.create(batch.priorFeatures(), new Shape(b, 2L * actDim)));
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        Gaussian g = actorGaussian(obs);
        NDArray l = Distributions.diagGaussianKl(g.mean, g.logStd, p.mean, p.logStd).mean();
        gc.backward(l);
        return l.getFloat();
      }
    }
  }

  /**
   * The hidden widths of a prior whose module is a Stable-Baselines3 SAC actor as {@code rql4j-bridge export
   * --kind sb3-sac} writes it (Linear layers {@code latent.0, latent.2, ...} with ReLU between, then the heads
   * {@code mu} and {@code log_std_head}, the log-std clamped to [-20, 2]: this learner's actor with its last
   * layer split in two), or null when its parameters are not laid out so.
   */
  public static int[] sb3ActorWidths(java.util.Map<String, float[]> params, int obsDim, int actDim) {
    List<String> latent = params.keySet().stream().filter(k -> k.matches("latent\\.\\d+\\.weight"))
        .sorted(java.util.Comparator.comparingInt(k -> Integer.parseInt(k.split("\\.")[1]))).toList();
    if (latent.isEmpty() || params.size() != 2 * latent.size() + 4) {
      return null;
    }
    int[] widths = new int[latent.size()];
    int fanIn = obsDim;
    for (int k = 0; k < widths.length; k++) {
      float[] bias = params.get(latent.get(k).replace(".weight", ".bias"));
      if (bias == null || params.get(latent.get(k)).length != bias.length * fanIn) {
        return null;
      }
      widths[k] = bias.length;
      fanIn = bias.length;
    }
    for (String head : new String[] {"mu", "log_std_head"}) {
      float[] w = params.get(head + ".weight");
      float[] b = params.get(head + ".bias");
      if (w == null || b == null || b.length != actDim || w.length != actDim * fanIn) {
        return null;
      }
    }
    return widths;
  }

  /**
   * Starts the actor as an exact copy of the prior's, so that a budgeted run starts at {@code KL = 0} with
   * nothing to imitate (the imitation phase of {@link #setKlBudget} is skipped): for a prior whose module is
   * an SB3 SAC actor ({@link #sb3ActorWidths}) with this config's hidden widths. The copy is checked on a
   * probe batch: the actor's mean and log-std must equal the prior's.
   *
   * @throws IllegalArgumentException when the prior's module is not such an actor, or its widths differ
   */
  public void initializeActorFrom(org.rql4j.prior.TorchScriptPrior prior) {
    DjlRuntime.noGradOnThisThread();
    String label = "prior '" + prior.spec().name() + "'";
    java.util.Map<String, float[]> params = prior.namedParameters();
    int[] widths = sb3ActorWidths(params, obsDim, actDim);
    if (widths == null || !java.util.Arrays.equals(widths, config.hidden())) {
      throw new IllegalArgumentException("cannot start the actor as a copy of " + label + ": its module "
          + (widths == null ? "is not an SB3 SAC actor (latent.K Linear layers, heads mu and log_std_head)"
              : "has hidden widths " + java.util.Arrays.toString(widths) + ", the actor "
                  + java.util.Arrays.toString(config.hidden())));
    }
    List<float[]> weights = new ArrayList<>();
    int fanIn = obsDim;
    for (int k = 0; k < widths.length; k++) {
      if (!params.containsKey("latent." + 2 * k + ".weight")) {
        throw new IllegalArgumentException("cannot start the actor as a copy of " + label + ": its latent layers are "
            + "not numbered 0, 2, 4, ... (Linear, ReLU, Linear, ...)");
      }
      weights.add(params.get("latent." + 2 * k + ".weight"));
      weights.add(params.get("latent." + 2 * k + ".bias"));
      fanIn = widths[k];
    }
    float[] w = new float[2 * actDim * fanIn];
    System.arraycopy(params.get("mu.weight"), 0, w, 0, actDim * fanIn); // rows: the means, then the log-stds
    System.arraycopy(params.get("log_std_head.weight"), 0, w, actDim * fanIn, actDim * fanIn);
    float[] b = new float[2 * actDim];
    System.arraycopy(params.get("mu.bias"), 0, b, 0, actDim);
    System.arraycopy(params.get("log_std_head.bias"), 0, b, actDim, actDim);
    weights.add(w);
    weights.add(b);
    actor.importWeights(weights);
    Random rng = new Random(12345);
    float[] probe = new float[16 * obsDim];
    for (int i = 0; i < probe.length; i++) {
      probe[i] = (float) rng.nextGaussian();
    }
    double worst = 0;
    float[][] ours = actorDistribution(probe);
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      GaussianParams theirs = prior.distribution(m.create(probe, new Shape(16, obsDim)));
      float[][] pairs = {ours[0], theirs.mean().toFloatArray(), ours[1], theirs.logStd().toFloatArray()};
      for (int p = 0; p < 4; p += 2) {
        for (int i = 0; i < pairs[p].length; i++) {
          worst = Math.max(worst, Math.abs(pairs[p][i] - pairs[p + 1][i]) / Math.max(1, Math.abs(pairs[p + 1][i])));
        }
      }
    }
    if (!(worst <= 1e-4)) {
      throw new IllegalArgumentException("cannot start the actor as a copy of " + label + ": with its weights copied "
          + "the actor's Gaussian differs from the prior's by " + worst + " on a probe batch (another activation, or "
          + "input normalization inside the module)");
    }
    imitating = false;
  }

  /** Whether the actor is still imitating the prior at the start of a budgeted run (see {@link #setKlBudget}). */
  public boolean imitating() {
    return imitating;
  }

  /**
   * The temperature's loss {@code -mean(log alphaHat (log pi_hat(a~|s) + targetEntropy))} (the
   * log-prob detached) and its backward pass.
   */
  public double alphaBackward(ReplayBuffer.Batch batch, float[] noiseCurrent) {
    DjlRuntime.noGradOnThisThread();
    int b = batch.size();
    try (NDScope scope = new NDScope(); NDManager m = manager.newSubManager()) {
      NDArray obs = m.create(batch.observations(), new Shape(b, obsDim));
      Sample s = sample(actorGaussian(obs), m.create(noiseCurrent, new Shape(b, actDim)));
      float c = Scalars.add(s.logPiHat(), targetEntropy).mean().getFloat();
      Gradients.zeroArrays(List.of(logAlpha));
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray l = Scalars.mul(logAlpha, -c).sum();
        gc.backward(l);
        return l.getFloat();
      }
    }
  }

  /** The temperature's log and its gradient (tests). */
  public float[] logAlphaAndGradient() {
    try (NDArray g = logAlpha.getGradient()) {
      return new float[] {logAlpha.getFloat(), g.getFloat()};
    }
  }

  /**
   * The soft critic target of Algorithm 2, batched over rows:
   * {@code y = r + gamma (1 - terminated) (min(q1Next, q2Next) + w logPriorNext - alphaHat logPiHatNext)}
   * ({@code logPriorNext} may be null when {@code w} is 0).
   */
  public static NDArray softTarget(NDArray reward, NDArray notTerminated, NDArray q1Next, NDArray q2Next,
      NDArray logPriorNext, NDArray logPiHatNext, double gamma, double alphaHat, double priorWeight) {
    NDArray soft = q1Next.minimum(q2Next).sub(Scalars.mul(logPiHatNext, alphaHat));
    if (priorWeight != 0) {
      soft = soft.add(Scalars.mul(logPriorNext, priorWeight));
    }
    return reward.add(Scalars.mul(notTerminated, gamma).mul(soft));
  }

  /**
   * The actor ({@code actor.*}), critics and targets ({@code q1.*}, {@code q2.*}, {@code q1_target.*},
   * {@code q2_target.*}), the log-temperature ({@code log_alpha}) and the three optimizers' moments
   * ({@code actor_optim.*}, {@code critic_optim.*}, {@code alpha_optim.*}).
   */
  @Override
  public NDList stateTensors(NDManager out) {
    NDList list = new NDList();
    list.addAll(actor.namedTensors("actor", out));
    list.addAll(q1.namedTensors("q1", out));
    list.addAll(q2.namedTensors("q2", out));
    list.addAll(q1Target.namedTensors("q1_target", out));
    list.addAll(q2Target.namedTensors("q2_target", out));
    list.add(LearnerStates.floats(out, "log_alpha", new float[] {logAlpha.getFloat()}));
    list.addAll(actorOptimizer.namedState("actor_optim", out));
    list.addAll(criticOptimizer.namedState("critic_optim", out));
    list.addAll(alphaOptimizer.namedState("alpha_optim", out));
    return list;
  }

  @Override
  public com.google.gson.JsonObject stateValues() {
    com.google.gson.JsonObject v = new com.google.gson.JsonObject();
    v.addProperty("actor_optim.step", actorOptimizer.steps());
    v.addProperty("critic_optim.step", criticOptimizer.steps());
    v.addProperty("alpha_optim.step", alphaOptimizer.steps());
    KlBudget.save(v, dual); // where the dual steps left the temperature
    if (dual != null) {
      v.addProperty("kl_budget.imitating", imitating);
      v.addProperty("kl_budget.imitation_steps", imitationSteps);
    }
    return v;
  }

  @Override
  public void restoreState(java.util.Map<String, NDArray> tensors, com.google.gson.JsonObject values)
      throws IOException {
    actor.setFrom(tensors, "actor", "the checkpoint");
    q1.setFrom(tensors, "q1", "the checkpoint");
    q2.setFrom(tensors, "q2", "the checkpoint");
    q1Target.setFrom(tensors, "q1_target", "the checkpoint");
    q2Target.setFrom(tensors, "q2_target", "the checkpoint");
    setAlphaHat(StrictMath.exp(LearnerStates.tensor(tensors, "log_alpha", 1, ai.djl.ndarray.types.DataType.FLOAT32)
        .toFloatArray()[0]));
    actorOptimizer.restoreNamedState(tensors, "actor_optim", LearnerStates.whole(values, "actor_optim.step"));
    criticOptimizer.restoreNamedState(tensors, "critic_optim", LearnerStates.whole(values, "critic_optim.step"));
    alphaOptimizer.restoreNamedState(tensors, "alpha_optim", LearnerStates.whole(values, "alpha_optim.step"));
    KlBudget.restore(values, dual);
    if (dual != null) {
      setAlphaHat(dual.alphaHat());
      imitating = values.has("kl_budget.imitating") && values.get("kl_budget.imitating").getAsBoolean();
      imitationSteps = values.has("kl_budget.imitation_steps") ? values.get("kl_budget.imitation_steps").getAsLong() : 0;
    }
  }

  /** NDArrays alive in this learner's managers (networks, optimizer state, anything leaked). */
  public int liveArrays() {
    return manager.getManagedArrays().size();
  }

  @Override
  public void close() {
    actorOptimizer.close();
    criticOptimizer.close();
    alphaOptimizer.close();
    for (Mlp net : List.of(actor, q1, q2, q1Target, q2Target)) {
      net.close();
    }
    manager.close();
  }
}
