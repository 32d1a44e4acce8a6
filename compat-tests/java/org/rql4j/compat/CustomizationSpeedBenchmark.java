package org.rql4j.compat;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.rql4j.bridge.PythonServer;

/**
 * Benchmark (not a test): a full customization run (docs/tasks.md's reference schedule, 1e5 env
 * steps, seed 0) by the Java learner ({@code rql4j customize}, env through the bridge) and by a
 * compact PyTorch reference (env in-process), one after the other in the same run, each under
 * {@code /usr/bin/time -v}. Both runs also evaluate the prior and the customized policy (20
 * episodes each). Tasks: {@code cartpole-center} (residual soft Q-learning,
 * {@code compat-tests/python/residual_soft_q_full_run.py}; {@code make bench-softq}) and
 * {@code mountaincar-lessleft} (residual SAC, {@code compat-tests/python/residual_sac_full_run.py};
 * {@code make bench-sac}). Arguments: TASK [ENV_STEPS (1e5)] [PAIRS (1)]; with several pairs the runs take
 * turns (Java, PyTorch, Java, ...) and the table adds the medians and their ratio. Writes
 * {@code compat-tests/results/<name>-benchmark.json} and its section of docs/benchmarks.md. Run on an
 * otherwise idle machine.
 */
public final class CustomizationSpeedBenchmark {

  private CustomizationSpeedBenchmark() {}

  /** What one task's benchmark runs and how its section reads. */
  record Case(String name, String prior, String script, String title, String schedule, String official) {}

  static Case of(String task) {
    return switch (task) {
      case "cartpole-center" -> new Case("softq-speed", "cartpole-center-softdqn", "residual_soft_q_full_run.py",
          "Full CartPole customization: Java learner vs PyTorch reference",
          "docs/tasks.md's CartPole reference: %d env steps, 128 gradient steps every 256, batch 64, seed 0",
          "The official Python RQL code (SB3-based) took 229 s wall / 411 CPU-s for this run on an idle machine of "
              + "our size (issue 4).");
      case "mountaincar-lessleft" -> new Case("sac-speed", "mountaincar-lessleft-sac", "residual_sac_full_run.py",
          "Full MountainCar customization (residual SAC): Java learner vs PyTorch reference",
          "docs/tasks.md's MountainCar SAC reference: %d env steps, 32 gradient steps every 32 env steps, batch 512, "
              + "[64, 64] actor and twin critics, seed 0",
          "The official Python RQL code managed about 28 env steps/s on this task on a busy machine of our size "
              + "(issue 5).");
      default -> throw new IllegalArgumentException("no speed benchmark for task " + task
          + "; expected cartpole-center or mountaincar-lessleft");
    };
  }

  /** What /usr/bin/time -v reported. */
  record Usage(double wallSeconds, double userSeconds, double systemSeconds, double maxRssMiB) {}

