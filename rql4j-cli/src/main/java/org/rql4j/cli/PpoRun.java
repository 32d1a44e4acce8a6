package org.rql4j.cli;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.rql4j.customize.Baseline;
import org.rql4j.customize.Customization;
import org.rql4j.customize.RunFolder;
import org.rql4j.customize.Task;
import org.rql4j.learner.ResidualPpoConfig;
import org.rql4j.prior.PriorPackage;
import org.rql4j.train.Checkpointing;
import org.rql4j.train.OnPolicyTraining;

/**
 * {@code rql4j ppo}: one row of a residual policy-gradient table (Algorithm 4 of docs/method.md) on
 * a MuJoCo task: residual PPO or KL-regularized PPO on the add-on reward with the prior, or plain
 * PPO from scratch on the total (oracle) or the add-on reward; then the prior and the learned
 * policy are evaluated on the task's total variant. The command parses and prints; the run is
 * {@link Customization}'s PPO path.
 */
final class PpoRun {

  private PpoRun() {}

  static final List<String> BASELINES = List.of("residual", "kl", "oracle", "addon-only");

  /** The residual row's defaults (docs/tasks.md, "MuJoCo PPO values"): the library's. */
  static final float RESIDUAL_W = Customization.PPO_RESIDUAL_W;
  static final float RESIDUAL_ALPHA = Customization.PPO_RESIDUAL_ALPHA;
  static final float KL_BETA = Customization.PPO_KL_BETA;
  static final float FINE_TUNE_LR = Customization.PPO_FINE_TUNE_LR;

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
      Checkpointing checkpointing, boolean export, org.rql4j.learner.KlBudget klBudget, boolean defaultKlBudget) {}

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
    org.rql4j.learner.KlBudget klBudget = Customize.klBudget(o.text("--kl-budget", null), o.has("--prior-weight"));
    boolean defaultKlBudget = Customize.isAuto(o.text("--kl-budget", null));
    if ((klBudget != null || defaultKlBudget) && !baseline.equals("residual")) {
      throw new IllegalArgumentException("--kl-budget is a setting of the residual row (the " + baseline
          + (baseline.equals("kl") ? " row keeps its fixed --beta: under a budget it would be the residual row)"
              : " baseline has no prior to stay close to)"));
    }
    return new Settings(task, baseline, cfg, evalEpisodes, priorDir, out, ck, !o.flag("--no-export"), klBudget,
        defaultKlBudget);
  }

  /** The result the run these arguments describe left in its --out, or null when it has not finished. */
  static Customize.Result finishedWith(String[] args) throws IOException {
    Settings s = parse(args);
    if (s.out() == null) {
      return null;
    }
    JsonObject summary = RunFolder.finishedSummary(s.out(), s.cfg(), s.task(), s.baseline(), s.evalEpisodes(),
        PriorPackage.contentHash(s.priorDir()));
    if (summary == null) {
      return null;
    }
    return new Customize.Result(RunFolder.episodes(summary, "prior_episodes"),
        RunFolder.episodes(summary, "learned_episodes"),
        RunFolder.progress(summary, OnPolicyTraining.Progress.class),
        summary.get("train_seconds").getAsDouble());
  }

  /**
   * Runs it through {@link Customization} (a finished run folder of the same settings is read back,
   * not trained again) and prints the before/after table.
   */
  static void run(String[] args) {
    Signals.stopTrainingOnInterrupt();
    Settings s = parse(args);
    System.out.println("rql4j ppo: " + s.baseline() + " on " + s.task() + ", prior " + s.priorDir() + "\n"
        + org.rql4j.runtime.Numerics.line());
    Customization.Builder b = Customization.builder(Task.builtIn(s.task()), s.priorDir())
        .optBaseline(Baseline.of(s.baseline())).optAlgorithm(Customization.Algorithm.PPO).optPpoConfig(s.cfg())
        .optEvalEpisodes(s.evalEpisodes()).optOutDir(s.out()).optExport(s.export())
        .optLog(System.out::println).optKlBudget(s.klBudget());
    if (s.defaultKlBudget()) {
      b.optDefaultKlBudget();
    }
    if (s.checkpointing() != null) {
      b.optCheckpointing(s.checkpointing().dir(), s.checkpointing().every()).optResume(s.checkpointing().resume());
    }
    Customize.Result r;
    Path exported;
    try (ProgressReport report = ProgressReport.forTraining("ppo")) {
      b.optProgress(report::accept);
      try (Customization.Result done = b.build().run()) {
        r = new Customize.Result(done.prior(), done.learned(), done.training(), done.trainSeconds());
        exported = done.exportDir();
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot read or write the run's files (run folder " + s.out() + "): "
          + e.getMessage(), e);
    }
    if (s.out() != null) {
      System.out.println("wrote " + s.out() + "/{config.json, metrics.csv, policy/, summary.json"
          + (exported == null ? "" : ", export/") + "}");
    }
    System.out.printf(Locale.ROOT, "%ntrained %d env steps in %.1f s; %d evaluation episodes (seeds 10000..)%n%n",
        r.training().step(), r.seconds(), s.evalEpisodes());
    printTable(r, s.baseline());
  }

  private static void printTable(Customize.Result r, String baseline) {
    System.out.println("| policy | basic return | add-on return | length |");
    System.out.println("|---|---|---|---|");
    System.out.println(r.prior().markdownRow("prior alone"));
    System.out.println(r.learned().markdownRow(baseline + " PPO"));
  }

  private static Float floatOption(Opts o, String name) {
    String v = o.text(name, null);
    return v == null ? null : Customize.parseWeight(v, name);
  }
}
