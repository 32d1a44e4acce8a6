package org.rql4j.customize;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Consumer;
import org.rql4j.bridge.EnvClient;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.PythonServer;
import org.rql4j.bridge.RemoteVectorEnv;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.Env;
import org.rql4j.env.Space;
import org.rql4j.env.SupportedSpaces;
import org.rql4j.env.Value;
import org.rql4j.learner.LearnerConfig;
import org.rql4j.learner.OffPolicyLearner;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.policy.PriorActor;
import org.rql4j.policy.SavablePolicy;
import org.rql4j.prior.Distribution;
import org.rql4j.prior.PriorPackage;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.train.Evaluator;
import org.rql4j.train.MetricsCsv;
import org.rql4j.train.OffPolicyTraining;
import org.rql4j.train.TrainingCheckpoint;
import org.rql4j.train.TrainingProgress;
import org.rql4j.train.OnPolicyTraining;
import org.rql4j.learner.ResidualPpo;
import org.rql4j.learner.ResidualPpoConfig;
import org.rql4j.train.Checkpointing;

/**
 * Customizes a prior policy for a task's add-on reward: the library's entry point for the whole use
 * case (evaluate the prior, train, evaluate the customized policy, save it).
 *
 * <pre>{@code
 * Task task = Task.of("Pendulum-v1").withAddon("mytasks:gentle");  // mytasks.py in the working directory
 * try (Customization.Result r = Customization.builder(task, Path.of("my-prior"))
 *     .optSteps(20_000).optOutDir(Path.of("runs/gentle")).build().run()) {
 *   System.out.println(r.prior().markdownRow("prior") + "\n" + r.learned().markdownRow("customized"));
 *   SavablePolicy policy = r.policy();  // acts now; also saved in runs/gentle/policy
 * }
 * }</pre>
 *
 * <p>The learner follows the action space unless {@link Builder#optAlgorithm} says otherwise:
 * residual soft Q-learning for Discrete actions, residual SAC for Box ones; a built-in task's
 * reference hyperparameters (docs/tasks.md) or, for other tasks, the cartpole-center (soft Q) or
 * mountaincar-lessleft (SAC) ones, as a start to tune from ({@link Builder#optConfig}). Unless given
 * a client ({@link Builder#optEnvClient}), {@link #run()} starts its own Python env server (in the
 * working directory, which is therefore where the add-on's module is found, as on PYTHONPATH) and
 * stops it at the end. Before anything is written it makes the evaluation env, checks the prior
 * fits its spaces and takes one step, so that an unknown env id, an add-on that fails or a prior
 * of other spaces stop the run with nothing written.
 */
