package org.rql4j.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.customize.Baseline;
import org.rql4j.customize.ConfigFile;
import org.rql4j.customize.Customization;
import org.rql4j.customize.Task;
import org.rql4j.learner.LearnerConfig;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.train.Evaluator;
import org.rql4j.train.OffPolicyTraining;
import org.rql4j.train.Checkpointing;

/**
 * {@code rql4j customize}: residual customization of a prior on a task, then evaluation: residual
 * soft Q-learning for Discrete actions, residual SAC for Box actions.
 */
final class Customize {

  private Customize() {}

  /** The rows of a before/after table. */
  record Result(Evaluator.Summary prior, Evaluator.Summary learned, org.rql4j.train.TrainingProgress training,
      double seconds) {}

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
        org.rql4j.customize.RunFolder.progress(summary, OffPolicyTraining.Progress.class),
        summary.get("train_seconds").getAsDouble());
  }

  /** A built-in task's reference learner and hyperparameters (docs/tasks.md); unknown tasks are refused with the list. */
  static LearnerConfig baseConfig(String task) {
    return Task.builtIn(task).referenceConfig().orElseThrow(() -> new IllegalArgumentException("task " + task
        + " learns on-policy: run it with 'rql4j ppo --task " + task + "'"));
  }

  /** The shipped prior a task's runs customize by default: the SAC actor for Box tasks, else the soft DQN. */
  static String defaultPrior(String task) {
    Task t = Task.builtIn(task);
    return t.referenceConfig().isEmpty() ? "ppo" : t.referenceConfig().get() instanceof ResidualSacConfig ? "sac"
        : "softdqn";
  }



  /**
   * Trains one row of a built-in task through {@link Customization}: {@code residual} (add-on variant,
   * with the prior), {@code oracle} (total variant, no prior) or {@code addon-only} (add-on variant, no
   * prior); evaluates the prior and the learned policy on the total variant.
   */
  static Result customize(GrpcEnvClient client, PriorPolicy prior, Task task, String baseline,
      LearnerConfig cfg, int evalEpisodes, Consumer<org.rql4j.train.TrainingProgress> progress) {
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
  static Result customize(GrpcEnvClient client, PriorPolicy prior, Task task, String baseline,
      LearnerConfig cfg, int evalEpisodes, Consumer<org.rql4j.train.TrainingProgress> progress, Path out,
      Checkpointing checkpointing) throws java.io.IOException {
    Customization.Builder b = Customization.builder(task, prior).optEnvClient(client)
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
    Signals.stopTrainingOnInterrupt();
    Opts o = Commands.parse("customize", args);
    ConfigFile file = o.has("--config") ? ConfigFile.read(Path.of(o.text("--config", null))) : ConfigFile.EMPTY;
    Task task = task(o, file);
    Baseline baseline = Baseline.of(setting(o, file, "--baseline", "residual"));
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    String priorOpt = setting(o, file, "--prior", null);
    if (priorOpt == null && !task.isBuiltIn()) {
      throw new IllegalArgumentException("--prior DIR is needed with --env-id: the prior package of your policy "
          + "(made by rql4j-bridge export; docs/prior-package.md)");
    }
    Path priorDir = priorOpt != null ? Path.of(priorOpt)
        : root.resolve("examples/priors/" + task.name() + "-" + defaultPrior(task.name()));
    Long steps = o.has("--steps") ? Long.valueOf(o.whole("--steps", 0)) : fileWhole(o, file, "--steps", "steps");
    Long seed = o.has("--seed") ? Long.valueOf(o.whole("--seed", 0)) : fileWhole(o, file, "--seed", "seed");
    Long fileEpisodes = fileWhole(o, file, "--eval-episodes", "eval_episodes");
    int evalEpisodes = (int) (o.has("--eval-episodes") ? o.whole("--eval-episodes", 20)
        : fileEpisodes != null ? fileEpisodes : 20);
    String w = setting(o, file, "--prior-weight", null);
    String alphaHat = o.text("--alpha-hat", null);
    String warmStart = o.text("--warm-start", null);
    String maxGradNorm = o.text("--max-grad-norm", null);
    String priorMinStd = o.text("--prior-min-std", null);
    checkValues(w, alphaHat, warmStart, maxGradNorm, priorMinStd); // before any process starts
    String klText = setting(o, file, "--kl-budget", null);
    org.rql4j.learner.KlBudget klBudget = klBudget(klText, o.has("--prior-weight") || file.has("prior_weight"));
    if ((klBudget != null || isAuto(klText)) && baseline != Baseline.RESIDUAL) {
      throw new IllegalArgumentException("--kl-budget is a setting of the residual customization: the "
          + baseline.label() + " baseline has no prior to stay close to");
    }
    if (klBudget != null && !o.has("--kl-budget")) { // a run's config.json: its kappa and prior temperature
      klBudget = klBudget.withKappa(positive(o, file, "kl_budget_kappa", klBudget.kappa()))
          .withPriorTemperature(positive(o, file, "kl_budget_prior_temperature", klBudget.priorTemperature()));
    }
    // your own task without weights: the default budget (docs/tuning.md); a built-in task keeps its reference weights
    com.google.gson.JsonObject learnerFields = file.learnerFields();
    boolean weightsGiven = w != null || alphaHat != null || learnerFields.has("priorWeight")
        || learnerFields.has("alphaHat");
    boolean defaultBudget = isAuto(klText) || (klText == null && !task.isBuiltIn() && !weightsGiven
        && baseline == Baseline.RESIDUAL);
    if ((klBudget != null || isAuto(klText)) && alphaHat != null && alphaHat.startsWith("auto")) {
      throw new IllegalArgumentException("--alpha-hat " + alphaHat + " does not go with --kl-budget: the budget sets "
          + "the temperature itself (--alpha-hat A: where it starts)");
    }
    String outOpt = o.text("--out", null);
    Path out = outOpt == null ? null : Path.of(outOpt);
    String ckOpt = o.text("--checkpoint-dir", null);
    boolean resume = o.flag("--resume");
    if (resume && ckOpt == null && out == null) {
      throw new IllegalArgumentException("--resume needs the run's --out (or --checkpoint-dir) to find its checkpoint");
    }
    com.google.gson.JsonObject fields = file.learnerFields();
    Customization.Builder b = Customization.builder(task, priorDir).optBaseline(baseline)
        .optEvalEpisodes(evalEpisodes).optOutDir(out).optResume(resume).optExport(!o.flag("--no-export"))
        .optAlgorithm(algorithm(setting(o, file, "--algo", null)))
        // the config file's learner fields, then the command line's settings over them (defaults: 1e5 steps, seed 0)
        .optTuning(cfg -> {
          // a baseline's config.json has w = 0: passed back for a residual run, the weight is not taken from it
          boolean fromBaseline = baseline == Baseline.RESIDUAL && file.has("baseline")
              && !file.text("baseline").equals(Baseline.RESIDUAL.label());
          LearnerConfig c = (fromBaseline ? file.withoutLearnerField("priorWeight") : file).overlay(cfg);
          c = steps != null ? c.withTotalSteps(steps) : fields.has("totalSteps") ? c : c.withTotalSteps(100_000);
          c = seed != null ? c.withSeed(seed) : fields.has("seed") ? c : c.withSeed(0);
          c = w != null ? c.withPriorWeight(parseWeight(w, "--prior-weight")) : c;
          return stabilized(tuned(c, task.label(), alphaHat, warmStart), task.label(), maxGradNorm, priorMinStd);
        })
        .optLog(System.out::println).optKlBudget(klBudget);
    if (defaultBudget) {
      b.optDefaultKlBudget();
    }
    // the share: the command line's, else a run's config.json's with its budget (not when --kl-budget replaces that)
    boolean shareFromFile = !o.has("--greedy-share") && !o.has("--kl-budget");
    String shareText = o.has("--greedy-share") ? o.text("--greedy-share", null)
        : shareFromFile ? file.text("kl_budget_greedy_share") : null;
    if (shareText != null) {
      String source = shareFromFile ? "config file " + file.file() + ": kl_budget_greedy_share" : "--greedy-share";
      if (klBudget == null && !defaultBudget) {
        throw new IllegalArgumentException(source + " bounds the deterministic policy beside a KL budget; this run "
            + "has none: add --kl-budget NATS or auto (your own task without weights has the default budget)");
      }
      try {
        b.optGreedyShare(greedyShare(shareText));
      } catch (IllegalArgumentException e) {
        throw shareFromFile ? new IllegalArgumentException(source + ": " + e.getMessage()
            .replace("--greedy-share must be", "must be"), e) : e;
      }
    }
    boolean ppo = "ppo".equals(setting(o, file, "--algo", null))
        || (task.isBuiltIn() && task.referenceConfig().isEmpty() && setting(o, file, "--algo", null) == null);
    if (ppo) {
      // residual PPO: its own settings; the off-policy options do not apply
      for (String off : new String[] {"--alpha-hat", "--warm-start", "--max-grad-norm", "--prior-min-std"}) {
        if (o.has(off)) {
          throw new IllegalArgumentException(off + " is a setting of soft Q-learning and SAC; PPO's temperature and "
              + "other fields go in a config file (--config, under 'config': alphaHat, learningRate, ...)");
        }
      }
      b.optPpoConfig(file.overlay(Customization.defaultPpoConfig(baseline)));
      b.optSteps(steps != null ? steps : fields.has("totalSteps") ? fields.get("totalSteps").getAsLong() : 100_000);
      if (seed != null) {
        b.optSeed(seed);
      }
      if (w != null) {
        b.optPriorWeight(parseWeight(w, "--prior-weight"));
      }
    }
    if (ckOpt != null || o.has("--checkpoint-every")) {
      Path ck = ckOpt != null ? Path.of(ckOpt) : out == null ? null : out.resolve("checkpoint");
      if (ck == null) {
        throw new IllegalArgumentException("--checkpoint-every needs --out or --checkpoint-dir");
      }
      b.optCheckpointing(ck, o.whole("--checkpoint-every", 0));
    }
    for (String module : o.has("--import") ? o.all("--import") : file.texts("imports")) {
      b.optImport(module);
    }
    for (String own : new String[] {"--env-workers", "--ray"}) {
      if (o.has(own) && o.has("--server")) {
        throw new IllegalArgumentException(own + " goes with the env server the run starts itself; a server "
            + "you started (--server) has its own: start it with `rql4j-bridge serve --workers N` or `--ray ADDRESS`");
      }
    }
    if (o.has("--env-workers") || o.has("--ray")) {
      org.rql4j.bridge.PythonServer.Builder server = org.rql4j.bridge.PythonServer.builder()
          .optWorkers((int) o.whole("--env-workers", 0));
      if (o.has("--ray")) {
        server.optRay(o.text("--ray", null));
      }
      b.optServer(server);
    }
    GrpcEnvClient remote = o.has("--server") ? remoteServer(o.text("--server", null)) : null;
    if (remote != null) {
      b.optEnvClient(remote);
    }
    System.out.println("rql4j customize: " + baseline.label() + " on " + task.label() + ", prior " + priorDir
        + (o.has("--config") ? ", settings from " + file.file() : "") + "\n" + org.rql4j.runtime.Numerics.line());
    if (file.has("prior_sha256") && priorOpt != null) {
      try {
        if (!org.rql4j.prior.PriorPackage.contentHash(priorDir).equals(file.text("prior_sha256"))) {
          System.out.println("note: the prior package in " + priorDir + " is not the one " + file.file()
              + " was made with (its sha256 differs)");
        }
      } catch (java.io.IOException | RuntimeException e) {
        // the run's own loading reports an unreadable prior
      }
    }
    Result r;
    Path exported;
    try (GrpcEnvClient closing = remote; ProgressReport report = ProgressReport.forTraining("customize")) {
      b.optProgress(report::accept);
      if (report.interactive()) {
        b.optReportEvery(ProgressReport.INTERACTIVE_EVERY);
      }
      try (Customization.Result done = b.build().run()) {
        r = new Result(done.prior(), done.learned(), done.training(), done.trainSeconds());
        exported = done.exportDir();
      }
    } catch (java.io.IOException e) {
      // a run folder, checkpoint or prior package file that cannot be read or written
      throw new java.io.UncheckedIOException("cannot read or write the run's files" + (out == null ? "" : " (run folder "
          + out + ")") + ": " + e.getMessage(), e);
    }
    if (out != null) {
      System.out.println("wrote " + out + "/{config.json, metrics.csv, policy/, summary.json" + (exported == null ? ""
          : ", export/") + "}" + (exported == null ? "" : "; " + exported + " is the policy to deploy (Python: "
          + "rql4j_bridge.load_policy) or to customize again (--prior)"));
    }
    System.out.printf(Locale.ROOT, "%ntrained %d env steps in %.1f s; %d evaluation episodes (seeds 10000..)%n%n",
        r.training().step(), r.seconds(), evalEpisodes);
    printTable(r, baseline.label());
  }

  /**
   * A client of an env server the user started ({@code --server HOST:PORT}), with the secret it was started
   * with from {@code RQL4J_BRIDGE_TOKEN} (none when unset: a server started with {@code --no-auth}).
   */
  static GrpcEnvClient remoteServer(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    int port = -1;
    if (colon > 0) {
      try {
        port = Integer.parseInt(hostPort.substring(colon + 1));
      } catch (NumberFormatException e) {
        port = -1;
      }
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("--server must be HOST:PORT (the address `rql4j-bridge serve` printed as "
          + "RQL4J_BRIDGE_PORT=...), e.g. 10.0.0.5:50051 or [::1]:50051, got '" + hostPort + "'");
    }
    String host = hostPort.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    String token = System.getenv(org.rql4j.bridge.PythonServer.TOKEN_ENV);
    GrpcEnvClient client = GrpcEnvClient.connect(host, port, token == null || token.isEmpty() ? null : token);
    try {
      client.serverInfo(); // reachable, authenticated, the same contract revision: say so now, not mid-run
    } catch (RuntimeException e) {
      client.close();
      throw new IllegalArgumentException("--server " + hostPort + ": " + e.getMessage() + (token == null
          ? " (no secret was sent: put the one the server was started with in " + org.rql4j.bridge.PythonServer.TOKEN_ENV
              + ")" : ""), e);
    }
    return client;
  }

  /** A whole number of the config file, checked against the range of the option it stands for; null when absent. */
  private static Long fileWhole(Opts o, ConfigFile file, String option, String key) {
    Long v = file.whole(key);
    return v == null ? null : Long.valueOf(o.checked(option, v, "config file " + file.file() + ": '" + key + "'"));
  }

  /**
   * Refuses, before anything starts, a tuning option whose value is not of its form (whether it
   * applies to the learner is checked once the learner is known): numbers >= 0, {@code --alpha-hat}
   * a positive number, {@code auto} or {@code auto_<number>}, {@code --warm-start} whole env steps.
   */
  static void checkValues(String w, String alphaHat, String warmStart, String maxGradNorm, String priorMinStd) {
    if (w != null) {
      parseWeight(w, "--prior-weight");
    }
    for (String[] opt : new String[][] {{"--max-grad-norm", maxGradNorm}, {"--prior-min-std", priorMinStd}}) {
      if (opt[1] != null && !opt[1].equals("reference")) {
        parseWeight(opt[1], opt[0]);
      }
    }
    if (warmStart != null && !warmStart.equals("reference") && !warmStart.trim().matches("\\d{1,15}")) {
      throw new IllegalArgumentException("--warm-start must be a whole number of env steps >= 0 (0: none), got '"
          + warmStart + "'");
    }
    if (alphaHat != null && !alphaHat.equals("reference") && !alphaHat.equals("auto")) {
      String v = alphaHat.startsWith("auto_") ? alphaHat.substring(5) : alphaHat;
      float x;
      try {
        x = Float.parseFloat(v.trim());
      } catch (NumberFormatException e) {
        x = Float.NaN;
      }
      if (!(x > 0) || Float.isInfinite(x)) {
        throw new IllegalArgumentException("--alpha-hat must be a positive number, auto (learned from 1) or "
            + "auto_<number> (SAC: learned from it), got '" + alphaHat + "'");
      }
    }
  }

  /** A setting from the command line, else from the config file (its key: the option's name with _), else the fallback. */
  private static String setting(Opts o, ConfigFile file, String option, String fallback) {
    if (o.has(option)) {
      return o.text(option, fallback);
    }
    String v = file.text(option.substring(2).replace('-', '_'));
    return v != null ? v : fallback;
  }

  /**
   * The task the options (over the config file's settings) name: --task NAME (built in), or --env-id ID
   * with --addon / --eval-env-id.
   */
  static Task task(Opts o, ConfigFile file) {
    boolean cliTask = o.has("--task");
    boolean cliEnv = o.has("--env-id");
    if (cliTask && cliEnv) {
      throw new IllegalArgumentException("--task and --env-id exclude each other: a built-in task (--task) or your "
          + "own env (--env-id)");
    }
    // the command line's choice of kind wins; from the file, env_id (its "task" is then only a label)
    String envId = cliTask ? null : cliEnv ? o.text("--env-id", null) : file.text("env_id");
    String name = envId != null ? null : cliTask ? o.text("--task", null) : file.text("task");
    // per key: the command line's, else the file's (unless --task chose a built-in task)
    String addon = o.has("--addon") ? o.text("--addon", null) : cliTask ? null : file.text("addon");
    String evalId = o.has("--eval-env-id") ? o.text("--eval-env-id", null) : cliTask ? null
        : file.text("eval_env_id");
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
      case "ppo" -> Customization.Algorithm.PPO;
      default -> throw new IllegalArgumentException("--algo must be softq, sac or ppo, got '" + name + "'");
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
    return config(baseConfig(task), task, steps, seed, priorWeight, alphaHat, warmStart);
  }

  /** As above on {@code base} (the settings of a task of the user's), {@code label} naming the task in messages. */
  static LearnerConfig config(LearnerConfig base, String label, long steps, long seed, float priorWeight,
      String alphaHat, String warmStart) {
    return tuned(base.withTotalSteps(steps).withSeed(seed).withPriorWeight(priorWeight), label, alphaHat, warmStart);
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

  /** Whether {@code --kl-budget}'s value asks for no budget ({@code none}: the weights, as given or the defaults). */
  static boolean isNone(String text) {
    return text != null && text.trim().equals("none");
  }

  /** {@code --greedy-share}: a share of the states in (0, 1]. */
  static double greedyShare(String text) {
    double v;
    try {
      v = Double.parseDouble(text.trim());
    } catch (NumberFormatException e) {
      v = Double.NaN;
    }
    if (!(v > 0 && v <= 1)) {
      throw new IllegalArgumentException("--greedy-share must be a share of the states in (0, 1], e.g. 0.05 (at most 5 % "
          + "of them with a most likely action other than the prior's), got '" + text + "'");
    }
    return v;
  }

  /** A number > 0 from the config file's {@code key}, or {@code otherwise} when the file has none. */
  private static double positive(Opts o, ConfigFile file, String key, double otherwise) {
    String text = file.text(key);
    if (text == null) {
      return otherwise;
    }
    try {
      double v = Double.parseDouble(text);
      if (v > 0 && Double.isFinite(v)) {
        return v;
      }
    } catch (NumberFormatException e) {
      // refused below
    }
    throw new IllegalArgumentException("config file " + o.text("--config", null) + ": " + key + " must be a number > 0, "
        + "got '" + text + "'");
  }

  /** Whether {@code --kl-budget}'s value asks for the default budget ({@code auto}). */
  static boolean isAuto(String text) {
    return text != null && text.trim().equals("auto");
  }

  /**
   * {@code --kl-budget}'s budget (null when not given, or {@code auto}: the default, resolved once the env's
   * action space is known); refused with an explicit {@code --prior-weight}.
   */
  static org.rql4j.learner.KlBudget klBudget(String text, boolean priorWeightGiven) {
    if (text == null || isNone(text)) {
      return null;
    }
    if (priorWeightGiven) {
      throw new IllegalArgumentException("--prior-weight (or a config file's prior_weight) does not go with a KL "
          + "budget (--kl-budget, or a config file's kl_budget): under a budget the prior weight follows the "
          + "temperature (w = alphaHat; docs/method.md, \"A KL budget instead of w and alphaHat\"); --kl-budget none "
          + "runs with the weights instead");
    }
    if (isAuto(text)) {
      return null;
    }
    double nats;
    try {
      nats = Double.parseDouble(text.trim());
    } catch (NumberFormatException e) {
      nats = Double.NaN;
    }
    if (!(nats > 0) || Double.isInfinite(nats)) {
      throw new IllegalArgumentException("--kl-budget must be a number of nats per step > 0, or auto (the default: "
          + org.rql4j.learner.KlBudget.DEFAULT_NATS + " nats times the cube root of the action dimensions), got '" + text
          + "'");
    }
    return org.rql4j.learner.KlBudget.of(nats);
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
