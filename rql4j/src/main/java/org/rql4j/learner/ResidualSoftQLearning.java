package org.rql4j.learner;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Random;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.runtime.DjlRuntime;
import org.rql4j.runtime.Scalars;

/**
 * Residual soft Q-learning (Algorithm 1 of docs/method.md, RQL paper Alg. 1): a DQN-style learner
 * of the residual Q-function {@code Q_R} whose customized policy is
 * {@code pi_hat(a|s) ∝ exp((Q_R(s,a) + w log pi(a|s)) / alphaHat)} for a frozen prior {@code pi}.
 * With {@code priorWeight = 0} it is plain soft Q-learning (the baselines).
 *
 * <p>Only the update and the action rule live here; collection, evaluation and checkpoints are
 * in {@code org.rql4j.train}. Not thread-safe.
 */
public final class ResidualSoftQLearning implements OffPolicyLearner {

  private final ResidualSoftQConfig config;
  private final NDManager manager;
  private final Mlp qResidual;
  private final Mlp qResidualTarget;
  private final TorchAdam optimizer;
  private final int nActions;
  private long actionStart;
  // the temperature and prior weight in use: the config's, unless a KL budget moves them (w = kappa * alphaHat)
  private double alphaHat;
  private double priorWeight;
  private KlBudget.Dual dual; // under a KL budget

  /** Diagnostics of one gradient step. */
  public record UpdateStats(double loss, double meanQ, double gradNorm) {}

  public ResidualSoftQLearning(ResidualSoftQConfig config, int obsDim, int nActions) {
    DjlRuntime.configure();
    this.config = config;
    this.nActions = nActions;
    this.alphaHat = config.alphaHat();
    this.priorWeight = config.priorWeight();
    this.manager = NDManager.newBaseManager("PyTorch");
    this.qResidual = new Mlp(manager, obsDim, config.hidden(), nActions, config.seed());
    this.qResidualTarget = new Mlp(manager, obsDim, config.hidden(), nActions, config.seed());
    this.qResidualTarget.copyFrom(qResidual);
    this.optimizer = new TorchAdam(manager, qResidual.parameters(), config.learningRate());
  }

  @Override
  public ResidualSoftQConfig config() {
    return config;
  }

  @Override
  public org.rql4j.policy.SavablePolicy policy(org.rql4j.prior.PriorPolicy prior, org.rql4j.env.Space actionSpace,
      long seed) {
    return new CustomizedPolicy(this, usesPrior() ? prior : null, ((org.rql4j.env.Space.Discrete) actionSpace).start(),
        seed);
  }

  /**
   * Lets a KL budget set the temperature from now on ({@link KlBudget}): {@code alphaHat} starts at the
   * config's and moves by a dual step after every gradient step, and the prior weight follows it,
   * {@code w = kappa * alphaHat} (the config's {@code priorWeight} is not used). Null turns it off (the
   * temperature and weight stay where they are).
   *
   * @throws IllegalArgumentException for a learner without the prior (w = 0: nothing to stay close to)
   */
  @Override
  public void setKlBudget(KlBudget budget) {
    if (budget != null && !usesPrior()) {
      throw new IllegalArgumentException("a KL budget needs the prior: this learner has priorWeight 0 (a baseline "
          + "without the prior has no KL to it)");
    }
    this.dual = budget == null ? null : new KlBudget.Dual(budget, alphaHat);
    if (dual != null) {
      alphaHat = dual.alphaHat();
      priorWeight = dual.priorWeight();
    }
  }

  @Override
  public double budgetTemperature() {
    return dual == null ? Double.NaN : alphaHat;
  }

  @Override
  public double budgetKl() {
    return dual == null ? Double.NaN : dual.klReported();
  }

  @Override
  public double budgetGreedyMoved() {
    return dual == null ? Double.NaN : dual.movedReported();
  }

  @Override
  public KlBudget klBudget() {
    return dual == null ? null : dual.budget();
  }

  /** The temperature in use (the config's, or where a KL budget moved it). */
  public double alphaHat() {
    return alphaHat;
  }

