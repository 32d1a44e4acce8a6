package org.rql4j.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.GrpcVectorEnv;
import org.rql4j.bridge.PythonServer;
import org.rql4j.env.Env;
import org.rql4j.learner.LearnerConfig;
import org.rql4j.learner.OffPolicyLearner;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.policy.SavablePolicy;
import org.rql4j.policy.PriorActor;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.train.Evaluator;
import org.rql4j.train.MetricsCsv;
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
    com.google.gson.JsonObject summary = RunFolder.finishedSummary(out, cfg, task, baseline, evalEpisodes,
        priorSha256);
    if (summary == null) {
      return null;
    }
    return new Result(RunFolder.episodes(summary, "prior_episodes"), RunFolder.episodes(summary, "learned_episodes"),
        new com.google.gson.Gson().fromJson(summary.get("final_progress"), OffPolicyTraining.Progress.class),
        summary.get("train_seconds").getAsDouble());
  }

  /** The task's reference learner and hyperparameters (docs/tasks.md). */
  static LearnerConfig baseConfig(String task) {
    if (task.startsWith("highway")) {
      return ResidualSoftQConfig.highway();
    }
    if (task.startsWith("mountaincar")) {
      return ResidualSacConfig.mountaincar();
    }
    if (task.startsWith("parking")) {
      return ResidualSacConfig.parking();
    }
    return ResidualSoftQConfig.cartpole();
  }

  /** The shipped prior a task's runs customize by default: the SAC actor for Box tasks, else the soft DQN. */
  static String defaultPrior(String task) {
    return baseConfig(task) instanceof ResidualSacConfig ? "sac" : "softdqn";
  }

  static String option(String[] args, String name, String fallback) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(name)) {
        return args[i + 1];
      }
    }
    return fallback;
  }

  /**
   * Trains one row: {@code residual} (add-on variant, with the prior), {@code oracle} (total
   * variant, no prior) or {@code addon-only} (add-on variant, no prior); evaluates the prior and
   * the learned policy on the total variant.
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
    // refuse before touching anything in out: a refused rerun must not truncate the earlier run's files
    if (checkpointing != null) {
      checkpointing.checkStartable();
    }
    if (out != null) {
      RunFolder.start(out, task, baseline, evalEpisodes, prior, org.rql4j.prior.PriorPackage.identity(prior.spec()),
          cfg);
    }
    String variant = baseline.equals("oracle") ? "total" : "addon";
    String trainEnv = "rql4j/" + task + "-" + variant + "-v0";
    String evalEnv = "rql4j/" + task + "-total-v0";
    long[] seeds = Evaluator.defaultSeeds(evalEpisodes);
    Evaluator.Summary before;
    try (Env env = client.makeSingle(evalEnv, null); PriorActor actor = new PriorActor(prior)) {
      before = Evaluator.evaluate(env, actor, seeds);
    }
    try (GrpcVectorEnv env = client.make(EnvSpec.builder(trainEnv).optNumEnvs(cfg.numEnvs()).build());
        OffPolicyLearner learner = cfg.newLearner(env.observationSpace(), env.actionSpace())) {
      PriorPolicy used = cfg.priorWeight() == 0 ? null : prior;
      OffPolicyTraining.Progress last;
      boolean resuming = checkpointing != null && checkpointing.resume()
          && org.rql4j.train.TrainingCheckpoint.exists(checkpointing.dir());
      long keepUpTo = resuming ? org.rql4j.train.TrainingCheckpoint.savedStep(checkpointing.dir()) : -1;
      try (MetricsCsv csv = out == null ? null : new MetricsCsv(out.resolve("metrics.csv"), keepUpTo)) {
        last = OffPolicyTraining.run(learner, env, used, p -> {
          progress.accept(p);
          return csv == null || csv.onProgress(p);
        }, Math.max(1000, cfg.totalSteps() / 10), checkpointing);
      }
      // the whole run's training wall time, segments before a resume included
      double secs = last.trainSeconds();
      try (Env eval = client.makeSingle(evalEnv, null);
          SavablePolicy policy = SavablePolicy.of(learner, used, env.actionSpace(), cfg.seed())) {
        Result result = new Result(before, Evaluator.evaluate(eval, policy, seeds), last, secs);
        if (out != null) {
          policy.save(out.resolve("policy"));
          com.google.gson.JsonObject summary = new com.google.gson.JsonObject();
          summary.addProperty("train_seconds", secs);
          summary.addProperty("prior", result.prior().markdownRow("prior alone"));
          summary.addProperty("learned", result.learned().markdownRow(baseline));
          summary.add("final_progress", new com.google.gson.Gson().toJsonTree(last));
          summary.add("prior_episodes", new com.google.gson.Gson().toJsonTree(result.prior().episodes()));
          summary.add("learned_episodes", new com.google.gson.Gson().toJsonTree(result.learned().episodes()));
          summary.add("numerics", new com.google.gson.Gson().toJsonTree(org.rql4j.learner.Numerics.describe()));
          java.nio.file.Files.writeString(out.resolve("summary.json"),
              new com.google.gson.GsonBuilder().setPrettyPrinting().create().toJson(summary));
        }
        return result;
      }
    }
  }

  static void run(String[] args) {
    String task = option(args, "--task", "cartpole-center");
    String baseline = option(args, "--baseline", "residual");
    if (!baseline.equals("residual") && !baseline.equals("oracle") && !baseline.equals("addon-only")) {
      throw new IllegalArgumentException("--baseline must be residual, oracle or addon-only, got " + baseline);
    }
    Path priorDir = Path.of(option(args, "--prior", "examples/priors/" + task + "-" + defaultPrior(task)));
    long steps = Main.option(args, "--steps", 100_000);
    long seed = Main.option(args, "--seed", 0);
    int evalEpisodes = (int) Main.option(args, "--eval-episodes", 20);
    float priorWeight = baseline.equals("residual") ? parseWeight(option(args, "--prior-weight",
        number(baseConfig(task).priorWeight())), "--prior-weight") : 0f;
    LearnerConfig cfg = stabilized(config(task, steps, seed, priorWeight, option(args, "--alpha-hat", null),
        option(args, "--warm-start", null)), task, option(args, "--max-grad-norm", null),
        option(args, "--prior-min-std", null));
    String outOpt = option(args, "--out", null);
    Path out = outOpt == null ? null : Path.of(outOpt);
    String ckOpt = option(args, "--checkpoint-dir", out == null ? null : out.resolve("checkpoint").toString());
    boolean resume = java.util.Arrays.asList(args).contains("--resume");
    if (resume && ckOpt == null) {
      throw new IllegalArgumentException("--resume needs the run's --out (or --checkpoint-dir) to find its checkpoint");
    }
    OffPolicyTraining.Checkpointing checkpointing = ckOpt == null ? null : new OffPolicyTraining.Checkpointing(
        Path.of(ckOpt), Main.option(args, "--checkpoint-every", Math.max(1000, steps / 10)), resume);
    System.out.println("rql4j customize: " + baseline + " on " + task + ", prior " + priorDir + "\n" + cfg + "\n"
        + org.rql4j.learner.Numerics.line());
    try (PythonServer server = PythonServer.start(); GrpcEnvClient client = server.connect();
        TorchScriptPrior prior = TorchScriptPrior.load(priorDir)) {
      Result r;
      try {
        if (checkpointing != null) {
          System.out.println((checkpointing.resume() && org.rql4j.train.TrainingCheckpoint.exists(checkpointing.dir())
              ? "resuming from " : "checkpoints every " + checkpointing.every() + " env steps in ") + checkpointing.dir());
        }
        r = customize(client, prior, task, baseline, cfg, evalEpisodes, p -> System.out.println(p.line()), out,
            checkpointing);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException("cannot write the run's outputs to " + out + ": " + e.getMessage(), e);
      }
      if (out != null) {
        System.out.println("wrote " + out + "/{config.json, metrics.csv, policy/, summary.json}");
      }
      System.out.printf(Locale.ROOT, "%ntrained %d env steps in %.1f s; %d evaluation episodes (seeds 10000..)%n%n",
          steps, r.seconds(), evalEpisodes);
      printTable(r, baseline);
    }
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
    LearnerConfig cfg = baseConfig(task).withTotalSteps(steps).withSeed(seed).withPriorWeight(priorWeight);
    if (warmStart != null && !warmStart.equals("reference")) {
      long k;
      try {
        k = Long.parseLong(warmStart.trim());
      } catch (NumberFormatException e) {
        k = -1;
      }
      if (!(cfg instanceof ResidualSacConfig sac)) {
        throw new IllegalArgumentException("--warm-start applies to SAC tasks (mountaincar, parking); " + task
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
      throw new IllegalArgumentException("--max-grad-norm and --prior-min-std apply to SAC tasks (mountaincar, "
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
  }
}
