package org.rql4j.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.rql4j.bridge.EnvClient;
import org.rql4j.customize.RunFolder;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.PythonServer;
import org.rql4j.bridge.RemoteVectorEnv;
import org.rql4j.env.Env;
import org.rql4j.learner.ResidualPpo;
import org.rql4j.learner.ResidualPpoConfig;
import org.rql4j.policy.PriorActor;
import org.rql4j.prior.PriorPackage;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.train.Evaluator;
import org.rql4j.train.MetricsCsv;
import org.rql4j.train.OnPolicyTraining;
import org.rql4j.train.TrainingCheckpoint;
import org.rql4j.train.Checkpointing;

/**
 * {@code rql4j ppo}: one row of a residual policy-gradient table (Algorithm 4 of docs/method.md) on
 * a MuJoCo task: residual PPO or KL-regularized PPO on the add-on reward with the prior, or plain
 * PPO from scratch on the total (oracle) or the add-on reward; then the prior and the learned
 * policy are evaluated on the task's total variant.
 */
final class PpoRun {

  private PpoRun() {}

  static final List<String> BASELINES = List.of("residual", "kl", "oracle", "addon-only");

  /**
   * Residual PPO's default weights: prior weight w and temperature alphaHat of the shaped reward
   * (w > alphaHat: the customized policy leans to the prior's likelier actions). Chosen on
   * halfcheetah-speedcap, seed 0, 150k steps, among (w, alphaHat) = (0.1, 0.02), (0.5, 0.1),
   * (1, 0.2), (0.5, 0.25): docs/results.md.
   */
  static final float RESIDUAL_W = 0.5f;
  static final float RESIDUAL_ALPHA = 0.25f;
  /** The KL-regularized row's default beta (w = alphaHat = beta); chosen among 0.1, 0.3, 0.5 as above. */
  static final float KL_BETA = 0.5f;
  /**
   * The learning rate of the rows that start from the prior's network (fine-tuning): SB3's 3e-4
   * moved the sharp prior (std ~0.3) by a KL of 0.06-0.18 per update and lost 10-16% of its basic
   * return in 150k steps; 1e-4 keeps it near 0.03. Rows from scratch keep 3e-4.
   */
  static final float FINE_TUNE_LR = 1e-4f;

  /** What a finished run left: both evaluations, the last progress and the training time. */
  record Result(Evaluator.Summary prior, Evaluator.Summary learned, OnPolicyTraining.Progress training,
      double seconds) {}

  /** The settings of one row. */
  static ResidualPpoConfig config(String baseline, long steps, long seed, Float w, Float alphaHat, Float beta,
      boolean initFromPrior) {
    ResidualPpoConfig base = ResidualPpoConfig.mujoco().withTotalSteps(steps).withSeed(seed);
    ResidualPpoConfig tuned = initFromPrior ? base.withStepSize(FINE_TUNE_LR, base.clipRange()) : base;
    return switch (baseline) {
      case "residual" -> tuned.withSoft(alphaHat == null ? RESIDUAL_ALPHA : alphaHat, w == null ? RESIDUAL_W : w)
          .withInitFromPrior(initFromPrior);
      case "kl" -> tuned.klRegularized(beta == null ? KL_BETA : beta).withInitFromPrior(initFromPrior);
      case "oracle", "addon-only" -> base;
      default -> throw new IllegalArgumentException("--baseline must be one of " + BASELINES + ", got '" + baseline
          + "'");
    };
  }

  /** A command line's settings. */
  record Settings(String task, String baseline, ResidualPpoConfig cfg, int evalEpisodes, Path priorDir, Path out,
      Checkpointing checkpointing) {}

