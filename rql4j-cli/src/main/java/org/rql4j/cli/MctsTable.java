package org.rql4j.cli;

import ai.djl.ndarray.NDManager;
import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.rql4j.bridge.BridgeTransport;
import org.rql4j.bridge.EnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.bridge.RemoteVectorEnv;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.Env;
import org.rql4j.env.Tensor;
import org.rql4j.env.Value;
import org.rql4j.mcts.EnvSimulator;
import org.rql4j.mcts.MctsConfig;
import org.rql4j.mcts.ResidualMaxEntMcts;
import org.rql4j.mcts.SearchPolicy;
import org.rql4j.mcts.SearchPrior;
import org.rql4j.policy.Policy;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.train.Evaluator;
import org.rql4j.train.MarkedSections;

/**
 * {@code rql4j mcts}: zero-shot customization by tree search (method.md, Algorithm 3) on a
 * Discrete task, as a results table: the prior alone (its greedy action) / plain max-ent MCTS
 * (uniform prior, total reward) / residual max-ent MCTS (the prior, add-on reward), over seeded
 * episodes (reset seeds 10000..), with basic and add-on returns, crash rate and decision latency.
 * Each row appends its finished episodes to {@code DIR/<row>.jsonl}: rerunning the same command
 * skips them (an interrupted table resumes at the episode it was in).
 */
final class MctsTable {

  private MctsTable() {}

  static final List<String> ROWS = List.of("prior", "plain", "residual");

  /**
   * One finished episode of a row, as the row's .jsonl file holds it: the evaluation's episode
   * ({@link Evaluator.Episode}) and the search's cost (the latency of each decision, env steps searched).
   */
  record Episode(long seed, double basic, double addon, double envReturn, int length, boolean terminated,
      double[] decisionMs, long searchSteps) {

    static Episode of(Evaluator.Episode e, double[] decisionMs, long searchSteps) {
      return new Episode(e.seed(), e.basicReturn(), e.addonReturn(), e.envReturn(), e.length(), e.terminated(),
          decisionMs, searchSteps);
    }

    Evaluator.Episode evaluated() {
      return new Evaluator.Episode(seed, basic, addon, envReturn, length, terminated);
    }

    double medianMs() {
      return Evaluator.median(decisionMs);
    }
  }