  public static void main(String[] args) throws Exception {
    Path root = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();
    String task = args.length > 0 ? args[0] : "cartpole-center";
    long steps = args.length > 1 ? Long.parseLong(args[1]) : 100_000;
    int pairs = args.length > 2 ? Integer.parseInt(args[2]) : 1;
    if (pairs < 1) {
      throw new IllegalArgumentException("pairs must be >= 1, got " + pairs);
    }
    Case c = of(task);
    Path work = root.resolve("target/bench/" + c.name());
    deleteTree(work);
    Files.createDirectories(work);
    Path prior = root.resolve("examples/priors/" + c.prior());

    // Java, PyTorch, Java, PyTorch, ...: interleaved, so that the machine's drift spreads over both sides
    List<Map<String, Object>> javaRows = new ArrayList<>();
    List<Map<String, Object>> pyRows = new ArrayList<>();
    for (int pair = 0; pair < pairs; pair++) {
      javaRows.add(javaRun(c, task, steps, prior, work.resolve("pair" + pair)));
      pyRows.add(pythonRun(c, root, task, steps, prior, work.resolve("pair" + pair)));
    }

    String when = Instant.now().toString();
    int cores = Runtime.getRuntime().availableProcessors();
    double javaWall = median(javaRows, "wall_seconds");
    double pyWall = median(pyRows, "wall_seconds");
    Gson gson = new GsonBuilder().setPrettyPrinting().create();
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("benchmark", c.name());
    json.put("task", task);
    json.put("date", when);
    json.put("cores", cores);
    json.put("env_steps", steps);
    json.put("pairs", pairs);
    json.put("java_runs", javaRows);
    json.put("python_runs", pyRows);
    json.put("median_wall_ratio_java_over_python", javaWall / pyWall);
    Path results = root.resolve("compat-tests/results/" + c.name() + "-benchmark.json");
    Files.createDirectories(results.getParent());
    Files.writeString(results, gson.toJson(json) + "\n");

    StringBuilder md = new StringBuilder();
    md.append("## ").append(c.title()).append("\n\n");
    md.append("Command: `make bench-").append(c.name().replace("-speed", "")).append("` (runs `org.rql4j.compat.")
        .append("CustomizationSpeedBenchmark ").append(task).append(" ").append(steps).append(" ").append(pairs)
        .append("`). Measured ").append(when).append(" on a ").append(cores).append("-core machine of our kind. ")
        .append(pairs == 1 ? "One run each, one after the other" : pairs + " pairs of runs taking turns (Java, "
            + "PyTorch, Java, PyTorch, ...), the medians over the pairs")
        .append(", same schedule (").append(String.format(Locale.ROOT, c.schedule(), steps)).append("), each also ")
        .append("evaluating the prior and the customized policy ")
        .append("(20 episodes each). Wall, CPU and max RSS from `/usr/bin/time -v` of the whole process (the Java ")
        .append("row includes starting the Python env server, whose CPU is counted; max RSS is the largest single ")
        .append("process). Train s = the training loop's wall time; env / prior / learner s split it ")
        .append("(learner = updates + acting); env steps/s = env steps / train s. ").append(c.official())
        .append("\n\n");
    md.append("| implementation | run | wall s | CPU s | max RSS MiB | train s | env steps/s | env s | prior s | learner s "
        + "| customized (20 episodes) |\n");
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (int pair = 0; pair < pairs; pair++) {
      for (Map<String, Object> r : List.of(javaRows.get(pair), pyRows.get(pair))) {
        md.append(row(r, pairs == 1 ? "" : String.valueOf(pair + 1), steps));
      }
    }
    if (pairs > 1) {
      for (List<Map<String, Object>> rows : List.of(javaRows, pyRows)) {
        Map<String, Object> m = new LinkedHashMap<>(rows.get(0));
        for (String key : List.of("wall_seconds", "cpu_seconds", "max_rss_mib", "train_seconds", "env_seconds",
            "prior_seconds", "learner_seconds")) {
          m.put(key, median(rows, key));
        }
        m.put("customized", "");
        md.append(row(m, "**median**", steps));
      }
    }
    md.append(String.format(Locale.ROOT, "%nJava / PyTorch, ratio of the median wall times: **%.3f** (%.1f s / %.1f s).%n",
        javaWall / pyWall, javaWall, pyWall));
    Path doc = BenchmarkDoc.writeSection(root, c.name() + "-benchmark", md.toString());
    System.out.println(md);
    System.out.println("wrote " + results + " and " + doc);
  }