  static Settings parse(String[] args) {
    Opts o = Commands.parse("ppo", args);
    String task = o.text("--task", "halfcheetah-speedcap");
    String baseline = o.text("--baseline", "residual");
    long steps = o.whole("--steps", 1_000_000);
    long seed = o.whole("--seed", 0);
    int evalEpisodes = (int) o.whole("--eval-episodes", 20);
    Float w = floatOption(o, "--prior-weight");
    Float alphaHat = floatOption(o, "--alpha-hat");
    Float beta = floatOption(o, "--beta");
    String init = o.text("--init-from-prior", "yes");
    if (!init.equals("yes") && !init.equals("no")) {
      throw new IllegalArgumentException("--init-from-prior must be yes or no, got '" + init + "'");
    }
    if ((w != null || alphaHat != null) && !baseline.equals("residual")) {
      throw new IllegalArgumentException("--prior-weight and --alpha-hat set the residual row; --baseline is "
          + baseline + (baseline.equals("kl") ? " (use --beta)" : ""));
    }
    if (beta != null && !baseline.equals("kl")) {
      throw new IllegalArgumentException("--beta sets the KL-regularized row (--baseline kl); --baseline is " + baseline);
    }
    ResidualPpoConfig cfg = config(baseline, steps, seed, w, alphaHat, beta, init.equals("yes"));
    String norm = o.text("--normalize-observations", "no");
    if (!norm.equals("yes") && !norm.equals("no")) {
      throw new IllegalArgumentException("--normalize-observations must be yes or no, got '" + norm + "'");
    }
    if (norm.equals("yes")) {
      if (cfg.initFromPrior()) {
        throw new IllegalArgumentException("--normalize-observations yes cannot start from the prior's network (it "
            + "reads raw observations): add --init-from-prior no, or drop --normalize-observations");
      }
      cfg = cfg.withNormalization(true, cfg.normalizeRewards());
    }
    Float lr = floatOption(o, "--learning-rate");
    if (lr != null) {
      if (!(lr > 0)) {
        throw new IllegalArgumentException("--learning-rate must be > 0, got " + lr);
      }
      cfg = cfg.withStepSize(lr, cfg.clipRange());
    }
    Float bonus = floatOption(o, "--survival-bonus");
    if (bonus != null) {
      if (!baseline.equals("residual") && !baseline.equals("kl")) {
        throw new IllegalArgumentException("--survival-bonus is a setting of the residual and kl rows (a constant added "
            + "to their shaped reward); --baseline is " + baseline);
      }
      cfg = cfg.withSurvivalBonus(bonus);
    }
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    Path priorDir = Path.of(o.text("--prior",
        root.resolve("examples/priors/" + task + "-ppo").toString()));
    String outOpt = o.text("--out", null);
    Path out = outOpt == null ? null : Path.of(outOpt);
    String ckOpt = o.text("--checkpoint-dir", out == null ? null : out.resolve("checkpoint").toString());
    boolean resume = o.flag("--resume");
    if (resume && ckOpt == null) {
      throw new IllegalArgumentException("--resume needs the run's --out (or --checkpoint-dir) to find its checkpoint");
    }
    Checkpointing ck = ckOpt == null ? null : new Checkpointing(Path.of(ckOpt),
        o.whole("--checkpoint-every", Math.max(cfg.nSteps() * cfg.numEnvs(), steps / 10)), resume);
    return new Settings(task, baseline, cfg, evalEpisodes, priorDir, out, ck);
  }

  /** The result the run these arguments describe left in its --out, or null when it has not finished. */
  static Result finishedWith(String[] args) throws IOException {
    Settings s = parse(args);
    if (s.out() == null) {
      return null;
    }
    return finished(s.out(), s.cfg(), s.task(), s.baseline(), s.evalEpisodes(), PriorPackage.contentHash(s.priorDir()));
  }

