package org.rql4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.customize.Customization;
import org.rql4j.customize.Task;
import org.rql4j.learner.LearnerConfig;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.train.Evaluator;
import org.rql4j.train.MarkedSections;
import org.rql4j.train.Checkpointing;

/**
 * {@code rql4j results}: the customization table of a discrete task (docs/tasks.md, "How a result
 * is reported"): prior alone / residual customized / oracle (soft DQN on the total reward) /
 * add-on only, over seeds, for one or more priors; writes its section of docs/results.md.
 */
final class Results {

  private Results() {}

  /** The top of docs/results.md, written when the file is new. */
  static final String DOC_HEADER = "# Results\n\nCustomization results for the paper's tasks (docs/tasks.md). Each "
      + "section names the command that made it.\n";

  /** One training run of the table. */
  record Job(String row, String priorName, String baseline, String weight, String alphaHat, long seed, Path out,
      String maxGradNorm, String priorMinStd) {}

  static void run(String[] args) throws IOException {
    Opts o = Commands.parse("results", args);
    Task theTask = Customize.task(o, org.rql4j.customize.ConfigFile.EMPTY);
    String task = theTask.label();
    long steps = o.whole("--steps", 100_000);
    int episodes = (int) o.whole("--eval-episodes", 20);
    String[] seeds = o.text("--seeds", "0,1,2").split(",");
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    // the priors by row name: a built-in task's shipped ones (--priors), or your --prior DIR
    Map<String, Path> priorDirs = new LinkedHashMap<>();
    if (theTask.isBuiltIn()) {
      if (o.has("--prior")) {
        throw new IllegalArgumentException("--prior goes with --env-id; a built-in task's rows use its shipped priors, "
            + "named by --priors");
      }
      String name = theTask.name();
      for (String p : o.text("--priors", Customize.defaultPrior(name).equals("softdqn") ? "softdqn,bc"
          : Customize.defaultPrior(name)).split(",")) {
        priorDirs.put(p.trim(), root.resolve("examples/priors/" + name + "-" + p.trim()));
      }
    } else {
      if (!o.has("--prior") || o.has("--priors")) {
        throw new IllegalArgumentException("results --env-id needs your prior package: --prior DIR (--priors names "
            + "the built-in tasks' shipped priors)");
      }
      Path dir = Path.of(o.text("--prior", null)).toAbsolutePath().normalize();
      priorDirs.put(dir.getFileName().toString(), dir);
    }
    String[] priors = priorDirs.keySet().toArray(String[]::new);
    LearnerConfig reference = theTask.isBuiltIn() ? Customize.baseConfig(theTask.name())
        : Customization.defaultConfig(algorithm(o.text("--algo", null), theTask, o.all("--import")));
    // --config: learner settings for every row (e.g. more env copies); the rest is this command's
    Path configFile = o.has("--config") ? Path.of(o.text("--config", null)).toAbsolutePath().normalize() : null;
    org.rql4j.customize.ConfigFile file = configFile == null ? org.rql4j.customize.ConfigFile.EMPTY
        : learnerSettings(configFile, task);
    LearnerConfig base = file.overlay(reference);
    int envWorkers = (int) o.whole("--env-workers", 0);
    String[] weights = o.text("--prior-weights", Customize.number(base.priorWeight())).split(",");
    // optional temperatures of the residual rows, one per prior weight (the baselines keep the reference one)
    String alphaOpt = o.text("--alpha-hats", null);
    String[] alphas = alphaOpt == null ? new String[weights.length] : alphaOpt.split(",");
    if (alphas.length != weights.length) {
      throw new IllegalArgumentException("--alpha-hats needs one value per --prior-weights value (" + weights.length
          + "), got " + alphas.length);
    }
    String warmStart = o.text("--warm-start", null);
    // SAC's stabilizers beyond the reference, for the residual rows (the baselines stay reference SAC)
    String gradNorm = o.text("--max-grad-norm", null);
    String minStd = o.text("--prior-min-std", null);
    for (int k = 0; k < weights.length; k++) { // refuse a bad value before any run starts
      Customize.stabilized(Customize.config(base, task, steps, 0, Customize.parseWeight(weights[k], "--prior-weights"),
          alphas[k], warmStart), task, gradNorm, minStd);
    }
    String stab = (gradNorm == null ? "" : "-clip" + gradNorm.trim())
        + (minStd == null ? "" : "-minstd" + minStd.trim());
    // the section's own key when the settings or the env backend differ from the reference runs'
    String setup = (configFile == null ? "" : "-" + slug(stem(configFile))) + (envWorkers == 0 ? ""
        : "-workers" + envWorkers);
    String stabRow = (gradNorm == null ? "" : ", grad-norm clip " + gradNorm.trim())
        + (minStd == null ? "" : ", prior std floor " + minStd.trim());
    boolean baselines = !o.text("--baselines", "yes").equals("no");
    int parallel = (int) o.whole("--parallel", 1);
    String slug = slug(task);
    // the runs' folders: another config's runs go elsewhere (a folder of other settings is refused, not reused)
    Path outRoot = Path.of(o.text("--out", root.resolve("target/results/" + slug + "-" + steps
        + (configFile == null ? "" : "-" + slug(stem(configFile)))).toString()));
    String command = "bin/rql4j results " + String.join(" ", args);
    // where it ran, when not in the checkout: relative paths in the command are that folder's
    Path cwd = Path.of("").toAbsolutePath().normalize();
    Path rootAbs = root.toAbsolutePath().normalize();
    String where = cwd.equals(rootAbs) ? "" : " (in " + (cwd.startsWith(rootAbs) ? rootAbs.relativize(cwd) : cwd) + ")";
    long t0 = System.nanoTime();
    List<Job> jobs = new ArrayList<>();
    for (String priorName : priors) {
      for (int k = 0; k < weights.length; k++) {
        String w = weights[k];
        String alpha = alphas[k];
        String suffix = (alpha == null ? "" : "-alpha" + alpha) + stab;
        for (String seed : seeds) {
          jobs.add(new Job("residual, " + priorName + " prior, w = " + w + (alpha == null ? "" : ", alphaHat " + alpha)
              + stabRow, priorName, "residual", w, alpha, Long.parseLong(seed.trim()),
              outRoot.resolve("residual-" + priorName + "-w" + w + suffix + "-seed" + seed.trim()), gradNorm, minStd));
        }
      }
    }
    if (baselines) {
      for (String baseline : new String[] {"oracle", "addon-only"}) {
        String name = baseline.equals("oracle") ? "oracle: " + base.algorithm() + " on the total reward"
            : "add-on only: " + base.algorithm() + " on the add-on reward";
        for (String seed : seeds) {
          jobs.add(new Job(name, priors[0], baseline, "0", null, Long.parseLong(seed.trim()),
              outRoot.resolve(baseline + "-seed" + seed.trim()), null, null));
        }
      }
    }
    System.out.printf(Locale.ROOT, "rql4j results: %d runs of %d env steps on %s, %d at a time; run folders (resumable: "
        + "rerun the same command to continue) under %s%n", jobs.size(), steps, task, parallel, outRoot);
    java.util.concurrent.atomic.AtomicInteger reused = new java.util.concurrent.atomic.AtomicInteger();
    List<java.util.concurrent.Callable<Customize.Result>> calls = new ArrayList<>();
    for (Job job : jobs) {
      calls.add(() -> runJob(theTask, base, priorDirs.get(job.priorName()), o.all("--import"), steps, episodes,
          warmStart, job, parallel > 1, reused, configFile, envWorkers));
    }
    List<Customize.Result> results = runAll(calls, parallel, outRoot);
    Map<String, List<Evaluator.Episode>> rows = new LinkedHashMap<>();
    Map<String, List<Double>> trainSeconds = new LinkedHashMap<>();
    Map<String, List<String>> perSeed = new LinkedHashMap<>();
    for (int k = 0; k < jobs.size(); k++) {
      Job job = jobs.get(k);
      Customize.Result r = results.get(k);
      // the prior's evaluation does not depend on the training seed: one copy per prior
      rows.putIfAbsent("prior alone: " + job.priorName(), new ArrayList<>(r.prior().episodes()));
      rows.computeIfAbsent(job.row(), x -> new ArrayList<>()).addAll(r.learned().episodes());
      trainSeconds.computeIfAbsent(job.row(), x -> new ArrayList<>()).add(r.seconds());
      perSeed.computeIfAbsent(job.row(), x -> new ArrayList<>()).add(String.format(Locale.ROOT, "%.1f / %.1f",
          r.learned().mean(Evaluator.Episode::basicReturn), r.learned().mean(Evaluator.Episode::addonReturn)));
    }
    // "prior alone" rows first, as in the earlier tables
    Map<String, List<Evaluator.Episode>> ordered = new LinkedHashMap<>();
    rows.forEach((k, v) -> {
      if (k.startsWith("prior alone")) {
        ordered.put(k, v);
      }
    });
    rows.forEach(ordered::putIfAbsent);
    rows = ordered;
    double minutes = (System.nanoTime() - t0) / 60e9;
    // success: highway = the episode ran to its time limit (no crash); mountaincar = the car reached the
    // flag; parking = parked (both end the episode by termination); cartpole has no success column
    boolean success = theTask.isBuiltIn() && !task.startsWith("cartpole");
    boolean successIsTermination = !task.startsWith("highway");
    String successText = task.startsWith("highway")
        ? " Success: the episode reached its time limit without a crash (not terminated)."
        : task.startsWith("mountaincar") ? " Success: the car reached the flag (the episode terminated before the "
            + "999-step limit)." : " Success: parked (the episode terminated: with no walls and no other vehicles "
            + "nothing else ends it early).";
    StringBuilder md = new StringBuilder();
    String method = base.algorithm().equals("SAC") ? "residual SAC" : "residual soft Q-learning";
    md.append("## ").append(task).append(" (").append(method).append(", ").append(steps).append(" env steps per run")
        .append(envWorkers == 0 ? "" : ", " + base.numEnvs() + " env copies in " + Math.min(envWorkers, base.numEnvs())
            + " worker processes")
        .append(")\n\n");
    md.append("Command").append(where).append(": `").append(command).append("` (").append(String.format(Locale.ROOT, "%.0f", minutes))
        .append(" min wall on our 2-core machine, ").append(reused.get() == 0 ? ""
            : reused.get() + " of " + jobs.size() + " runs reused from earlier invocations (their training times are "
            + "in the last column), ").append(Instant.now()).append("). Seeds ").append(String.join(", ", seeds))
        .append("; each row pools ").append(episodes).append(" evaluation episodes per seed (reset seeds 10000..), ")
        .append("deterministic policies, on the task's total variant; mean ± std over all pooled episodes. ")
        .append(theTask.isBuiltIn() && configFile == null ? "Reference hyperparameters of docs/tasks.md: "
            : theTask.isBuiltIn() ? "Hyperparameters (docs/tasks.md's reference with " + configFile.getFileName()
            + "'s config): " : "Hyperparameters: ")
        .append(Customize.config(base, task, steps, 0, base.priorWeight(),
            null, warmStart)).append(". Per seed: mean basic / add-on return of "
            + "each seed's ").append(episodes).append(" episodes.")
        .append(success ? successText : "")
        .append("\n\n");
    md.append("| policy | basic return | add-on return | length |").append(success ? " success |" : "")
        .append(" per seed (basic / add-on) | train s / run |\n|---|---|---|---|").append(success ? "---|" : "")
        .append("---|---|\n");
    rows.forEach((name, eps) -> {
      List<Double> secs = trainSeconds.get(name);
      String time = secs == null ? "" : String.format(Locale.ROOT, "%.0f", secs.stream().mapToDouble(d -> d).average().orElse(0));
      Evaluator.Summary summary = new Evaluator.Summary(eps);
      md.append(summary.markdownRow(name));
      if (success) {
        md.append(String.format(Locale.ROOT, " %.0f%% |",
            100 * summary.mean(e -> e.terminated() == successIsTermination ? 1 : 0)));
      }
      md.append(" ").append(String.join("; ", perSeed.getOrDefault(name, List.of()))).append(" | ")
          .append(time).append(" |\n");
    });
    String section = md.toString();
    System.out.println("\n" + section);
    System.out.println("learning curves: .venv/bin/rql4j-bridge plot " + outRoot + "/* --out " + outRoot
        + "/curves.png");
    Path doc = Path.of(o.text("--doc", root.resolve("docs/results.md").toString()));
    MarkedSections.write(doc, "results-" + slug + "-" + String.join("-", priors) + "-w"
        + String.join("-", weights) + (alphaOpt == null ? "" : "-alpha" + String.join("-", alphas)) + stab + setup,
        section,
        DOC_HEADER);
  }