  private static Map<String, Object> javaRun(Case c, String task, long steps, Path prior, Path work) throws Exception {
    Files.createDirectories(work);
    List<String> javaCmd = new ArrayList<>(List.of("/usr/bin/time", "-v",
        ProcessHandle.current().info().command().orElse("java")));
    javaCmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
    javaCmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "org.rql4j.cli.Main", "customize",
        "--task", task, "--prior", prior.toString(), "--steps", Long.toString(steps), "--seed", "0",
        "--out", work.resolve("java").toString()));
    Usage javaUsage = run(javaCmd, work.resolve("java.log"));
    JsonObject javaSummary = JsonParser.parseString(Files.readString(work.resolve("java/summary.json")))
        .getAsJsonObject();
    JsonObject progress = javaSummary.getAsJsonObject("final_progress");
    Map<String, Object> javaRow = new LinkedHashMap<>();
    javaRow.put("implementation", "rql4j (Java, DJL; env over the bridge's step socket)");
    javaRow.putAll(usage(javaUsage));
    javaRow.put("train_seconds", javaSummary.get("train_seconds").getAsDouble());
    javaRow.put("env_seconds", progress.get("envSeconds").getAsDouble());
    javaRow.put("prior_seconds", progress.get("priorSeconds").getAsDouble());
    javaRow.put("learner_seconds", progress.get("learnerSeconds").getAsDouble());
    java.util.List<org.rql4j.train.Evaluator.Episode> learned = new Gson().fromJson(
        javaSummary.get("learned_episodes"), com.google.gson.reflect.TypeToken.getParameterized(
            java.util.List.class, org.rql4j.train.Evaluator.Episode.class).getType());
    org.rql4j.train.Evaluator.Summary javaEval = new org.rql4j.train.Evaluator.Summary(learned);
    javaRow.put("customized", String.format(Locale.ROOT, "basic %.1f ± %.1f, add-on %.1f ± %.1f",
        javaEval.mean(org.rql4j.train.Evaluator.Episode::basicReturn),
        javaEval.std(org.rql4j.train.Evaluator.Episode::basicReturn),
        javaEval.mean(org.rql4j.train.Evaluator.Episode::addonReturn),
        javaEval.std(org.rql4j.train.Evaluator.Episode::addonReturn)));
    return javaRow;
  }

  private static Map<String, Object> pythonRun(Case c, Path root, String task, long steps, Path prior, Path work)
      throws Exception {
    Files.createDirectories(work);
    List<String> python = List.of("/usr/bin/time", "-v", PythonServer.defaultPython().toString(),
        root.resolve("compat-tests/python/" + c.script()).toString(), "--task", task, "--prior", prior.toString(),
        "--steps", Long.toString(steps), "--seed", "0", "--out", work.resolve("python.json").toString());
    Usage pyUsage = run(python, work.resolve("python.log"));
    JsonObject py = JsonParser.parseString(Files.readString(work.resolve("python.json"))).getAsJsonObject();
    Map<String, Object> pyRow = new LinkedHashMap<>();
    pyRow.put("implementation", "PyTorch reference (" + py.get("torch").getAsString() + "; env in-process)");
    pyRow.putAll(usage(pyUsage));
    pyRow.put("train_seconds", py.get("train_seconds").getAsDouble());
    pyRow.put("env_seconds", py.get("env_seconds").getAsDouble());
    pyRow.put("prior_seconds", py.get("prior_seconds").getAsDouble());
    pyRow.put("learner_seconds", py.get("learner_seconds").getAsDouble());
    JsonObject ev = py.getAsJsonObject("customized_eval");
    pyRow.put("customized", String.format(Locale.ROOT, "basic %.1f ± %.1f, add-on %.1f ± %.1f",
        ev.get("basic_mean").getAsDouble(), ev.get("basic_std").getAsDouble(), ev.get("addon_mean").getAsDouble(),
        ev.get("addon_std").getAsDouble()));
    return pyRow;
  }

  private static String row(Map<String, Object> r, String run, long steps) {
    return String.format(Locale.ROOT, "| %s | %s | %.1f | %.1f | %.0f | %.1f | %.0f | %.1f | %.1f | %.1f | %s |%n",
        r.get("implementation"), run, r.get("wall_seconds"), r.get("cpu_seconds"), r.get("max_rss_mib"),
        r.get("train_seconds"), steps / (double) r.get("train_seconds"), r.get("env_seconds"), r.get("prior_seconds"),
        r.get("learner_seconds"), String.valueOf(r.get("customized")).replace("|", "").trim());
  }

  /** The median of {@code key} over {@code rows} (the mean of the middle two for an even count). */
  static double median(List<Map<String, Object>> rows, String key) {
    double[] v = rows.stream().mapToDouble(r -> ((Number) r.get(key)).doubleValue()).sorted().toArray();
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  private static Map<String, Object> usage(Usage u) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("wall_seconds", u.wallSeconds());
    m.put("cpu_seconds", u.userSeconds() + u.systemSeconds());
    m.put("user_seconds", u.userSeconds());
    m.put("system_seconds", u.systemSeconds());
    m.put("max_rss_mib", u.maxRssMiB());
    return m;
  }

  private static Usage run(List<String> cmd, Path log) throws IOException, InterruptedException {
    System.out.println("running: " + String.join(" ", cmd.subList(0, Math.min(cmd.size(), 4))) + " ... (log: " + log + ")");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    int code = p.waitFor();
    String out = Files.readString(log, StandardCharsets.UTF_8);
    if (code != 0) {
      throw new IllegalStateException("benchmark run failed with exit code " + code + "; see " + log);
    }
    return parseTimeV(out);
  }

  /** The figures of GNU time's -v report in {@code text}. */
  static Usage parseTimeV(String text) {
    return new Usage(wall(find(text, "Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\): ([0-9:.]+)")),
        Double.parseDouble(find(text, "User time \\(seconds\\): ([0-9.]+)")),
        Double.parseDouble(find(text, "System time \\(seconds\\): ([0-9.]+)")),
        Double.parseDouble(find(text, "Maximum resident set size \\(kbytes\\): ([0-9]+)")) / 1024);
  }

  private static String find(String text, String regex) {
    Matcher m = Pattern.compile(regex).matcher(text);
    if (!m.find()) {
      throw new IllegalStateException("no '" + regex + "' in the /usr/bin/time -v output");
    }
    return m.group(1);
  }

  private static double wall(String hms) {
    String[] parts = hms.split(":");
    double s = 0;
    for (String part : parts) {
      s = s * 60 + Double.parseDouble(part);
    }
    return s;
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var s = Files.walk(p)) {
      for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(x);
      }
    }
  }
}