public final class Customization {

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Customization.class);

  /** The learner family. */
  public enum Algorithm {
    /** Residual soft Q-learning (Discrete actions). */
    SOFT_Q,
    /** Residual SAC (Box actions; a squashed-Gaussian prior). */
    SAC,
    /**
     * Residual PPO (policy gradient; Discrete or Box actions, a categorical or diagonal-Gaussian
     * prior such as an SB3 PPO's), the built-in MuJoCo tasks' learner.
     */
    PPO
  }

  /**
   * What a finished run gives: the evaluations, the training's last progress, the customized policy and,
   * for a run with an out folder, where it was exported for Python and ONNX ({@code exportDir},
   * {@code OUT/export}; null when there is none: no out folder, {@link Builder#optExport} off, or an
   * export that failed, which the log says why).
   */
  public record Result(Task task, Baseline baseline, Object config, Evaluator.Summary prior,
      Evaluator.Summary learned, TrainingProgress training, double trainSeconds, Path policyDir,
      SavablePolicy policy, Path exportDir) implements AutoCloseable {

    /** Closes the policy (null for a result read back from a finished run folder). */
    @Override
    public void close() {
      if (policy != null) {
        policy.close();
      }
    }
  }

  private final Builder b;
  // the run's KL budget: the one given, or the default for the env's action space (optDefaultKlBudget), or none
  private org.rql4j.learner.KlBudget budget;
  private final Task task;

  private Customization(Builder b) {
    this.b = b;
    this.task = b.task;
  }

  /** A customization of the prior package in {@code priorDir} (a folder made by {@code rql4j-bridge export}). */
  public static Builder builder(Task task, Path priorDir) {
    return new Builder(task, Objects.requireNonNull(priorDir, "priorDir"), null);
  }

  /** A customization of an already loaded prior (not closed by the run). */
  public static Builder builder(Task task, PriorPolicy prior) {
    return new Builder(task, null, Objects.requireNonNull(prior, "prior"));
  }

  /** Settings (DJL style: {@code optX}); every one has a default. */
  public static final class Builder {
    private final Task task;
    private final Path priorDir;
    private final PriorPolicy prior;
    private Baseline baseline = Baseline.RESIDUAL;
    private Algorithm algorithm;
    private LearnerConfig config;
    private ResidualPpoConfig ppoConfig;
    private Long steps;
    private Long seed;
    private Float priorWeight;
    private int evalEpisodes = 20;
    private Path outDir;
    private Path checkpointDir;
    private long checkpointEvery;
    private boolean resume;
    private Consumer<TrainingProgress> progress = p -> { };
    private long reportEvery;
    private EnvClient client;
    private PythonServer.Builder server;
    private final java.util.List<String> imports = new java.util.ArrayList<>();
    private java.util.function.UnaryOperator<LearnerConfig> tuning = c -> c;
    private Consumer<String> log = m -> { };
    private boolean export = true;
    private org.rql4j.learner.KlBudget klBudget;
    private double greedyShare = Double.NaN;
    private boolean defaultKlBudget;

    private Builder(Task task, Path priorDir, PriorPolicy prior) {
      this.task = Objects.requireNonNull(task, "task");
      this.priorDir = priorDir;
      this.prior = prior;
    }

    /** The customization itself (default), or a baseline (no prior; docs/tasks.md). */
    public Builder optBaseline(Baseline baseline) {
      this.baseline = Objects.requireNonNull(baseline, "baseline");
      return this;
    }

    /** The learner family (default: from the action space); refused by {@link #build} if it does not fit it. */
    public Builder optAlgorithm(Algorithm algorithm) {
      this.algorithm = algorithm;
      return this;
    }

    /** The learner's settings (default: the task's reference, see the class comment). */
    public Builder optConfig(LearnerConfig config) {
      this.config = config;
      return this;
    }

    /**
     * Residual PPO's settings (and PPO as the learner). Default for PPO: {@link ResidualPpoConfig#mujoco()},
     * for the residual row with w = 0.5, alphaHat = 0.25, pi_theta starting as a copy of the prior's
     * network and learning rate 1e-4 (docs/tasks.md, "MuJoCo PPO values").
     */
    public Builder optPpoConfig(ResidualPpoConfig config) {
      this.ppoConfig = config;
      return this;
    }

    /** Env steps to train (default: the config's). */
    public Builder optSteps(long steps) {
      if (steps <= 0) {
        throw new IllegalArgumentException("steps must be > 0, got " + steps);
      }
      this.steps = steps;
      return this;
    }

    /**
     * The training seed (default: the config's, 0 in the presets).
     *
     * @throws IllegalArgumentException for a negative seed (the env server takes seeds >= 0)
     */
    public Builder optSeed(long seed) {
      if (seed < 0) {
        throw new IllegalArgumentException("the training seed must be >= 0, got " + seed);
      }
      this.seed = seed;
      return this;
    }

    /** The prior's weight w (default: the config's); baselines always use 0. */
    public Builder optPriorWeight(float w) {
      if (!(w >= 0) || Float.isInfinite(w)) {
        throw new IllegalArgumentException("prior weight must be a number >= 0, got " + w);
      }
      this.priorWeight = w;
      return this;
    }

    /** Evaluation episodes before and after (default 20, seeds 10000..). */
    public Builder optEvalEpisodes(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("evaluation episodes must be >= 1, got " + n);
      }
      this.evalEpisodes = n;
      return this;
    }

    /**
     * The run folder (docs/run-folder.md): config.json, metrics.csv, checkpoint/, policy/, summary.json.
     * Without one nothing is written and the policy lives only in the result.
     */
    public Builder optOutDir(Path outDir) {
      this.outDir = outDir;
      return this;
    }

    /** Checkpoints every {@code everySteps} env steps in {@code dir} (default with an out folder: its checkpoint/, every tenth of the run). */
    public Builder optCheckpointing(Path dir, long everySteps) {
      if (everySteps <= 0) {
        throw new IllegalArgumentException("checkpoint interval must be > 0 env steps, got " + everySteps);
      }
      this.checkpointDir = dir;
      this.checkpointEvery = everySteps;
      return this;
    }

    /** Continues a stopped or failed run from its last checkpoint (default false: a folder with one is refused). */
    public Builder optResume(boolean resume) {
      this.resume = resume;
      return this;
    }

    /** Called with the training's progress, about every tenth of the run (and at its end). */
    public Builder optProgress(Consumer<TrainingProgress> progress) {
      this.progress = Objects.requireNonNull(progress, "progress");
      return this;
    }

    /**
     * Env steps between progress reports (default: a tenth of the run, at least 1000), e.g. finer for
     * a progress bar; the largest divisor of the tenth not above it is used, so that metrics.csv keeps
     * the same row per tenth of the run whatever this is.
     */
    public Builder optReportEvery(long steps) {
      if (steps <= 0) {
        throw new IllegalArgumentException("report interval must be > 0 env steps, got " + steps);
      }
      this.reportEvery = steps;
      return this;
    }

    /**
     * Changes the run's learner settings after the defaults and the steps, seed and prior weight are
     * applied (e.g. {@code c -> ((ResidualSacConfig) c).withAlphaHat(0.05f, false)}), before a baseline's
     * prior weight is set to 0.
     */
    public Builder optTuning(java.util.function.UnaryOperator<LearnerConfig> tuning) {
      this.tuning = Objects.requireNonNull(tuning, "tuning");
      return this;
    }

    /**
     * Whether a finished run with an out folder exports its policy into {@code OUT/export} (default
     * true): {@link PolicyExport}'s self-contained folder, which Python loads without Java
     * ({@code rql4j_bridge.load_policy}) and which is the prior of a further customization. It runs on
     * the server's Python, which needs the bridge's {@code priors} extra (and {@code export} for ONNX).
     */
    public Builder optExport(boolean export) {
      this.export = export;
      return this;
    }

    /**
     * A KL budget instead of a hand-set temperature (docs/method.md, "A KL budget instead of w and
     * alphaHat"): the learner moves {@code alphaHat} by dual steps until the customized policy's mean
     * per-step KL to the prior meets it, with {@code w = kappa * alphaHat}. Soft Q-learning, SAC (not with
     * a learned temperature) and PPO (a categorical or diag_gaussian prior); the residual customization
     * only (the oracle and add-on-only baselines have no prior). Null (the default): the config's
     * {@code priorWeight} and {@code alphaHat}.
     */
    public Builder optKlBudget(org.rql4j.learner.KlBudget budget) {
      this.klBudget = budget;
      this.defaultKlBudget = false;
      return this;
    }

    /**
     * The default KL budget ({@link org.rql4j.learner.KlBudget#defaultFor}: {@value
     * org.rql4j.learner.KlBudget#DEFAULT_NATS} nats times the cube root of the env's action dimensions; for a
     * categorical prior that is sure of its action on its own states, measured against the prior flattened to
     * {@link org.rql4j.learner.KlBudget#priorTemperatureFor})
     * instead of the config's prior weight and temperature, for the residual customization (the baselines
     * without the prior run as they would). What {@code rql4j customize --env-id} does when no weights are
     * given, and {@code --kl-budget auto}. The library itself applies no budget unless asked (the weights of
     * the config, {@link #optPriorWeight} and {@link #optTuning} are taken as given).
     */
    public Builder optDefaultKlBudget() {
      this.klBudget = null;
      this.defaultKlBudget = true;
      return this;
    }

    /**
     * With a KL budget (given or the default), a bound on the deterministic policy too: at most {@code share}
     * (in (0, 1]) of the states with a most likely action other than the prior's
     * ({@link org.rql4j.learner.KlBudget#withGreedyShare}; residual soft Q-learning). NaN (the default): none.
     */
    public Builder optGreedyShare(double share) {
      if (!Double.isNaN(share)) {
        org.rql4j.learner.KlBudget.of(1).withGreedyShare(share); // its range check, here
      }
      this.greedyShare = share;
      return this;
    }

    /** Called with the run's notes: its learner settings, where it checkpoints or resumes from. */
    public Builder optLog(Consumer<String> log) {
      this.log = Objects.requireNonNull(log, "log");
      return this;
    }

    /** A module the run's own env server imports at start (one that registers the task's env ids). */
    public Builder optImport(String module) {
      this.imports.add(Objects.requireNonNull(module, "module"));
      return this;
    }

    /** An env server to use (not closed by the run); by default the run starts and stops its own. */
    public Builder optEnvClient(EnvClient client) {
      this.client = client;
      return this;
    }

    /** How to start the run's own env server (default {@code PythonServer.builder()}); the task's modules are added. */
    public Builder optServer(PythonServer.Builder server) {
      this.server = server;
      return this;
    }

    /**
     * Checks the settings that need no env.
     *
     * @throws IllegalArgumentException naming the setting that does not fit
     */
    public Customization build() {
      if (resume && outDir == null && checkpointDir == null) {
        throw new IllegalArgumentException("resuming needs the run's out folder (or checkpoint folder) to find its "
            + "checkpoint");
      }
      task.trainEnv(baseline).build(); // a baseline the task cannot train (the oracle without a total-reward env)
      if (baseline == Baseline.KL && (algorithm == Algorithm.SOFT_Q || algorithm == Algorithm.SAC
          || (algorithm == null && config != null && ppoConfig == null))) {
        throw new IllegalArgumentException("the kl baseline (KL-regularized PPO) is a baseline of PPO: choose the PPO "
            + "learner; soft Q-learning and SAC compare with oracle and addon-only");
      }
      return new Customization(this);
    }
  }

  /**
   * Runs it: checks the env and the prior, evaluates the prior, trains, evaluates the customized
   * policy and, with an out folder, saves everything there. A finished run folder of the same
   * settings is not trained again: its result is read back (with {@code policy} null).
   *
   * @throws IllegalArgumentException for settings that do not fit the env or the prior (nothing is written)
   * @throws org.rql4j.bridge.BridgeException if the env server cannot make or step the env
   * @throws IOException if the run folder cannot be written
   */
  public Result run() throws IOException {
    PythonServer own = null;
    EnvClient client = b.client;
    PriorPolicy prior = b.prior;
    TorchScriptPrior loaded = null;
    try {
      if (prior == null) {
        loaded = TorchScriptPrior.load(b.priorDir);
        prior = loaded;
      }
      if (client == null) {
        PythonServer.Builder sb = b.server != null ? b.server : PythonServer.builder();
        b.imports.forEach(sb::optImport);
        task.modules().stream().filter(m -> !b.imports.contains(m)).forEach(sb::optImport);
        task.addon().ifPresent(sb::optAddon);
        own = sb.start();
        client = own.connect();
      }
      return run(client, prior);
    } finally {
      if (own != null) {
        if (client != null) {
          client.close();
        }
        own.close();
      }
      if (loaded != null) {
        loaded.close();
      }
    }
  }

  private Result run(EnvClient client, PriorPolicy prior) throws IOException {
    long[] seeds = Evaluator.defaultSeeds(b.evalEpisodes);
    Space actionSpace;
    // the checks before anything is written: the env exists, the add-on answers, the prior fits
    try (Env probe = makeSingle(client, task.evalEnv())) {
      actionSpace = probe.actionSpace();
      budget = b.klBudget != null ? b.klBudget
          : b.defaultKlBudget && b.baseline == Baseline.RESIDUAL ? org.rql4j.learner.KlBudget.defaultFor(actionSpace)
          : null;
      if (budget != null && b.klBudget == null) {
        log("KL budget: %s nats per step, the default for %s (%s nats times the cube root of the action dimensions)",
            budget.nats(), actionSpace, org.rql4j.learner.KlBudget.DEFAULT_NATS);
      }
      checkSpaces(task.evalEnv().build().envId(), probe, prior);
      Value obs = probe.reset(seeds[0]).observation();
      try (PriorActor actor = new PriorActor(prior)) {
        probe.step(actor.act(obs, true));
      }
    }
    if (!task.trainEnv(b.baseline).build().equals(task.evalEnv().build())) {
      try (Env train = makeSingle(client, task.trainEnv(b.baseline))) {
        checkSpaces(task.trainEnv(b.baseline).build().envId(), train, prior);
      }
    }
    if (b.algorithm == Algorithm.PPO || b.ppoConfig != null
        || (b.algorithm == null && b.config == null && task.isBuiltIn() && task.referenceConfig().isEmpty())) {
      if (!Double.isNaN(b.greedyShare)) {
        throw shareRefused("residual PPO");
      }
      return runPpo(client, prior, seeds, actionSpace);
    }
    LearnerConfig chosen = config(actionSpace);
    if (budget != null && b.klBudget == null && chosen instanceof org.rql4j.learner.ResidualSoftQConfig
        && actionSpace instanceof Space.Discrete discrete && prior.spec().distribution() == Distribution.CATEGORICAL) {
      budget = defaultPriorTemperature(client, prior, seeds, (int) discrete.n(), budget);
    }
    if (!Double.isNaN(b.greedyShare)) {
      if (budget == null) {
        throw new IllegalArgumentException("a greedy share (" + b.greedyShare + ") bounds the deterministic policy "
            + "beside a KL budget; this run has none: give a budget (--kl-budget NATS or auto) or leave the share out");
      }
      if (!(chosen instanceof org.rql4j.learner.ResidualSoftQConfig)) {
        throw shareRefused(chosen.algorithm());
      }
      budget = budget.withGreedyShare(b.greedyShare);
      log("greedy share: at most %s of the states with a most likely action other than the prior's", b.greedyShare);
    }
    // under a budget, residual SAC's actor starts as a copy of an SB3 SAC prior of its widths (null: not one)
    int[] copyWidths = budget != null && chosen instanceof ResidualSacConfig && prior instanceof TorchScriptPrior scripted
        ? org.rql4j.learner.ResidualSac.sb3ActorWidths(scripted.namedParameters(), prior.spec().obsDim(),
            (int) actionSpace.flatDim())
        : null;
    if (copyWidths != null && b.klBudget == null && !java.util.Arrays.equals(copyWidths,
        ((ResidualSacConfig) chosen).hidden())) {
      int[] configured = ((ResidualSacConfig) chosen).hidden();
      chosen = ((ResidualSacConfig) chosen).toBuilder().optHidden(copyWidths).build();
      log("the actor and critics take the prior's hidden widths %s (not %s), so that the actor starts as a copy of "
          + "the prior", java.util.Arrays.toString(copyWidths), java.util.Arrays.toString(configured));
    }
    LearnerConfig cfg = chosen;
    String priorSha = PriorPackage.identity(prior.spec());
    Result done = finishedRun(cfg, settings(cfg), priorSha, OffPolicyTraining.Progress.class);
    if (done != null) {
      return done;
    }
    Checkpointing checkpointing = checkpointing(cfg);
    Evaluator.Summary before = begin(client, prior, seeds, cfg, cfg.learnerKind(), cfg.priorWeight(), checkpointing,
        priorSha, settings(cfg));
    try (RemoteVectorEnv env = client.make(task.trainEnv(b.baseline).optNumEnvs(cfg.numEnvs()).build());
        OffPolicyLearner learner = cfg.newLearner(env.observationSpace(), env.actionSpace())) {
      learner.setKlBudget(budget);
      PriorPolicy used = cfg.priorWeight() == 0 ? null : prior;
      boolean resuming = checkpointing != null && checkpointing.resume() && TrainingCheckpoint.exists(checkpointing.dir());
      if (copyWidths != null && !resuming && learner instanceof org.rql4j.learner.ResidualSac sac
          && java.util.Arrays.equals(sac.config().hidden(), copyWidths)) {
        sac.initializeActorFrom((TorchScriptPrior) prior);
        log("the actor starts as a copy of the prior (KL 0): no imitation needed");
      }
      long keepUpTo = resuming ? TrainingCheckpoint.savedStep(checkpointing.dir()) : -1;
      OffPolicyTraining.Progress last;
      long csvEvery = Math.max(1000, cfg.totalSteps() / 10);
      long[] csvNext = {(Math.max(keepUpTo, 0) / csvEvery + 1) * csvEvery};
      try (MetricsCsv csv = b.outDir == null ? null : new MetricsCsv(b.outDir.resolve("metrics.csv"), keepUpTo)) {
        last = OffPolicyTraining.run(learner, env, used, p -> {
          b.progress.accept(p);
          if (csv == null || (p.step() < csvNext[0] && p.step() < cfg.totalSteps())) {
            return true;
          }
          csvNext[0] = (p.step() / csvEvery + 1) * csvEvery;
          return csv.onProgress(p);
        }, reportEvery(b.reportEvery, csvEvery), checkpointing);
      }
      SavablePolicy policy = learner.policy(used, env.actionSpace(), cfg.seed());
      Evaluator.Summary after;
      try (Env eval = makeSingle(client, task.evalEnv())) {
        after = Evaluator.evaluate(eval, policy, seeds);
      }
      try {
        return finish(cfg, before, after, last, policy);
      } finally {
        policy.close();
      }
    }
  }

  /** Steps of the prior's own deterministic episodes whose states {@link #defaultPriorTemperature} reads. */
  static final int PRIOR_STATES = 2000;

  /**
   * The default budget's prior temperature for a categorical prior ({@link
   * org.rql4j.learner.KlBudget#priorTemperatureFor}): from the median gap between its two most likely actions'
   * log-probabilities on the states of its own deterministic episodes on the evaluation env (the evaluation's
   * seeds, {@value #PRIOR_STATES} steps in all), the same on every run and resume of a task.
   */
  private org.rql4j.learner.KlBudget defaultPriorTemperature(EnvClient client, PriorPolicy prior, long[] seeds, int n,
      org.rql4j.learner.KlBudget budget) {
    java.util.List<float[]> states = new java.util.ArrayList<>();
    try (Env env = makeSingle(client, task.evalEnv()); PriorActor actor = new PriorActor(prior)) {
      for (int e = 0; states.size() < PRIOR_STATES; e++) {
        Value obs = env.reset(seeds[e % seeds.length] + (long) (e / seeds.length) * seeds.length).observation();
        while (states.size() < PRIOR_STATES) {
          states.add(((org.rql4j.env.Tensor) obs).toFloatArray());
          Env.Step step = env.step(actor.act(obs, true));
          if (step.done()) {
            break;
          }
          obs = step.observation();
        }
      }
    }
    int width = states.get(0).length;
    float[] flat = new float[states.size() * width];
    for (int i = 0; i < states.size(); i++) {
      System.arraycopy(states.get(i), 0, flat, i * width, width);
    }
    double[] gaps = new double[states.size()];
    try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager("PyTorch")) {
      float[] lp = prior.logProbsAll(m.create(flat, new ai.djl.ndarray.types.Shape(states.size(), width)))
          .toFloatArray();
      for (int i = 0; i < gaps.length; i++) {
        double first = Double.NEGATIVE_INFINITY;
        double second = Double.NEGATIVE_INFINITY;
        for (int a = 0; a < n; a++) {
          double v = lp[i * n + a];
          if (v > first) {
            second = first;
            first = v;
          } else if (v > second) {
            second = v;
          }
        }
        gaps[i] = first - second;
      }
    }
    java.util.Arrays.sort(gaps);
    double median = gaps.length % 2 == 1 ? gaps[gaps.length / 2] : (gaps[gaps.length / 2 - 1] + gaps[gaps.length / 2]) / 2;
    double t = org.rql4j.learner.KlBudget.priorTemperatureFor(median);
    if (t == 1.0) {
      log("KL budget measured against the prior itself: on its own states (%d steps) its two most likely actions are "
          + "%.3g nats apart (median), not above %s", gaps.length, median, org.rql4j.learner.KlBudget.SURE_GAP_NATS);
      return budget;
    }
    log("KL budget measured against the prior flattened to temperature %s: it is sure of its action on its own "
        + "states (%d steps; its two most likely actions %.3g nats apart, median, above %s), where a budget in nats "
        + "would buy a change in few states (docs/tuning.md)", t, gaps.length, median,
        org.rql4j.learner.KlBudget.SURE_GAP_NATS);
    return budget.withPriorTemperature(t);
  }

  /** What config.json records of the task beyond its label, so that it can be passed back as a config file. */
  /** A greedy share given to a run whose learner is not residual soft Q-learning. */
  private static IllegalArgumentException shareRefused(String learner) {
    return new IllegalArgumentException("a greedy share bounds the most likely action of a categorical policy "
        + "(residual soft Q-learning, Discrete actions); this run's learner is " + learner + ": leave the share out");
  }

  private JsonObject settings(LearnerConfig cfg) {
    JsonObject s = new JsonObject();
    if (!task.isBuiltIn()) {
      s.addProperty("env_id", task.envId());
      task.evalEnvId().ifPresent(id -> s.addProperty("eval_env_id", id));
      task.addon().ifPresent(a -> s.addProperty("addon", a));
      com.google.gson.JsonArray imports = new com.google.gson.JsonArray();
      b.imports.forEach(imports::add);
      task.modules().stream().filter(m -> !b.imports.contains(m)).forEach(imports::add);
      s.add("imports", imports);
    }
    s.addProperty("algo", cfg == null ? "ppo" : cfg instanceof ResidualSacConfig ? "sac" : "softq");
    if (budget != null) {
      s.addProperty("kl_budget", budget.nats());
      s.addProperty("kl_budget_kappa", budget.kappa());
      if (budget.priorTemperature() != 1.0) {
        s.addProperty("kl_budget_prior_temperature", budget.priorTemperature());
      }
      if (budget.boundsGreedy()) {
        s.addProperty("kl_budget_greedy_share", budget.greedyShare());
      }
    }
    return s;
  }

  /**
   * The report interval: {@code csvEvery} by default, else the largest divisor of it not above the
   * one asked for, so that metrics.csv gets its rows at the same steps whatever the reports.
   */
  static long reportEvery(long asked, long csvEvery) {
    if (asked <= 0 || asked >= csvEvery) {
      return csvEvery;
    }
    for (long k = (csvEvery + asked - 1) / asked; k <= csvEvery; k++) {
      if (csvEvery % k == 0) {
        return csvEvery / k;
      }
    }
    return 1;
  }

  /**
   * Residual PPO's default prior weight w and temperature alphaHat of the shaped reward (w > alphaHat:
   * the customized policy leans to the prior's likelier actions). Chosen on halfcheetah-speedcap,
   * seed 0, 150k steps, among (w, alphaHat) = (0.1, 0.02), (0.5, 0.1), (1, 0.2), (0.5, 0.25):
   * docs/results.md.
   */
  public static final float PPO_RESIDUAL_W = 0.5f;
  /** See {@link #PPO_RESIDUAL_W}. */
  public static final float PPO_RESIDUAL_ALPHA = 0.25f;
  /**
   * The learning rate of PPO runs that start from the prior's network (fine-tuning): SB3's 3e-4
   * moved the sharp prior (std ~0.3) by a KL of 0.06-0.18 per update and lost 10-16% of its basic
   * return in 150k steps; 1e-4 keeps it near 0.03. Runs from scratch keep 3e-4.
   */
  public static final float PPO_FINE_TUNE_LR = 1e-4f;
  /** The KL-regularized baseline's default beta (w = alphaHat = beta), chosen among 0.1, 0.3, 0.5 as above. */
  public static final float PPO_KL_BETA = 0.5f;

  /**
   * PPO's default settings for a baseline: {@link ResidualPpoConfig#mujoco()}; for the residual row with
   * w = 0.5, alphaHat = 0.25, for the KL-regularized one with w = alphaHat = 0.5, both with pi_theta
   * starting as a copy of the prior's network and learning rate 1e-4 (chosen on halfcheetah-speedcap:
   * docs/results.md).
   */
  public static ResidualPpoConfig defaultPpoConfig(Baseline baseline) {
    ResidualPpoConfig cfg = ResidualPpoConfig.mujoco();
    return switch (baseline) {
      case RESIDUAL -> cfg.withStepSize(PPO_FINE_TUNE_LR, cfg.clipRange()).withSoft(PPO_RESIDUAL_ALPHA, PPO_RESIDUAL_W)
          .withInitFromPrior(true);
      case KL -> cfg.withStepSize(PPO_FINE_TUNE_LR, cfg.clipRange()).klRegularized(PPO_KL_BETA).withInitFromPrior(true);
      case ORACLE, ADDON_ONLY -> cfg;
    };
  }

  /** The run's PPO settings: the given ones or the defaults, the steps, seed and prior weight, the baseline's. */
  private ResidualPpoConfig ppoConfig() {
    ResidualPpoConfig cfg = b.ppoConfig != null ? b.ppoConfig : defaultPpoConfig(b.baseline);
    if (b.steps != null) {
      cfg = cfg.withTotalSteps(b.steps);
    }
    if (b.seed != null) {
      cfg = cfg.withSeed(b.seed);
    }
    if (b.priorWeight != null) {
      cfg = cfg.withSoft(cfg.alphaHat(), b.priorWeight);
    }
    // the oracle and add-on-only baselines learn without the prior: no prior term, no copy of its network
    return b.baseline.usesPrior() ? cfg : cfg.withSoft(cfg.alphaHat(), 0f).withInitFromPrior(false);
  }

  /**
   * The result a finished run of these settings left in the out folder (its policy loaded back), or
   * null; a folder of another task, or a finished run of other settings, is refused.
   */
  private Result finishedRun(Object cfg, JsonObject identity, String priorSha,
      Class<? extends TrainingProgress> progressType) throws IOException {
    if (b.outDir == null) {
      return null;
    }
    String baseline = b.baseline.label();
    identity.addProperty("task", task.label());
    identity.addProperty("baseline", baseline);
    RunFolder.checkSameTask(b.outDir, identity);
    JsonObject finished = RunFolder.finishedSummary(b.outDir, cfg, task.label(), baseline, b.evalEpisodes, priorSha);
    if (finished == null) {
      return null;
    }
    log("%s holds this run, finished: nothing to train", b.outDir);
    Path saved = b.outDir.resolve("policy");
    boolean hasPolicy = Files.isRegularFile(saved.resolve("policy.json"));
    return new Result(task, b.baseline, cfg, RunFolder.episodes(finished, "prior_episodes"),
        RunFolder.episodes(finished, "learned_episodes"), RunFolder.progress(finished, progressType),
        finished.get("train_seconds").getAsDouble(), saved,
        hasPolicy ? org.rql4j.learner.Policies.load(saved) : null, hasPolicy ? export() : null);
  }

  private Result runPpo(EnvClient client, PriorPolicy prior, long[] seeds, Space actionSpace) throws IOException {
    if (budget != null && b.baseline != Baseline.RESIDUAL) {
      throw new IllegalArgumentException("a KL budget is a setting of the residual customization: the "
          + b.baseline.label() + " baseline " + (b.baseline.usesPrior() ? "keeps its fixed beta (under a budget it "
          + "would be the residual row)" : "has no prior to stay close to"));
    }
    ResidualPpoConfig cfg = ppoConfig();
    if (budget != null && cfg.priorWeight() == 0) {
      throw new IllegalArgumentException("a KL budget needs the prior: the PPO config's priorWeight is 0; drop the "
          + "budget, or the priorWeight 0");
    }
    // the learner's own refusals, before anything is written
    SupportedSpaces.checkBoundedBox(task.evalEnv().build().envId(), actionSpace, "PPO (it clips its actions to them)");
    if (cfg.initFromPrior()) {
      ResidualPpo.checkInitFrom(prior.spec(), actionSpace);
      if (prior instanceof TorchScriptPrior scripted) { // its layers must fit the config's: a trial copy
        try (ResidualPpo trial = new ResidualPpo(cfg, prior.spec().obsDim(), actionSpace)) {
          trial.initializePolicyFrom(scripted);
        }
      }
    }
    if (budget != null) {
      try (ResidualPpo trial = new ResidualPpo(cfg, prior.spec().obsDim(), actionSpace)) {
        trial.checkKlPrior(prior.spec());
      }
    }
    String priorSha = PriorPackage.identity(prior.spec());
    Result done = finishedRun(cfg, settings(null), priorSha, OnPolicyTraining.Progress.class);
    if (done != null) {
      return done;
    }
    Path ckDir = b.checkpointDir != null ? b.checkpointDir : b.outDir == null ? null : b.outDir.resolve("checkpoint");
    org.rql4j.train.Checkpointing ck = ckDir == null ? null : new org.rql4j.train.Checkpointing(ckDir,
        b.checkpointEvery > 0 ? b.checkpointEvery : Math.max((long) cfg.nSteps() * cfg.numEnvs(), cfg.totalSteps() / 10),
        b.resume);
    if (cfg.initFromPrior() && !(prior instanceof TorchScriptPrior)) {
      throw new IllegalArgumentException("PPO starts from a copy of the prior's network only with a prior package "
          + "loaded in Java (TorchScriptPrior); set initFromPrior false in its config");
    }
    Evaluator.Summary before = begin(client, prior, seeds, cfg, ResidualPpo.KIND, cfg.priorWeight(), ck, priorSha,
        settings(null));
    try (RemoteVectorEnv env = client.make(task.trainEnv(b.baseline).optNumEnvs(cfg.numEnvs()).build());
        ResidualPpo ppo = new ResidualPpo(cfg, (int) env.observationSpace().flatDim(), env.actionSpace())) {
      ppo.setKlBudget(budget);
      boolean resuming = ck != null && ck.resume() && TrainingCheckpoint.exists(ck.dir());
      if (cfg.initFromPrior() && !resuming) {
        ppo.initializePolicyFrom((TorchScriptPrior) prior);
        b.log.accept("pi_theta starts as a copy of the prior's network");
      }
      long keepUpTo = resuming ? TrainingCheckpoint.savedStep(ck.dir()) : -1;
      OnPolicyTraining.Progress last;
      try (MetricsCsv csv = b.outDir == null ? null : MetricsCsv.forPpo(b.outDir.resolve("metrics.csv"), keepUpTo)) {
        last = OnPolicyTraining.run(env, cfg.priorWeight() == 0 ? null : prior, ppo, p -> {
          b.progress.accept(p);
          if (csv != null) {
            csv.onPpoProgress(p);
          }
        }, ck);
      }
      SavablePolicy policy = ppo.savablePolicy(cfg.seed());
      Evaluator.Summary after;
      try (Env eval = makeSingle(client, task.evalEnv())) {
        after = Evaluator.evaluate(eval, policy, seeds);
      }
      return finish(cfg, before, after, last, policy);
    }
  }

  /** Refuses an env whose spaces no learner reads, or that the prior does not fit; {@code id} names it. */
  private static void checkSpaces(String id, Env env, PriorPolicy prior) {
    SupportedSpaces.checkObservation(id, env.observationSpace());
    SupportedSpaces.checkAction(id, env.actionSpace());
    prior.spec().checkCompatible(id, env.observationSpace(), env.actionSpace());
  }

  /**
   * The start of a run of either learner family, its settings known: refuses, before anything in the
   * out folder changes, a checkpoint folder it cannot start in or a checkpoint of other settings to
   * resume; logs the settings and the checkpointing; writes config.json; returns the prior's evaluation.
   */
  private Evaluator.Summary begin(EnvClient client, PriorPolicy prior, long[] seeds, Object cfg, String learnerKind,
      float priorWeight, Checkpointing ck, String priorSha, JsonObject settings) throws IOException {
    if (ck != null) {
      ck.checkStartable();
      if (ck.resume()) {
        TrainingCheckpoint.checkResumable(ck.dir(), learnerKind, cfg, task.trainEnv(b.baseline).build().envId(),
            priorWeight == 0 ? null : priorSha);
      }
    }
    b.log.accept(cfg.toString());
    if (ck != null) {
      b.log.accept((ck.resume() && TrainingCheckpoint.exists(ck.dir()) ? "resuming from "
          : "checkpoints every " + ck.every() + " env steps in ") + ck.dir());
    }
    if (b.outDir != null) {
      RunFolder.start(b.outDir, task.label(), b.baseline.label(), b.evalEpisodes, prior, priorSha, cfg, settings);
    }
    try (Env env = makeSingle(client, task.evalEnv()); PriorActor actor = new PriorActor(prior)) {
      return Evaluator.evaluate(env, actor, seeds);
    }
  }

  /**
   * The end of a run of either learner family: with an out folder, the policy and summary.json are
   * written there and the policy is loaded back from it; without, a detached copy. Either way the
   * result's policy outlives the learner, whose networks close with it.
   */
  private Result finish(Object cfg, Evaluator.Summary before, Evaluator.Summary after, TrainingProgress last,
      SavablePolicy policy) throws IOException {
    if (b.outDir == null) {
      return new Result(task, b.baseline, cfg, before, after, last, last.trainSeconds(), null, detached(policy),
          null);
    }
    Path policyDir = b.outDir.resolve("policy");
    policy.save(policyDir);
    RunFolder.writeSummary(b.outDir, before, after, last, b.baseline.label());
    return new Result(task, b.baseline, cfg, before, after, last, last.trainSeconds(), policyDir,
        org.rql4j.learner.Policies.load(policyDir), export());
  }

  /**
   * The run's policy exported into {@code OUT/export} ({@link PolicyExport}) unless it is there already
   * or {@link Builder#optExport} is off. The run itself is done and saved by then: an export that fails
   * (e.g. a Python without the bridge's priors extra) is logged with what to do, and the result has no
   * export folder.
   */
  private Path export() {
    if (!b.export) {
      return null;
    }
    Path out = b.outDir.resolve(EXPORT_DIR);
    if (Files.isRegularFile(out.resolve("prior.json"))) {
      return out;
    }
    try {
      PolicyExport.builder(b.outDir, out).optPython(b.server != null ? b.server.python() : PythonServer.defaultPython())
          .build().run();
      log("exported the customized policy to %s (Python: rql4j_bridge.load_policy; a prior for a further "
          + "customization: --prior %s)", out, out);
      return out;
    } catch (IOException | RuntimeException e) {
      String why = e.getMessage() == null ? e.toString() : e.getMessage();
      LOG.warn("the run finished and is saved in {}, but exporting its policy failed: {}. Export it later with "
          + "`rql4j export {} --out DIR`", b.outDir, why, b.outDir);
      log("the run is saved; its export failed (%s): export it later with `rql4j export %s --out DIR`", why, b.outDir);
      return null;
    }
  }

  /** The folder inside a run folder that a finished run's policy is exported to (docs/export.md). */
  public static final String EXPORT_DIR = "export";

  /** A copy of a learner's policy that outlives the learner (saved to a temporary folder and loaded back). */
  private static SavablePolicy detached(SavablePolicy policy) throws IOException {
    Path tmp = Files.createTempDirectory("rql4j-policy");
    try {
      policy.save(tmp);
      return org.rql4j.learner.Policies.load(tmp);
    } finally {
      try (java.util.stream.Stream<Path> files = Files.walk(tmp)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private void log(String format, Object... args) {
    b.log.accept(String.format(java.util.Locale.ROOT, format, args));
  }

  private static Env makeSingle(EnvClient client, EnvSpec.Builder spec) {
    return Env.single(client.make(spec.optAutoresetMode(AutoresetMode.DISABLED).build()));
  }

  /** The run's learner settings: the given or reference config, the action space's family, the overrides. */
  private LearnerConfig config(Space actionSpace) {
    if (b.baseline == Baseline.KL) {
      throw new IllegalArgumentException("the kl baseline (KL-regularized PPO) is a baseline of PPO: choose the PPO "
          + "learner (optAlgorithm(PPO), --algo ppo); soft Q-learning and SAC compare with oracle and addon-only");
    }
    boolean discrete = actionSpace instanceof Space.Discrete;
    Algorithm algo = b.algorithm != null ? b.algorithm : b.config instanceof ResidualSacConfig ? Algorithm.SAC
        : b.config instanceof ResidualSoftQConfig ? Algorithm.SOFT_Q : discrete ? Algorithm.SOFT_Q : Algorithm.SAC;
    if (algo == Algorithm.SOFT_Q && !discrete || algo == Algorithm.SAC && !(actionSpace instanceof Space.Box)) {
      throw new IllegalArgumentException(task.label() + " acts in " + actionSpace + "; "
          + (algo == Algorithm.SOFT_Q ? "soft Q-learning needs Discrete actions (use SAC)"
              : "SAC needs Box actions (use soft Q-learning)"));
    }
    if (algo == Algorithm.SAC) {
      SupportedSpaces.checkBoundedBox(task.evalEnv().build().envId(), actionSpace, "residual SAC");
    }
    LearnerConfig cfg = b.config != null ? b.config : task.referenceConfig().orElse(null);
    if (cfg == null || (algo == Algorithm.SAC) != (cfg instanceof ResidualSacConfig)) {
      if (b.config != null) {
        throw new IllegalArgumentException("the config given is a " + cfg.algorithm() + " config but the algorithm is "
            + algo);
      }
      cfg = defaultConfig(algo);
    }
    if (b.steps != null) {
      cfg = cfg.withTotalSteps(b.steps);
    }
    if (b.seed != null) {
      cfg = cfg.withSeed(b.seed);
    }
    if (b.priorWeight != null) {
      cfg = cfg.withPriorWeight(b.priorWeight);
    }
    cfg = Objects.requireNonNull(b.tuning.apply(cfg), "tuning returned null");
    if (budget != null && b.baseline != Baseline.RESIDUAL) {
      throw new IllegalArgumentException("a KL budget is a setting of the residual customization: the "
          + b.baseline.label() + " baseline has no prior to stay close to");
    }
    if (budget != null && cfg.priorWeight() == 0) {
      throw new IllegalArgumentException("a KL budget needs the prior: the config's priorWeight is 0; drop the "
          + "budget, or the priorWeight 0");
    }
    if (budget != null && cfg instanceof ResidualSacConfig sac && sac.learnAlpha()) {
      // the budget's dual steps set the temperature: the config's learned one (for a target entropy) starts it
      log("a KL budget sets the temperature: the config's learned temperature (from %s) is not learned", sac.alphaHat());
      cfg = sac.withAlphaHat(sac.alphaHat(), false);
    }
    if (cfg.totalSteps() <= cfg.learningStarts()) {
      throw new IllegalArgumentException("steps (" + cfg.totalSteps() + ") must exceed the learner's learningStarts ("
          + cfg.learningStarts() + "), the env steps it collects before it trains: nothing would be learned");
    }
    return b.baseline == Baseline.RESIDUAL ? cfg : cfg.withPriorWeight(0f);
  }

  /**
   * The starting settings of a learner family on an env that is not a built-in task: the
   * cartpole-center reference values (soft Q-learning) or the mountaincar-lessleft ones (SAC).
   */
  public static LearnerConfig defaultConfig(Algorithm algorithm) {
    return algorithm == Algorithm.SAC ? ResidualSacConfig.mountaincar() : ResidualSoftQConfig.cartpole();
  }

  private Checkpointing checkpointing(LearnerConfig cfg) {
    Path dir = b.checkpointDir != null ? b.checkpointDir : b.outDir == null ? null : b.outDir.resolve("checkpoint");
    if (dir == null) {
      return null;
    }
    long every = b.checkpointEvery > 0 ? b.checkpointEvery : Math.max(1000, cfg.totalSteps() / 10);
    return new Checkpointing(dir, every, b.resume);
  }

}