  /** The prior weight in use ({@code kappa * alphaHat} under a KL budget). */
  public double priorWeight() {
    return priorWeight;
  }

  /** The moving average of the KL to the prior that the dual steps follow (NaN without a budget or before training). */
  public double klAverage() {
    return dual == null ? Double.NaN : dual.klAverage();
  }

  /**
   * The config with the temperature and prior weight in use: what a saved policy records (a budget's
   * final values), equal to {@link #config()} without a budget.
   */
  public ResidualSoftQConfig policyConfig() {
    if (dual == null) {
      return config;
    }
    // the learner's prior is the budget's flattened one, pi_T ∝ pi^(1/T); a saved policy composes the prior
    // itself, so its weight is w / T: the same pi_hat (pi_T's normalizer is the same for every action)
    return config.toBuilder().optAlphaHat((float) alphaHat)
        .optPriorWeight((float) (priorWeight / dual.budget().priorTemperature())).build();
  }

  /**
   * The mean over rows of {@code KL(pi_hat(.|s) || pi(.|s)) = sum_a pi_hat(a|s) (log pi_hat(a|s) - log pi(a|s))},
   * {@code pi_hat = softmax((Q_R + w log pi) / alphaHat)}, for batched {@code [B, n]} Q-values and prior
   * log-probabilities.
   */
  public static double klToPrior(NDArray qResidual, NDArray logPrior, double alphaHat, double priorWeight) {
    NDArray logHat = customizedLogits(qResidual, logPrior, alphaHat, priorWeight).logSoftmax(1);
    return org.rql4j.prior.Distributions.meanAsDouble(org.rql4j.prior.Distributions.categoricalKl(logHat, logPrior));
  }