  /**
   * One job: the result its folder already holds (a finished run of the same settings), else a
   * training run, resumed from its checkpoint if it has one; in this JVM, or in a child JVM when
   * {@code inChild} (DJL's PyTorch engine allows one GradientCollector per JVM at a time, so
   * parallel learners need processes).
   */
  private static Customize.Result runJob(Task task, LearnerConfig base, Path priorDir, List<String> imports,
      long steps, int episodes, String warmStart, Job job, boolean inChild,
      java.util.concurrent.atomic.AtomicInteger reused, Path configFile, int envWorkers)
      throws IOException, InterruptedException {
    String tag = "[" + job.out().getFileName() + "] ";
    LearnerConfig cfg = Customize.stabilized(Customize.config(base, task.label(), steps, job.seed(),
        Customize.parseWeight(job.weight(), "--prior-weights"), job.alphaHat(), warmStart), task.label(),
        job.maxGradNorm(), job.priorMinStd());
    String priorSha = org.rql4j.prior.PriorPackage.contentHash(priorDir);
    Customize.Result done = Customize.finished(job.out(), cfg, task.label(), job.baseline(), episodes, priorSha);
    if (done != null) {
      System.out.println(tag + "finished earlier: " + done.learned().markdownRow(job.row()));
      reused.incrementAndGet();
      return done;
    }
    long checkpointEvery = Math.max(1000, steps / 10);
    if (!inChild) {
      Checkpointing ck = new Checkpointing(job.out().resolve("checkpoint"),
          checkpointEvery, true);
      PythonServer.Builder sb = PythonServer.builder().optWorkers(envWorkers);
      imports.forEach(sb::optImport);
      task.modules().stream().filter(m -> !imports.contains(m)).forEach(sb::optImport);
      task.addon().ifPresent(sb::optAddon);
      try (PythonServer server = sb.start(); GrpcEnvClient client = server.connect();
          TorchScriptPrior prior = TorchScriptPrior.load(priorDir)) {
        Customize.Result r = Customize.customize(client, prior, task, job.baseline(), cfg, episodes,
            p -> System.out.println(tag + p.line()), job.out(), ck);
        System.out.println(tag + "seed " + job.seed() + ": " + r.learned().markdownRow(job.row())
            + String.format(Locale.ROOT, " (%.0f s)", r.seconds()));
        return r;
      }
    }
    int code = runChild(childArgs(task, base, priorDir, imports, steps, episodes, warmStart, job, checkpointEvery,
        configFile, envWorkers), tag);
    Customize.Result result = Customize.finished(job.out(), cfg, task.label(), job.baseline(), episodes, priorSha);
    if (code != 0 || result == null) {
      throw new CommandException("run " + job.out() + " exited with code " + code + " (its output is above, "
          + "prefixed " + tag.trim() + ")", null);
    }
    return result;
  }

