package org.rql4j.compat;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rql4j.bridge.EnvClient;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.PythonServer;
import org.rql4j.bridge.RemoteVectorEnv;
import org.rql4j.learner.ResidualPpo;
import org.rql4j.learner.ResidualPpoConfig;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.train.OnPolicyTraining;

/**
 * Benchmark (not a test): env steps per second of PPO training on a MuJoCo task, rql4j's Java PPO
 * (DJL; 4 env copies through the bridge's step socket) beside SB3's PPO in-process
 * ({@code compat-tests/python/sb3_ppo_speed.py}), same settings ({@link ResidualPpoConfig#mujoco()}),
 * one after the other. Java rows: plain PPO on the total reward, and residual PPO (prior log-probs
 * by DJL every step). Writes {@code compat-tests/results/ppo-speed-benchmark.json} and its section
 * of docs/benchmarks.md. Run on an otherwise idle machine: {@code make bench-ppo}.
 */
public final class PpoSpeedBenchmark {

  private PpoSpeedBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path root = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();
    String task = args.length > 0 ? args[0] : "halfcheetah-speedcap";
    long steps = args.length > 1 ? Long.parseLong(args[1]) : 100_000;
    List<Map<String, Object>> rows = new ArrayList<>();
    try (PythonServer server = PythonServer.start(); EnvClient client = server.client();
        TorchScriptPrior prior = TorchScriptPrior.load(root.resolve("examples/priors/" + task + "-ppo"))) {
      for (String row : new String[] {"oracle", "residual"}) {
        boolean residual = row.equals("residual");
        ResidualPpoConfig cfg = ResidualPpoConfig.mujoco().withTotalSteps(steps);
        if (residual) {
          cfg = cfg.withSoft(0.1f, 0.1f).withInitFromPrior(true);
        }
        String env = "rql4j/" + task + "-" + (residual ? "addon" : "total") + "-v0";
        try (RemoteVectorEnv venv = client.make(EnvSpec.builder(env).optNumEnvs(cfg.numEnvs()).build());
            ResidualPpo ppo = new ResidualPpo(cfg, (int) venv.observationSpace().flatDim(), venv.actionSpace())) {
          if (residual) {
            ppo.initializePolicyFrom(prior);
          }
          long t0 = System.nanoTime();
          OnPolicyTraining.Progress last = OnPolicyTraining.run(venv, residual ? prior : null, ppo, p -> {});
          double wall = (System.nanoTime() - t0) / 1e9;
          Map<String, Object> r = new LinkedHashMap<>();
          r.put("implementation", "rql4j Java PPO (DJL), " + (residual ? "residual (prior log-probs by DJL)"
              : "plain") + ", env over the bridge (step socket)");
          r.put("env", env);
          r.put("env_steps", last.step());
          r.put("train_seconds", wall);
          r.put("steps_per_second", last.step() / wall);
          rows.add(r);
          System.out.println(r);
        }
      }
    }
    Path work = root.resolve("target/bench/ppo-speed");
    Files.createDirectories(work);
    Path pyOut = work.resolve("sb3.json");
    Process p = new ProcessBuilder(PythonServer.defaultPython().toString(),
        root.resolve("compat-tests/python/sb3_ppo_speed.py").toString(), "--env", "rql4j/" + task + "-total-v0",
        "--steps", Long.toString(steps), "--out", pyOut.toString()).inheritIO().start();
    if (p.waitFor() != 0) {
      throw new IllegalStateException("sb3_ppo_speed.py failed");
    }
    JsonObject py = JsonParser.parseString(Files.readString(pyOut)).getAsJsonObject();
    Map<String, Object> pyRow = new LinkedHashMap<>();
    for (String k : List.of("implementation", "env", "env_steps", "train_seconds", "steps_per_second")) {
      pyRow.put(k, k.equals("implementation") || k.equals("env") ? py.get(k).getAsString() : py.get(k).getAsDouble());
    }
    rows.add(pyRow);
    String when = Instant.now().toString();
    int cores = Runtime.getRuntime().availableProcessors();
    double load = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("benchmark", "ppo-speed");
    json.put("task", task);
    json.put("date", when);
    json.put("cores", cores);
    json.put("rows", rows);
    Path results = root.resolve("compat-tests/results/ppo-speed-benchmark.json");
    Files.createDirectories(results.getParent());
    Files.writeString(results, new GsonBuilder().setPrettyPrinting().create().toJson(json) + "\n");
    StringBuilder md = new StringBuilder();
    md.append("## PPO training speed on ").append(task).append(": Java PPO through the bridge vs SB3 in-process\n\n");
    md.append("Command: `make bench-ppo` (runs `org.rql4j.compat.PpoSpeedBenchmark ").append(task).append(" ")
        .append(steps).append("`). Measured ").append(when).append(" on a ").append(cores)
        .append("-core machine of our kind (1-minute load average ").append(String.format(Locale.ROOT, "%.2f", load))
        .append(" at the end). ").append(steps).append(" env steps per row, one row after the other, the same PPO "
            + "settings (`ResidualPpoConfig.mujoco()`: 4 copies x 512 steps per rollout, minibatch 64, 10 epochs, "
            + "[64, 64] tanh, rewards scaled by the running return std); one intra-op thread on both sides. "
            + "Env steps/s = env steps / wall time of the training call (collection and updates).\n\n");
    md.append("| implementation | env | env steps | train s | env steps/s |\n|---|---|---:|---:|---:|\n");
    for (Map<String, Object> r : rows) {
      md.append(String.format(Locale.ROOT, "| %s | `%s` | %.0f | %.1f | %.0f |%n", r.get("implementation"),
          r.get("env"), ((Number) r.get("env_steps")).doubleValue(), ((Number) r.get("train_seconds")).doubleValue(),
          ((Number) r.get("steps_per_second")).doubleValue()));
    }
    BenchmarkDoc.writeSection(root, "ppo-speed", md.toString());
    System.out.println(md);
  }
}