  static void run(String[] args) throws IOException {
    Opts o = Commands.parse("mcts", args);
    String task = org.rql4j.customize.Task.builtIn(o.text("--task", "highway-rightlane")).name();
    if (!task.equals("highway-rightlane") && !task.equals("cartpole-center")) {
      throw new IllegalArgumentException("rql4j mcts runs on Discrete tasks (highway-rightlane, cartpole-center), got "
          + task);
    }
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    Path priorDir = Path.of(o.text("--prior",
        root.resolve("examples/priors/" + task + "-softdqn").toString()));
    int episodes = (int) o.whole("--episodes", 10);
    MctsConfig ref = MctsConfig.reference();
    MctsConfig cfg = new MctsConfig(
        number(o, "--prior-weight", ref.priorWeight()), number(o, "--alpha-hat", ref.alphaHat()),
        number(o, "--eps", ref.eps()), (int) o.whole("--simulations", ref.simulations()),
        (int) o.whole("--horizon", ref.horizon()), number(o, "--gamma", ref.gamma()), false);
    long seed = o.whole("--seed", 0);
    List<String> rows = Arrays.asList(o.text("--rows", String.join(",", ROWS)).split(","));
    for (String row : rows) {
      if (!ROWS.contains(row)) {
        throw new IllegalArgumentException("--rows takes " + String.join(", ", ROWS) + "; got '" + row + "'");
      }
    }
    int parallel = (int) o.whole("--parallel", 1);
    int workers = (int) Math.max(1, o.whole("--workers", 1));
    String ray = o.text("--ray", null);
    if (ray != null && workers < 2) {
      throw new IllegalArgumentException("--ray puts the parallel trees' env copies on a Ray cluster: give --workers K "
          + "(K >= 2) too");
    }
    if (workers > cfg.simulations()) {
      throw new IllegalArgumentException("--workers " + workers + " trees need at least " + workers
          + " simulations per decision, got --simulations " + cfg.simulations());
    }
    String kTag = workers > 1 ? "-k" + workers : "";
    String transportName = o.text("--transport", "grpc");
    BridgeTransport transport = switch (transportName) {
      case "grpc" -> BridgeTransport.GRPC;
      case "py4j" -> BridgeTransport.PY4J;
      default -> throw new IllegalArgumentException("--transport takes grpc or py4j, got '" + transportName + "'");
    };
    Path out = Path.of(o.text("--out", root.resolve("target/results/" + task + "-mcts-s"
        + cfg.simulations() + "-h" + cfg.horizon() + kTag).toString()));
    Files.createDirectories(out);
    Path settings = out.resolve("settings.json");
    JsonObject settingsJson = new JsonObject();
    settingsJson.add("config", new Gson().toJsonTree(cfg));
    settingsJson.addProperty("seed", seed);
    settingsJson.addProperty("prior_sha256", org.rql4j.prior.PriorPackage.contentHash(priorDir));
    if (workers > 1) { // another search than one tree's (a folder of one tree keeps its settings as they were)
      settingsJson.addProperty("parallel_trees", workers);
    }
    if (Files.exists(settings) && !JsonParser.parseString(Files.readString(settings)).equals(settingsJson)) {
      throw new IllegalArgumentException(out + " holds episodes of other settings (" + Files.readString(settings).trim()
          + "); delete it or choose another --out");
    }
    Files.writeString(settings, settingsJson.toString());
    String command = "bin/rql4j mcts " + String.join(" ", args);
    System.out.printf(Locale.ROOT, "rql4j mcts: %s on %s, %d episodes per row, %s; episodes go to %s%n",
        String.join(" / ", rows), task, episodes, cfg, out);
    long t0 = System.nanoTime();
    List<java.util.concurrent.Callable<List<Episode>>> calls = new ArrayList<>();
    for (String row : rows) {
      calls.add(() -> runRow(task, priorDir, row, cfg, seed, episodes, out, transport, workers, ray));
    }
    List<List<Episode>> done = Results.runAll(calls, Math.max(1, parallel), out, "row", "episodes");
    Map<String, List<Episode>> results = new LinkedHashMap<>();
    for (int k = 0; k < rows.size(); k++) {
      results.put(rows.get(k), done.get(k));
    }
    double minutes = (System.nanoTime() - t0) / 60e9;
    String section = table(task, command, minutes, cfg, episodes, results, workers);
    System.out.println("\n" + section);
    Path doc = Path.of(o.text("--doc", root.resolve("docs/results.md").toString()));
    MarkedSections.write(doc, "mcts-" + task + "-s" + cfg.simulations() + "-h" + cfg.horizon() + kTag, section,
        Results.DOC_HEADER);
  }