  /** The {@code rql4j customize} command line of one job run in a child JVM (resumable: {@code --resume}). */
  static List<String> childArgs(Task task, LearnerConfig base, Path priorDir, List<String> imports, long steps,
      int episodes, String warmStart, Job job, long checkpointEvery, Path configFile, int envWorkers) {
    List<String> args = new ArrayList<>(List.of("customize"));
    if (task.isBuiltIn()) {
      args.addAll(List.of("--task", task.name()));
    } else {
      args.addAll(List.of("--env-id", task.envId()));
      task.addon().ifPresent(a -> args.addAll(List.of("--addon", a)));
      task.evalEnvId().ifPresent(id -> args.addAll(List.of("--eval-env-id", id)));
      imports.forEach(m -> args.addAll(List.of("--import", m)));
      args.addAll(List.of("--algo", base instanceof org.rql4j.learner.ResidualSacConfig ? "sac" : "softq"));
    }
    args.addAll(List.of("--baseline", job.baseline(),
        "--prior", priorDir.toString(),
        "--steps", Long.toString(steps), "--seed", Long.toString(job.seed()), "--prior-weight", job.weight(),
        "--alpha-hat", job.alphaHat() == null ? "reference" : job.alphaHat(),
        "--warm-start", warmStart == null ? "reference" : warmStart,
        "--max-grad-norm", job.maxGradNorm() == null ? "reference" : job.maxGradNorm(),
        "--prior-min-std", job.priorMinStd() == null ? "reference" : job.priorMinStd(),
        "--eval-episodes", Integer.toString(episodes), "--out", job.out().toString(),
        "--checkpoint-every", Long.toString(checkpointEvery), "--resume"));
    if (configFile != null) {
      args.addAll(List.of("--config", configFile.toString()));
    }
    if (envWorkers > 0) {
      args.addAll(List.of("--env-workers", Integer.toString(envWorkers)));
    }
    return args;
  }

