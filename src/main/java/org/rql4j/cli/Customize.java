package org.rql4j.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.customize.Baseline;
import org.rql4j.customize.Customization;
import org.rql4j.customize.Task;
import org.rql4j.learner.LearnerConfig;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.train.Evaluator;
import org.rql4j.train.OffPolicyTraining;

/**
 * {@code rql4j customize}: residual customization of a prior on a task, then evaluation: residual
 * soft Q-learning for Discrete actions, residual SAC for Box actions.
 */
final class Customize {

  private Customize() {}

  /** The rows of a before/after table. */
  record Result(Evaluator.Summary prior, Evaluator.Summary learned, OffPolicyTraining.Progress training, double seconds) {}

  /**
   * The result a finished run left in {@code out} (its summary.json), if it was made with
   * {@code cfg}; null when the run has not finished. A folder of a different config is refused.
   */
  static Result finished(Path out, LearnerConfig cfg, String task, String baseline, int evalEpisodes,
      String priorSha256) throws java.io.IOException {
    com.google.gson.JsonObject summary = org.rql4j.customize.RunFolder.finishedSummary(out, cfg, task, baseline, evalEpisodes,
        priorSha256);
    if (summary == null) {
      return null;
    }
    return new Result(org.rql4j.customize.RunFolder.episodes(summary, "prior_episodes"),
        org.rql4j.customize.RunFolder.episodes(summary, "learned_episodes"),
        new com.google.gson.Gson().fromJson(summary.get("final_progress"), OffPolicyTraining.Progress.class),
        summary.get("train_seconds").getAsDouble());
  }

  /** A built-in task's reference learner and hyperparameters (docs/tasks.md); unknown tasks are refused with the list. */
  static LearnerConfig baseConfig(String task) {
    return Task.builtIn(task).referenceConfig().orElseThrow(() -> new IllegalArgumentException("task " + task
        + " learns on-policy: run it with 'rql4j ppo --task " + task + "'"));
  }

  /** The shipped prior a task's runs customize by default: the SAC actor for Box tasks, else the soft DQN. */
  static String defaultPrior(String task) {
    return baseConfig(task) instanceof ResidualSacConfig ? "sac" : "softdqn";
  }