  /**
   * The share of rows whose most likely action under {@code pi_hat = softmax((Q_R + w log pi) / alphaHat)} is
   * not the prior's most likely one, for batched {@code [B, n]} Q-values and prior log-probabilities (ties: the
   * first action, as the deterministic policies pick).
   */
  public static double greedyMoved(NDArray qResidual, NDArray logPrior, double alphaHat, double priorWeight) {
    NDArray moved = customizedLogits(qResidual, logPrior, alphaHat, priorWeight).argMax(1).neq(logPrior.argMax(1));
    return moved.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).mean().getDouble();
  }

  /** The KL on the batch's states with the updated network, into the moving average; then the dual step. */
  private void dualStep(ReplayBuffer.Batch batch) {
    int b = batch.size();
    int d = qResidual.inputDim();
    double kl;
    double moved;
    try (NDScope scope = new NDScope(); NDManager step = manager.newSubManager()) {
      NDArray q = qResidual.forward(step.create(batch.observations(), new Shape(b, d)));
      NDArray logPrior = step.create(batch.priorFeatures(), new Shape(b, nActions));
      kl = klToPrior(q, logPrior, alphaHat, priorWeight);
      moved = greedyMoved(q, logPrior, alphaHat, priorWeight);
    }
    dual.observe(kl, moved, 1);
    alphaHat = dual.alphaHat();
    priorWeight = dual.priorWeight();
  }

  /** The learner kind a checkpoint of residual soft Q-learning records. */
  public static final String KIND = "residual-soft-q";

  /** {@value #KIND}. */
  @Override
  public String kind() {
    return KIND;
  }

  @Override
  public void checkSpaces(String envId, org.rql4j.env.Space observationSpace, org.rql4j.env.Space actionSpace) {
    if (!(actionSpace instanceof org.rql4j.env.Space.Discrete discrete) || discrete.n() != nActions) {
      throw new IllegalArgumentException("env " + envId + " acts in " + actionSpace + " but the learner has "
          + nActions + " discrete actions");
    }
    OffPolicyLearner.checkObservationWidth(envId, observationSpace, qResidual.inputDim());
    actionStart = discrete.start();
  }

  @Override
  public void checkPrior(org.rql4j.prior.PriorSpec spec) {
    if (spec.distribution() != org.rql4j.prior.Distribution.CATEGORICAL) {
      throw new org.rql4j.prior.PriorException(spec.label() + " is a " + spec.distribution().sidecarName()
          + " policy; residual soft Q-learning needs a categorical prior over Discrete actions (use residual SAC for Box actions)");
    }
  }

  @Override
  public int actionWidth() {
    return 1;
  }

  /** {@code log pi(.|s)} of every action. */
  @Override
  public int priorWidth() {
    return usesPrior() ? nActions : 0;
  }

  @Override
  public float[] priorFeatures(org.rql4j.prior.PriorPolicy prior, float[] observations, int n) {
    DjlRuntime.noGradOnThisThread();
    float[] logPi = prior.outputs(manager, observations, n);
    return dual == null ? logPi : dual.budget().temperPrior(logPi, nActions);
  }

  /** Epsilon-uniform early, else sampled from {@code pi_hat}; stored as indices, stepped with the space's start added. */
  @Override
  public Actions act(float[] observations, float[] priorFeatures, long step, Random rng) {
    long[] a = act(observations, priorFeatures, config.epsilon(step), false, rng);
    float[] stored = new float[a.length];
    long[] env = new long[a.length];
    for (int i = 0; i < a.length; i++) {
      stored[i] = a[i];
      env[i] = a[i] + actionStart;
    }
    return new Actions(stored, org.rql4j.env.Tensor.ofLongs(env));
  }

  /** Hard target copy every {@code targetUpdateInterval} env steps, counted while collecting. */
  @Override
  public void afterEnvSteps(long before, long after) {
    if (after / config.targetUpdateInterval() != before / config.targetUpdateInterval()) {
      syncTarget();
    }
  }

  @Override
  public double train(ReplayBuffer buffer, long step, Random rng) {
    double loss = Double.NaN;
    for (int g = 0; g < config.gradientSteps(); g++) {
      loss = update(buffer.sample(config.batchSize(), rng)).loss();
    }
    return loss;
  }

  @Override
  public String explorationName() {
    return "eps";
  }

  @Override
  public double exploration(long step) {
    return config.epsilon(step);
  }

  @Override
  public long optimizerSteps() {
    return optimizer.steps();
  }

  /** Online and target networks, then Adam's step count and moments. */
  /** The online and target residual networks ({@code q.*}, {@code q_target.*}) and Adam's moments ({@code optim.*}). */
  @Override
  public ai.djl.ndarray.NDList stateTensors(NDManager out) {
    ai.djl.ndarray.NDList list = qResidual.namedTensors("q", out);
    list.addAll(qResidualTarget.namedTensors("q_target", out));
    list.addAll(optimizer.namedState("optim", out));
    return list;
  }

  @Override
  public com.google.gson.JsonObject stateValues() {
    com.google.gson.JsonObject v = new com.google.gson.JsonObject();
    v.addProperty("optim.step", optimizer.steps());
    KlBudget.save(v, dual); // where the dual steps left the temperature
    return v;
  }

  @Override
  public void restoreState(java.util.Map<String, ai.djl.ndarray.NDArray> tensors, com.google.gson.JsonObject values)
      throws java.io.IOException {
    qResidual.setFrom(tensors, "q", "the checkpoint");
    qResidualTarget.setFrom(tensors, "q_target", "the checkpoint");
    optimizer.restoreNamedState(tensors, "optim", LearnerStates.whole(values, "optim.step"));
    KlBudget.restore(values, dual);
    if (dual != null) {
      alphaHat = dual.alphaHat();
      priorWeight = dual.priorWeight();
    }
  }

  /** The online residual Q network. */
  public Mlp qResidual() {
    return qResidual;
  }

  /** The target residual Q network. */
  public Mlp qResidualTarget() {
    return qResidualTarget;
  }

  public TorchAdam optimizer() {
    return optimizer;
  }

  public int nActions() {
    return nActions;
  }

  /** NDArrays alive in this learner's managers (networks, optimizer state, anything leaked). */
  public int liveArrays() {
    return manager.getManagedArrays().size();
  }

  /** Hard target update: {@code Q_R_target <- Q_R}. */
  public void syncTarget() {
    DjlRuntime.noGradOnThisThread();
    qResidualTarget.copyFrom(qResidual);
  }

  /**
   * The soft Bellman target of Algorithm 1:
   * {@code y = r + gamma (1 - terminated) alphaHat logsumexp_a' ((Q_R_target(s',a') + w log pi(a'|s')) / alphaHat)}.
   * All arrays batched over rows; {@code logPriorNext} may be null when {@code priorWeight} is 0.
   */
  public static NDArray softTarget(NDArray reward, NDArray notTerminated, NDArray qTargetNext, NDArray logPriorNext,
      double gamma, double alphaHat, double priorWeight) {
    NDArray logits = customizedLogits(qTargetNext, logPriorNext, alphaHat, priorWeight);
    NDArray softValue = Scalars.mul(logSumExp(logits), alphaHat);
    return reward.add(Scalars.mul(notTerminated, gamma).mul(softValue));
  }

  /**
   * {@code log sum_j exp(x[i, j])} over axis 1 with the max shift, as torch.logsumexp computes it
   * (written by hand: DJL 0.35's NDArray has no logsumexp).
   */
  public static NDArray logSumExp(NDArray x) {
    NDArray max = x.max(new int[] {1}, true);
    return x.sub(max).exp().sum(new int[] {1}).log().add(max.reshape(-1));
  }

  /** {@code (Q_R + w log pi) / alphaHat}: the customized policy's logits. */
  public static NDArray customizedLogits(NDArray qResidual, NDArray logPrior, double alphaHat, double priorWeight) {
    NDArray sum = priorWeight == 0 || logPrior == null ? qResidual
        : qResidual.add(priorWeight == 1 ? logPrior : Scalars.mul(logPrior, priorWeight)); // x * 1 == x exactly
    return alphaHat == 1 ? sum : Scalars.div(sum, alphaHat);
  }

  /** Smooth L1 (Huber, beta 1) averaged over the batch, as {@code torch.nn.functional.smooth_l1_loss}. */
  static NDArray huber(NDArray prediction, NDArray target) {
    NDArray diff = prediction.sub(target).abs();
    NDArray quadratic = Scalars.mul(diff.square(), 0.5);
    NDArray linear = Scalars.sub(diff, 0.5);
    return ai.djl.ndarray.NDArrays.where(diff.lt(1f), quadratic, linear).mean();
  }

  /**
   * Targets, predictions and loss of one batch; gradients are left in the parameters.
   *
   * @param target {@code y} per row (null unless details were asked for)
   * @param qSa {@code Q_R(s, a)} per row (null unless details were asked for)
   */
  public record LossDetails(float[] target, float[] qSa, double loss, double meanQ) {}

  /**
   * One gradient step on a batch: target from the target network, Huber loss, backward, global
   * grad-norm clip, Adam (PyTorch formula).
   */
  public UpdateStats update(ReplayBuffer.Batch batch) {
    DjlRuntime.noGradOnThisThread();
    LossDetails d = backward(batch, false);
    double gradNorm = applyGradients();
    if (dual != null) {
      dualStep(batch);
    }
    return new UpdateStats(d.loss(), d.meanQ(), gradNorm);
  }

  /**
   * The loss of Algorithm 1 on a batch and its gradients (accumulated in the online network's
   * parameters): {@code y} from the target network, {@code Huber(Q_R(s,a), y)} averaged.
   */
  public LossDetails backward(ReplayBuffer.Batch batch, boolean details) {
    DjlRuntime.noGradOnThisThread();
    int b = batch.size();
    int d = qResidual.inputDim();
    try (NDScope scope = new NDScope(); NDManager step = manager.newSubManager()) {
      NDArray obs = step.create(batch.observations(), new Shape(b, d));
      NDArray nextObs = step.create(batch.nextObservations(), new Shape(b, d));
      NDArray actions = step.create(batch.discreteActions(), new Shape(b, 1));
      NDArray reward = step.create(batch.rewards());
      NDArray notTerminated = step.create(batch.notTerminated());
      NDArray logPriorNext = batch.nextPriorLogProbs().length == 0 || config.priorWeight() == 0 ? null
          : step.create(batch.nextPriorLogProbs(), new Shape(b, nActions));
      NDArray y = softTarget(reward, notTerminated, qResidualTarget.forward(nextObs), logPriorNext,
          config.gamma(), alphaHat, priorWeight);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray qSa = qResidual.forward(obs).gather(actions, 1).reshape(b);
        NDArray l = huber(qSa, y);
        gc.backward(l);
        float[] lossAndMeanQ = ai.djl.ndarray.NDArrays.stack(new ai.djl.ndarray.NDList(l, qSa.mean())).toFloatArray();
        return new LossDetails(details ? y.toFloatArray() : null, details ? qSa.toFloatArray() : null,
            lossAndMeanQ[0], lossAndMeanQ[1]);
      }
    }
  }

  /** Only the clipping half of {@link #applyGradients()} (for tests that inspect clipped gradients). */
  public double applyGradientsClipOnly() {
    DjlRuntime.noGradOnThisThread();
    return Gradients.clipGlobalNorm(qResidual.parameters(), config.maxGradNorm());
  }

  /** Clips the gradients to the global norm and takes an Adam step; returns the norm before clipping. */
  public double applyGradients() {
    DjlRuntime.noGradOnThisThread();
    double gradNorm = Gradients.clipGlobalNorm(qResidual.parameters(), config.maxGradNorm());
    optimizer.step();
    return gradNorm;
  }

  /**
   * Actions for a batch of observations: with probability {@code epsilon} uniform, else sampled
   * from {@code pi_hat} (or its argmax when {@code deterministic}).
   *
   * @param observations flat [n, obsDim]
   * @param logPrior flat [n, nActions] prior log-probs of these observations (null when w = 0)
   * @return action indices (0-based; add the Discrete space's start before stepping)
   */
  public long[] act(float[] observations, float[] logPrior, double epsilon, boolean deterministic, Random rng) {
    DjlRuntime.noGradOnThisThread();
    int n = observations.length / qResidual.inputDim();
    float[] logits = null; // computed when a row first needs them (the forward pass draws no random numbers)
    long[] actions = new long[n];
    for (int i = 0; i < n; i++) {
      if (!deterministic && rng.nextDouble() < epsilon) {
        actions[i] = rng.nextInt(nActions);
      } else {
        if (logits == null) {
          logits = logits(observations, logPrior, n);
        }
        actions[i] = chooseAction(logits, i * nActions, nActions, deterministic, rng);
      }
    }
    return actions;
  }

  /** {@code pi_hat}'s logits of {@code n} observations, flat {@code [n, nActions]}. */
  private float[] logits(float[] observations, float[] logPrior, int n) {
    try (NDScope scope = new NDScope(); NDManager step = manager.newSubManager()) {
      NDArray q = qResidual.forward(step.create(observations, new Shape(n, qResidual.inputDim())));
      NDArray lp = logPrior == null ? null : step.create(logPrior, new Shape(n, nActions));
      return customizedLogits(q, lp, alphaHat, priorWeight).toFloatArray();
    }
  }

  /**
   * The action {@code pi_hat} picks from its logits {@code x[off .. off + n)}: the argmax when
   * {@code deterministic}, else a sample from their softmax.
   */
  public static int chooseAction(float[] x, int off, int n, boolean deterministic, Random rng) {
    return deterministic ? argmax(x, off, n) : sample(x, off, n, rng);
  }

  private static int argmax(float[] x, int off, int n) {
    int best = 0;
    for (int j = 1; j < n; j++) {
      if (x[off + j] > x[off + best]) {
        best = j;
      }
    }
    return best;
  }

  /** A sample from softmax(x[off .. off+n)). */
  private static int sample(float[] x, int off, int n, Random rng) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < n; j++) {
      max = Math.max(max, x[off + j]);
    }
    double[] p = new double[n];
    double sum = 0;
    for (int j = 0; j < n; j++) {
      p[j] = StrictMath.exp(x[off + j] - max);
      sum += p[j];
    }
    double u = rng.nextDouble() * sum;
    for (int j = 0; j < n; j++) {
      u -= p[j];
      if (u <= 0) {
        return j;
      }
    }
    return n - 1;
  }

  @Override
  public void close() {
    optimizer.close();
    qResidual.close();
    qResidualTarget.close();
    manager.close();
  }
}