  /**
   * A results table's {@code --config}: a file that holds learner settings (its {@code config} mapping)
   * and at most the task it was written for; the run's steps, seeds and weights are the table's options.
   */
  static org.rql4j.customize.ConfigFile learnerSettings(Path configFile, String taskLabel) {
    org.rql4j.customize.ConfigFile file = org.rql4j.customize.ConfigFile.read(configFile);
    for (String key : org.rql4j.customize.ConfigFile.KEYS) {
      if (!key.equals("config") && !key.equals("task") && !key.equals("format") && file.has(key)) {
        throw new IllegalArgumentException("config file " + configFile + ": '" + key + "' is not a setting results "
            + "takes from a file: give it the learner settings (under 'config') only; steps, seeds, prior weights "
            + "and the task are this command's options");
      }
    }
    if (file.has("task") && !file.text("task").equals(taskLabel)) {
      throw new IllegalArgumentException("config file " + configFile + " is for task " + file.text("task")
          + ", not " + taskLabel + ": give --task " + file.text("task") + " or a file for " + taskLabel);
    }
    return file;
  }

  /** A file's name without its extension. */
  private static String stem(Path file) {
    String name = file.getFileName().toString();
    int dot = name.lastIndexOf('.');
    return dot > 0 ? name.substring(0, dot) : name;
  }