  /**
   * Trains one row of a built-in task through {@link Customization}: {@code residual} (add-on variant,
   * with the prior), {@code oracle} (total variant, no prior) or {@code addon-only} (add-on variant, no
   * prior); evaluates the prior and the learned policy on the total variant.
   */
  static Result customize(GrpcEnvClient client, PriorPolicy prior, String task, String baseline,
      LearnerConfig cfg, int evalEpisodes, Consumer<OffPolicyTraining.Progress> progress) {
    try {
      return customize(client, prior, task, baseline, cfg, evalEpisodes, progress, null, null);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * As above; with {@code out} set, writes config.json, metrics.csv, policy/ and summary.json there;
   * with {@code checkpointing} set, saves (and resumes from) training checkpoints.
   */
  static Result customize(GrpcEnvClient client, PriorPolicy prior, String task, String baseline,
      LearnerConfig cfg, int evalEpisodes, Consumer<OffPolicyTraining.Progress> progress, Path out,
      OffPolicyTraining.Checkpointing checkpointing) throws java.io.IOException {
    Customization.Builder b = Customization.builder(Task.builtIn(task), prior).optEnvClient(client)
        .optBaseline(Baseline.of(baseline)).optConfig(cfg).optEvalEpisodes(evalEpisodes).optProgress(progress)
        .optOutDir(out);
    if (checkpointing != null) {
      b.optCheckpointing(checkpointing.dir(), checkpointing.every()).optResume(checkpointing.resume());
    }
    try (Customization.Result r = b.build().run()) {
      return new Result(r.prior(), r.learned(), r.training(), r.trainSeconds());
    }
  }

  static void run(String[] args) {
    Opts o = Commands.parse("customize", args);
    Task task = task(o);
    Baseline baseline = Baseline.of(o.text("--baseline", "residual"));
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    String priorOpt = o.text("--prior", null);
    if (priorOpt == null && !task.isBuiltIn()) {
      throw new IllegalArgumentException("--prior DIR is needed with --env-id: the prior package of your policy "
          + "(made by rql4j-bridge export; docs/prior-package.md)");
    }
    Path priorDir = priorOpt != null ? Path.of(priorOpt)
        : root.resolve("examples/priors/" + task.name() + "-" + defaultPrior(task.name()));
    long steps = o.whole("--steps", 100_000);
    long seed = o.whole("--seed", 0);
    int evalEpisodes = (int) o.whole("--eval-episodes", 20);
    String w = o.text("--prior-weight", null);
    String alphaHat = o.text("--alpha-hat", null);
    String warmStart = o.text("--warm-start", null);
    String maxGradNorm = o.text("--max-grad-norm", null);
    String priorMinStd = o.text("--prior-min-std", null);
    String outOpt = o.text("--out", null);
    Path out = outOpt == null ? null : Path.of(outOpt);
    String ckOpt = o.text("--checkpoint-dir", null);
    boolean resume = o.flag("--resume");
    if (resume && ckOpt == null && out == null) {
      throw new IllegalArgumentException("--resume needs the run's --out (or --checkpoint-dir) to find its checkpoint");
    }
    Customization.Builder b = Customization.builder(task, priorDir).optBaseline(baseline).optSteps(steps)
        .optSeed(seed).optEvalEpisodes(evalEpisodes).optOutDir(out).optResume(resume)
        .optAlgorithm(algorithm(o.text("--algo", null)))
        .optTuning(cfg -> stabilized(tuned(cfg, task.label(), alphaHat, warmStart), task.label(), maxGradNorm,
            priorMinStd))
        .optLog(System.out::println)
        .optProgress(p -> System.out.println(p.line()));
    if (w != null) {
      b.optPriorWeight(parseWeight(w, "--prior-weight"));
    }
    if (ckOpt != null || o.text("--checkpoint-every", null) != null) {
      Path ck = ckOpt != null ? Path.of(ckOpt) : out == null ? null : out.resolve("checkpoint");
      if (ck == null) {
        throw new IllegalArgumentException("--checkpoint-every needs --out or --checkpoint-dir");
      }
      b.optCheckpointing(ck, o.whole("--checkpoint-every", Math.max(1000, steps / 10)));
    }
    for (String module : o.all("--import")) {
      b.optImport(module);
    }
    System.out.println("rql4j customize: " + baseline.label() + " on " + task.label() + ", prior " + priorDir + "\n"
        + org.rql4j.learner.Numerics.line());
    Result r;
    try (Customization.Result done = b.build().run()) {
      r = new Result(done.prior(), done.learned(), done.training(), done.trainSeconds());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot write the run's outputs to " + out + ": " + e.getMessage(), e);
    }
    if (out != null) {
      System.out.println("wrote " + out + "/{config.json, metrics.csv, policy/, summary.json}");
    }
    System.out.printf(Locale.ROOT, "%ntrained %d env steps in %.1f s; %d evaluation episodes (seeds 10000..)%n%n",
        r.training().step(), r.seconds(), evalEpisodes);
    printTable(r, baseline.label());
  }

  /** The task the options name: --task NAME (built in), or --env-id ID with --addon / --eval-env-id / --import. */
  static Task task(Opts o) {
    String envId = o.text("--env-id", null);
    String name = o.text("--task", null);
    String addon = o.text("--addon", null);
    String evalId = o.text("--eval-env-id", null);
    if (envId != null && name != null) {
      throw new IllegalArgumentException("--task and --env-id exclude each other: a built-in task (--task) or your "
          + "own env (--env-id)");
    }
    if (envId == null) {
      if (addon != null || evalId != null) {
        throw new IllegalArgumentException((addon != null ? "--addon" : "--eval-env-id") + " goes with --env-id (your "
            + "own env); a built-in task has its own add-on and evaluation env");
      }
      return Task.builtIn(name != null ? name : "cartpole-center");
    }
    Task task = Task.of(envId);
    if (addon != null) {
      task = task.withAddon(addon);
    }
    return evalId == null ? task : task.withEvalEnvId(evalId);
  }

  private static Customization.Algorithm algorithm(String name) {
    if (name == null) {
      return null;
    }
    return switch (name) {
      case "softq" -> Customization.Algorithm.SOFT_Q;
      case "sac" -> Customization.Algorithm.SAC;
      case "ppo" -> throw new IllegalArgumentException("--algo ppo: residual PPO runs through 'rql4j ppo' (built-in "
          + "MuJoCo tasks) for now; customize takes softq or sac");
      default -> throw new IllegalArgumentException("--algo must be softq or sac, got '" + name + "'");
    };
  }



  /**
   * A run's settings: the task's reference values with these steps, seed and prior weight;
   * {@code alphaHat} (null or "reference": the reference value) sets soft Q-learning's temperature, or SAC's fixed
   * temperature ({@code auto} or {@code auto_0.5}: learned, from 1 or 0.5).
   */
  static LearnerConfig config(String task, long steps, long seed, float priorWeight, String alphaHat) {
    return config(task, steps, seed, priorWeight, alphaHat, null);
  }

  /**
   * As above, and {@code warmStart} (null or "reference": the reference value) sets the number of
   * env steps of SAC's prior-weight warm start (its multiplier stays the reference one).
   */
  static LearnerConfig config(String task, long steps, long seed, float priorWeight, String alphaHat,
      String warmStart) {
    return tuned(baseConfig(task).withTotalSteps(steps).withSeed(seed).withPriorWeight(priorWeight), task, alphaHat,
        warmStart);
  }

  /** {@code cfg} with {@code --alpha-hat} and {@code --warm-start} applied (null or "reference": unchanged). */
  static LearnerConfig tuned(LearnerConfig cfg, String task, String alphaHat, String warmStart) {
    if (warmStart != null && !warmStart.equals("reference")) {
      long k;
      try {
        k = Long.parseLong(warmStart.trim());
      } catch (NumberFormatException e) {
        k = -1;
      }
      if (!(cfg instanceof ResidualSacConfig sac)) {
        throw new IllegalArgumentException("--warm-start applies to SAC (Box actions: mountaincar, parking); " + task
            + " uses soft Q-learning, which has no prior-weight warm start");
      }
      if (k < 0) {
        throw new IllegalArgumentException("--warm-start must be a whole number of env steps >= 0 (0: none), got '"
            + warmStart + "'");
      }
      cfg = sac.withWarmStart(sac.warmStartMultiplier(), k);
    }
    if (alphaHat == null || alphaHat.equals("reference")) {
      return cfg;
    }
    boolean learn = alphaHat.equals("auto") || alphaHat.startsWith("auto_");
    String v = alphaHat.equals("auto") ? "1" : learn ? alphaHat.substring(5) : alphaHat;
    float value;
    try {
      value = Float.parseFloat(v);
    } catch (NumberFormatException e) {
      value = Float.NaN;
    }
    if (!(value > 0) || Float.isInfinite(value) || (learn && !(cfg instanceof ResidualSacConfig))) {
      throw new IllegalArgumentException("--alpha-hat must be a positive number" + (cfg instanceof ResidualSacConfig
          ? ", auto (learned from 1) or auto_<number> (learned from it)" : " (" + task + " uses soft Q-learning, whose "
          + "temperature is fixed)") + ", got '" + alphaHat + "'");
    }
    if (cfg instanceof ResidualSacConfig sac) {
      return sac.withAlphaHat(value, learn);
    }
    return ((ResidualSoftQConfig) cfg).withAlphaHat(value);
  }

  /**
   * {@code cfg} with SAC's stabilizers beyond the reference ({@code --max-grad-norm},
   * {@code --prior-min-std}; null or "reference": the task's reference value, off).
   */
  static LearnerConfig stabilized(LearnerConfig cfg, String task, String maxGradNorm, String priorMinStd) {
    boolean gradRef = maxGradNorm == null || maxGradNorm.equals("reference");
    boolean stdRef = priorMinStd == null || priorMinStd.equals("reference");
    if (gradRef && stdRef) {
      return cfg;
    }
    if (!(cfg instanceof ResidualSacConfig sac)) {
      throw new IllegalArgumentException("--max-grad-norm and --prior-min-std apply to SAC (Box actions: mountaincar, "
          + "parking); " + task + " uses soft Q-learning, whose gradient clip is its reference maxGradNorm");
    }
    return sac.withStabilizers(gradRef ? sac.maxGradNorm() : parseWeight(maxGradNorm, "--max-grad-norm"),
        stdRef ? sac.priorMinStd() : parseWeight(priorMinStd, "--prior-min-std"));
  }

  /** A number as a user would write it (0.1, 1, not 1.0): run folder names and table keys use it. */
  static String number(float x) {
    return new java.math.BigDecimal(Float.toString(x)).stripTrailingZeros().toPlainString();
  }

  /** A prior weight option's value; an IllegalArgumentException naming the option unless it is a number >= 0. */
  static float parseWeight(String text, String option) {
    try {
      float w = Float.parseFloat(text.trim());
      if (w >= 0 && !Float.isInfinite(w)) {
        return w;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(option + " must be a number >= 0, got '" + text + "'");
  }

  static void printTable(Result r, String baseline) {
    System.out.println("| policy | basic return | add-on return | length |");
    System.out.println("|---|---|---|---|");
    System.out.println(r.prior().markdownRow("prior alone"));
    System.out.println(r.learned().markdownRow(baseline.equals("residual") ? "customized (residual)" : baseline));
    java.util.Set<String> missing = new java.util.TreeSet<>(r.prior().unreported());
    missing.addAll(r.learned().unreported());
    if (!missing.isEmpty()) {
      System.out.printf(Locale.ROOT, "%nThe env reported no %s in info: those columns are empty. Its own return: "
          + "prior %.1f ± %.1f, %s %.1f ± %.1f. (Give --addon to have both parts reported.)%n",
          String.join(" / ", missing), r.prior().mean(Evaluator.Episode::envReturn),
          r.prior().std(Evaluator.Episode::envReturn), baseline, r.learned().mean(Evaluator.Episode::envReturn),
          r.learned().std(Evaluator.Episode::envReturn));
    }
  }
}