  static void run(String[] args) {
    Settings s = parse(args);
    try {
      Result done = finishedWith(args);
      if (done != null) { // the same command again: the finished run's result, not a new run
        System.out.println(s.out() + " holds this run, finished: nothing to train");
        printTable(done, s.baseline());
        return;
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot read " + s.out() + ": " + e.getMessage(), e);
    }
    System.out.println("rql4j ppo: " + s.baseline() + " on " + s.task() + ", prior " + s.priorDir() + "\n" + s.cfg()
        + "\n" + org.rql4j.runtime.Numerics.line());
    try (PythonServer server = PythonServer.start(); EnvClient client = server.client();
        TorchScriptPrior prior = TorchScriptPrior.load(s.priorDir())) {
      if (s.checkpointing() != null) {
        System.out.println((s.checkpointing().resume() && TrainingCheckpoint.exists(s.checkpointing().dir())
            ? "resuming from " : "checkpoints every " + s.checkpointing().every() + " env steps in ")
            + s.checkpointing().dir());
      }
      Result r;
      try (ProgressReport report = ProgressReport.forTraining("ppo")) {
        r = train(client, prior, s.task(), s.baseline(), s.cfg(), s.evalEpisodes(), report::accept, s.out(),
            s.checkpointing());
      }
      if (s.out() != null) {
        System.out.println("wrote " + s.out() + "/{config.json, metrics.csv, policy/, summary.json}");
      }
      System.out.printf(Locale.ROOT, "%ntrained %d env steps in %.1f s; %d evaluation episodes (seeds 10000..)%n%n",
          s.cfg().totalSteps(), r.seconds(), s.evalEpisodes());
      printTable(r, s.baseline());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot write the run's outputs to " + s.out() + ": " + e.getMessage(), e);
    }
  }

  private static void printTable(Result r, String baseline) {
    System.out.println("| policy | basic return | add-on return | length |");
    System.out.println("|---|---|---|---|");
    System.out.println(r.prior().markdownRow("prior alone"));
    System.out.println(r.learned().markdownRow(baseline + " PPO"));
  }

  private static Float floatOption(Opts o, String name) {
    String v = o.text(name, null);
    return v == null ? null : Customize.parseWeight(v, name);
  }

  /**
   * Trains one row and evaluates the prior and the learned policy; with {@code out}, writes
   * config.json, metrics.csv and summary.json there (the checkpoint holds the learned networks).
   */
  static Result train(EnvClient client, TorchScriptPrior prior, String task, String baseline, ResidualPpoConfig cfg,
      int evalEpisodes, Consumer<OnPolicyTraining.Progress> progress, Path out, Checkpointing ck)
      throws IOException {
    boolean usesPrior = cfg.priorWeight() != 0 || cfg.initFromPrior();
    String priorSha = PriorPackage.identity(prior.spec());
    String variant = baseline.equals("oracle") ? "total" : "addon";
    String trainEnv = "rql4j/" + task + "-" + variant + "-v0";
    // refuse before touching out: a refused rerun must not delete or overwrite the earlier run's files
    if (ck != null) {
      ck.checkStartable();
      if (ck.resume()) {
        org.rql4j.train.OnPolicyCheckpoint.checkResumable(ck.dir(), cfg, trainEnv,
            cfg.priorWeight() == 0 ? null : priorSha);
      }
    }
    if (out != null) {
      RunFolder.start(out, task, baseline, evalEpisodes, prior, priorSha, cfg);
    }
    String evalEnv = "rql4j/" + task + "-total-v0";
    long[] seeds = Evaluator.defaultSeeds(evalEpisodes);
    Evaluator.Summary before;
    try (Env env = client.makeSingle(evalEnv, null); PriorActor actor = new PriorActor(prior)) {
      before = Evaluator.evaluate(env, actor, seeds);
    }
    try (RemoteVectorEnv env = client.make(EnvSpec.builder(trainEnv).optNumEnvs(cfg.numEnvs()).build());
        ResidualPpo ppo = new ResidualPpo(cfg, (int) env.observationSpace().flatDim(), env.actionSpace())) {
      boolean resuming = ck != null && ck.resume() && TrainingCheckpoint.exists(ck.dir());
      if (cfg.initFromPrior() && !resuming) {
        ppo.initializePolicyFrom(prior);
        System.out.println("pi_theta starts as a copy of the prior's network");
      }
      long keepUpTo = resuming ? TrainingCheckpoint.savedStep(ck.dir()) : -1;
      OnPolicyTraining.Progress last;
      try (MetricsCsv csv = out == null ? null : MetricsCsv.forPpo(out.resolve("metrics.csv"), keepUpTo)) {
        last = OnPolicyTraining.run(env, cfg.priorWeight() == 0 ? null : prior, ppo, p -> {
          progress.accept(p);
          if (csv != null) {
            csv.onPpoProgress(p);
          }
        }, ck);
      }
      Evaluator.Summary after;
      try (Env eval = client.makeSingle(evalEnv, null)) {
        after = Evaluator.evaluate(eval, ppo.asPolicy(cfg.seed()), seeds);
      }
      if (out != null) {
        ppo.savablePolicy(cfg.seed()).save(out.resolve("policy")); // loads alone: Policies.load
      }
      double secs = last.trainSeconds();
      Result result = new Result(before, after, last, secs);
      if (out != null) {
        JsonObject summary = new JsonObject();
        summary.addProperty("train_seconds", secs);
        summary.addProperty("uses_prior", usesPrior);
        summary.addProperty("prior", result.prior().markdownRow("prior alone"));
        summary.addProperty("learned", result.learned().markdownRow(baseline));
        // NaN where no episode had ended or (a resumed finished checkpoint) no update ran: written as NaN
        Gson withNaN = new GsonBuilder().serializeSpecialFloatingPointValues().create();
        summary.add("final_progress", withNaN.toJsonTree(last));
        summary.add("prior_episodes", new Gson().toJsonTree(result.prior().episodes()));
        summary.add("learned_episodes", new Gson().toJsonTree(result.learned().episodes()));
        summary.add("numerics", new Gson().toJsonTree(org.rql4j.runtime.Numerics.describe()));
        Files.writeString(out.resolve("summary.json"), new GsonBuilder().setPrettyPrinting()
            .serializeSpecialFloatingPointValues().create().toJson(summary));
      }
      return result;
    }
  }

  /**
   * The result a finished run left in {@code out} (its summary.json), if it was made with {@code cfg}
   * and the same task, baseline, evaluation episodes and prior; null when it has not finished.
   */
  static Result finished(Path out, ResidualPpoConfig cfg, String task, String baseline, int evalEpisodes,
      String priorSha256) throws IOException {
    JsonObject summary = RunFolder.finishedSummary(out, cfg, task, baseline, evalEpisodes, priorSha256);
    if (summary == null) {
      return null;
    }
    return new Result(RunFolder.episodes(summary, "prior_episodes"), RunFolder.episodes(summary, "learned_episodes"),
        new Gson().fromJson(summary.get("final_progress"), OnPolicyTraining.Progress.class),
        summary.get("train_seconds").getAsDouble());
  }
}