  /** A task's label as a folder and section name: {@code Pendulum-v1 + mytasks:gentle} -> {@code Pendulum-v1-mytasks-gentle}. */
  static String slug(String label) {
    return label.replaceAll("[^A-Za-z0-9._-]+", "-");
  }

  /** The learner family of a results table for your own env: --algo, else the env's action space (a server asked). */
  private static Customization.Algorithm algorithm(String algo, Task task, List<String> imports) {
    if (algo != null) {
      return switch (algo) {
        case "softq" -> Customization.Algorithm.SOFT_Q;
        case "sac" -> Customization.Algorithm.SAC;
        default -> throw new IllegalArgumentException("--algo must be softq or sac, got '" + algo + "'");
      };
    }
    PythonServer.Builder sb = PythonServer.builder();
    imports.forEach(sb::optImport);
    task.modules().stream().filter(m -> !imports.contains(m)).forEach(sb::optImport);
    task.addon().ifPresent(sb::optAddon);
    try (PythonServer server = sb.start(); GrpcEnvClient client = server.connect();
        org.rql4j.bridge.RemoteVectorEnv env = client.make(task.evalEnv().build())) {
      return env.actionSpace() instanceof org.rql4j.env.Space.Discrete ? Customization.Algorithm.SOFT_Q
          : Customization.Algorithm.SAC;
    }
  }

  /**
   * Runs {@code calls}, {@code parallel} at a time, and returns their results in order. A failure
   * (or an interrupt) stops the others and is rethrown saying that finished runs and checkpoints
   * stay under {@code outRoot}.
   */
  static <R> List<R> runAll(List<java.util.concurrent.Callable<R>> calls, int parallel, Path outRoot) {
    return runAll(calls, parallel, outRoot, "run", "runs and checkpoints");
  }

  /**
   * {@link #runAll(List, int, Path)} for jobs of another kind: a failure says "a {@code job}
   * failed" and that the finished {@code kept} stay under {@code outRoot}.
   */
  static <R> List<R> runAll(List<java.util.concurrent.Callable<R>> calls, int parallel, Path outRoot, String job,
      String kept) {
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(parallel);
    List<java.util.concurrent.Future<R>> futures = new ArrayList<>();
    for (java.util.concurrent.Callable<R> call : calls) {
      futures.add(pool.submit(call));
    }
    pool.shutdown();
    List<R> results = new ArrayList<>();
    try {
      for (java.util.concurrent.Future<R> f : futures) {
        results.add(f.get());
      }
      return results;
    } catch (InterruptedException e) {
      pool.shutdownNow();
      Thread.currentThread().interrupt();
      throw new CommandException("interrupted; finished " + kept + " are kept under " + outRoot, e);
    } catch (java.util.concurrent.ExecutionException e) {
      pool.shutdownNow();
      Throwable cause = e.getCause();
      throw new CommandException("a " + job + " failed: " + cause.getMessage() + "\nFinished " + kept
          + " are kept under " + outRoot + "; rerun the same command to continue.", cause);
    }
  }

  /**
   * Runs {@code rql4j <args>} in a child JVM (this JVM's command, options without debug agents,
   * and class path), echoing its output prefixed by {@code tag}; returns its exit code. DJL's
   * PyTorch engine allows one GradientCollector per JVM at a time, so parallel learners need
   * processes.
   */
  static int runChild(List<String> args, String tag) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    // the parent's JVM options, without debug agents (their ports would clash between children)
    java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(a -> !a.startsWith("-agentlib") && !a.startsWith("-javaagent") && !a.startsWith("-Xrunjdwp"))
        .forEach(cmd::add);
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(args);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try (java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
        java.nio.charset.StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        System.out.println(tag + line);
      }
    } finally {
      if (p.isAlive()) {
        p.destroy();
      }
    }
    return p.waitFor();
  }
}