  private static double number(Opts o, String name, double fallback) {
    String v = o.text(name, null);
    if (v == null) {
      return fallback;
    }
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a number, got '" + v + "'");
    }
  }

  /** The episodes of one row: those its file already holds, then the missing ones. */
  static List<Episode> runRow(String task, Path priorDir, String row, MctsConfig base, long seed, int episodes,
      Path out, BridgeTransport transport, int workers, String ray) throws IOException {
    Path file = out.resolve(row + ".jsonl");
    List<Episode> done = read(file);
    String tag = "[" + row + "] ";
    if (done.size() >= episodes) {
      System.out.println(tag + "all " + episodes + " episodes finished earlier");
      return done.subList(0, episodes);
    }
    long[] seeds = Evaluator.defaultSeeds(episodes);
    for (int k = 0; k < done.size(); k++) {
      if (done.get(k).seed() != seeds[k]) {
        throw new IllegalArgumentException(file + " episode " + (k + 1) + " has reset seed " + done.get(k).seed()
            + ", expected " + seeds[k] + "; delete the file to start the row again");
      }
    }
    MctsConfig cfg = row.equals("plain") ? base.plain() : base;
    org.rql4j.customize.Task t = org.rql4j.customize.Task.builtIn(task);
    // K > 1 parallel trees (search rows only): each on its own env copy in a worker process (or Ray actor), the
    // evaluated env among them, so that their steps run at the same time
    int trees = row.equals("prior") ? 1 : workers;
    PythonServer.Builder serverBuilder = PythonServer.builder().optTransport(transport);
    if (ray != null && trees > 1) {
      serverBuilder.optRay(ray);
    }
    List<RemoteVectorEnv> extra = new ArrayList<>();
    try (PythonServer server = serverBuilder.start();
        EnvClient client = server.client();
        TorchScriptPrior prior = TorchScriptPrior.load(priorDir);
        NDManager manager = NDManager.newBaseManager("PyTorch");
        RemoteVectorEnv env = client.make(searchEnv(t, trees));
        Extras copies = new Extras(extra)) { // closed first: the copies before their server
      SearchPrior searchPrior = SearchPrior.of(prior, manager);
      String rewardKey = row.equals("residual") ? Evaluator.ADDON : null;
      List<EnvSimulator> sims = new ArrayList<>(List.of(new EnvSimulator(env, rewardKey)));
      for (int k = 1; k < trees; k++) {
        RemoteVectorEnv copy = client.make(searchEnv(t, trees));
        extra.add(copy);
        copy.reset(0); // a copy the searches restore into before each decision
        sims.add(new EnvSimulator(copy, rewardKey));
      }
      // the prior row acts greedily on the prior; the search rows search from the env's current state
      SearchPolicy search = row.equals("prior") ? null : new SearchPolicy(new ResidualMaxEntMcts(cfg, searchPrior),
          sims, new Random(0));
      Policy acting = search != null ? search
          : (obs, deterministic) -> Tensor.scalar((long) argmax(searchPrior.logProbs(((Tensor) obs).toFloatArray())));
      List<Double> ms = new ArrayList<>();
      Policy timed = (obs, deterministic) -> {
        long t0 = System.nanoTime();
        Value a = acting.act(obs, deterministic);
        ms.add((System.nanoTime() - t0) / 1e6);
        return a;
      };
      Evaluator.evaluate(Env.single(env), timed, Arrays.copyOfRange(seeds, done.size(), episodes),
          new Evaluator.Listener() {
            @Override
            public void starting(long resetSeed) {
              ms.clear();
              if (search != null) {
                search.reseed(new Random(seed * 1_000_003L + resetSeed));
                search.takeEnvSteps();
              }
            }

            @Override
            public void finished(Evaluator.Episode ev) {
              Episode e = Episode.of(ev, ms.stream().mapToDouble(Double::doubleValue).toArray(),
                  search == null ? 0 : search.takeEnvSteps());
              try {
                Files.writeString(file, new Gson().toJson(e) + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
              } catch (IOException x) {
                throw new java.io.UncheckedIOException("cannot append to " + file + ": " + x.getMessage(), x);
              }
              done.add(e);
              System.out.printf(Locale.ROOT, "%sepisode %d/%d (seed %d): basic %.1f, add-on %.2f, length %d%s, "
                  + "median decision %.0f ms, %d search steps%n", tag, done.size(), episodes, e.seed(), e.basic(),
                  e.addon(), e.length(), e.terminated() ? " (crashed)" : "", e.medianMs(), e.searchSteps());
            }
          });
    }
    return done;
  }

  /** The parallel trees' extra env copies, closed together. */
  private record Extras(List<RemoteVectorEnv> envs) implements AutoCloseable {
    @Override
    public void close() {
      for (RemoteVectorEnv e : envs) {
        e.close();
      }
    }
  }

  /** The task's evaluation env without autoreset; in a worker process of its own when trees search in parallel. */
  private static org.rql4j.bridge.EnvSpec searchEnv(org.rql4j.customize.Task t, int trees) {
    org.rql4j.bridge.EnvSpec.Builder b = t.evalEnv().optAutoresetMode(AutoresetMode.DISABLED);
    return (trees > 1 ? b.optWorkers(1) : b).build();
  }

  private static int argmax(double[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }

  static List<Episode> read(Path file) throws IOException {
    List<Episode> out = new ArrayList<>();
    if (!Files.exists(file)) {
      return out;
    }
    Gson gson = new Gson();
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isBlank()) {
        continue;
      }
      try {
        out.add(gson.fromJson(line, Episode.class));
      } catch (RuntimeException e) {
        if (i == lines.size() - 1) { // a last line cut off by a kill: that episode runs again
          System.out.println(file + ": dropping an unfinished last line (" + e.getMessage() + ")");
          Files.write(file, lines.subList(0, i), StandardCharsets.UTF_8);
          break;
        }
        throw new IllegalArgumentException(file + " line " + (i + 1) + " is not an episode (" + e.getMessage()
            + "); delete the line or the file");
      }
    }
    return out;
  }

  private static String table(String task, String command, double minutes, MctsConfig cfg, int episodes,
      Map<String, List<Episode>> results, int workers) {
    StringBuilder md = new StringBuilder();
    md.append("## ").append(task).append(", zero-shot tree search (residual max-ent MCTS, ").append(cfg.simulations())
        .append(" simulations per decision, horizon ").append(cfg.horizon())
        .append(workers > 1 ? ", " + workers + " root-parallel trees" : "").append(")\n\n");
    md.append("Command: `").append(command).append("` (").append(String.format(Locale.ROOT, "%.0f", minutes))
        .append(" min wall for the episodes this invocation ran, on our 2-core machine, ").append(Instant.now())
        .append("). ").append(episodes).append(" episodes per row, reset seeds 10000.., on the task's total variant; "
            + "mean ± std over episodes. No training: the shipped soft-DQN prior, the simulator's snapshots and "
            + "the reward. Settings: ").append(cfg).append(" (method.md's reference: 150 simulations, horizon 6, "
            + "gamma 0.8, w = alphaHat = eps = 1). Crash: the episode terminated (in highway-env only a crash ends an episode early; the time limit truncates). "
            + "Decision latency: wall time of one decision (the search, or the prior's forward pass), median over "
            + "all decisions of the row; search steps: env steps the search took per decision."
            + (workers > 1 ? " Root-parallel: each decision is " + workers + " trees searched at the same time, each "
                + "on its own env copy in a worker process of the env server, sharing the simulations, merged at the "
                + "root (docs/usage.md)." : "") + "\n\n");
    md.append("| row | basic return | add-on return | length | crash rate | decision latency (median) | "
        + "search steps / decision |\n|---|---|---|---|---|---|---|\n");
    Map<String, String> names = Map.of("prior", "prior alone (greedy soft-DQN prior)",
        "plain", "plain max-ent MCTS (uniform prior, total reward)",
        "residual", "residual max-ent MCTS (prior, add-on reward)");
    results.forEach((row, eps) -> {
      double median = Evaluator.median(eps.stream().flatMapToDouble(e -> Arrays.stream(e.decisionMs())).toArray());
      long decisions = eps.stream().mapToLong(Episode::length).sum();
      long steps = eps.stream().mapToLong(Episode::searchSteps).sum();
      long crashes = eps.stream().filter(Episode::terminated).count();
      // basic, add-on and length as every results table reports them; then the search's own columns
      md.append(new Evaluator.Summary(eps.stream().map(Episode::evaluated).toList()).markdownRow(names.get(row)))
          .append(String.format(Locale.ROOT, " %.0f%% (%d/%d) | %s | %.0f |%n", 100.0 * crashes / eps.size(), crashes,
          eps.size(), median < 10 ? String.format(Locale.ROOT, "%.2f ms", median) : median < 1000
              ? String.format(Locale.ROOT, "%.0f ms", median) : String.format(Locale.ROOT, "%.1f s", median / 1000),
          (double) steps / decisions));
    });
    return md.toString();
  }
}
