package org.rql4j.compat;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.rql4j.bridge.BridgeTransport;
import org.rql4j.bridge.EnvClient;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.bridge.RemoteVectorEnv;
import org.rql4j.bridge.StepTransport;

/**
 * Benchmark (not a test): CartPole-v1 env steps through the bridge at 1, 8 and 64 copies, over
 * each gRPC {@link StepTransport} (unary gRPC, the gRPC stream, the step socket) and over Py4J
 * ({@link BridgeTransport#PY4J}), beside gymnasium's in-process SyncVectorEnv of the same sizes measured in
 * the same run; with the client/server CPU split per step. Writes
 * {@code compat-tests/results/bridge-benchmark.json} and the bridge section of
 * {@code docs/benchmarks.md}. Run with {@code make bench}.
 */
public final class BridgeBenchmark {

  private static final int[] SIZES = {1, 8, 64};
  /** Every gRPC step transport (against the default grpc.aio server), then Py4J (null). */
  private static final StepTransport[] KINDS = {StepTransport.UNARY, StepTransport.STREAM, StepTransport.SOCKET, null};
  private static final int WARMUP = 300;
  /** Rounds over all configurations, interleaved so that machine noise spreads over all rows. */
  private static final int ROUNDS = 3;

  private BridgeBenchmark() {}

  private static int steps(int numEnvs) {
    return numEnvs == 1 ? 5000 : numEnvs == 8 ? 3000 : 1500;
  }

  /** One measured configuration. */
  record Row(String transport, int numEnvs, double medianUs, double p90Us, double envStepsPerS,
      double clientCpuUs, double serverCpuUs, double minEnvStepsPerS, double maxEnvStepsPerS) {}

  /** The round with the median throughput, carrying the range over rounds. */
  static Row medianRound(List<Row> rounds) {
    List<Row> sorted = new ArrayList<>(rounds);
    sorted.sort((a, b) -> Double.compare(a.envStepsPerS(), b.envStepsPerS()));
    Row m = sorted.get(sorted.size() / 2);
    return new Row(m.transport(), m.numEnvs(), m.medianUs(), m.p90Us(), m.envStepsPerS(), m.clientCpuUs(),
        m.serverCpuUs(), sorted.get(0).envStepsPerS(), sorted.get(sorted.size() - 1).envStepsPerS());
  }

  public static void main(String[] args) throws Exception {
    Path root = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();
    Map<String, List<Row>> rounds = new LinkedHashMap<>();
    List<Map<Integer, double[]>> inProcessRounds = new ArrayList<>();
    try (PythonServer server = PythonServer.builder().optServeArgs("--server", "aio").start();
        GrpcEnvClient client = server.connect();
        PythonServer py4jServer = PythonServer.builder().optTransport(BridgeTransport.PY4J).start();
        EnvClient py4j = py4jServer.client();
        // the cost of authentication: the same server without it, a client without the token
        PythonServer open = PythonServer.builder().optServeArgs("--server", "aio", "--no-auth").start();
        GrpcEnvClient openClient = GrpcEnvClient.connect(open.host(), open.port())) {
      for (int round = 0; round < ROUNDS; round++) {
        for (int n : SIZES) {
          for (StepTransport kind : KINDS) {
            Row r = kind == null ? measure(py4j, py4jServer.pid(), n, "Py4J", EnvSpec.builder("CartPole-v1").optNumEnvs(n))
                : measure(client, server.pid(), n, "gRPC " + kind,
                    EnvSpec.builder("CartPole-v1").optNumEnvs(n).optTransport(kind));
            rounds.computeIfAbsent(r.transport() + "x" + n, k -> new ArrayList<>()).add(r);
            System.out.printf(Locale.ROOT, "round %d bridge %-11s n=%-3d median %8.1f us/step  %10.0f env-steps/s%n",
                round + 1, r.transport(), n, r.medianUs(), r.envStepsPerS());
          }
          for (StepTransport kind : new StepTransport[] {StepTransport.UNARY, StepTransport.SOCKET}) {
            Row r = measure(openClient, open.pid(), n, "gRPC " + kind + " (no auth)",
                EnvSpec.builder("CartPole-v1").optNumEnvs(n).optTransport(kind));
            rounds.computeIfAbsent(r.transport() + "x" + n, k -> new ArrayList<>()).add(r);
            System.out.printf(Locale.ROOT, "round %d bridge %-11s n=%-3d median %8.1f us/step  %10.0f env-steps/s%n",
                round + 1, r.transport(), n, r.medianUs(), r.envStepsPerS());
          }
        }
        inProcessRounds.add(inProcess(root));
      }
    }
    List<Row> rows = new ArrayList<>();
    rounds.values().forEach(r -> rows.add(medianRound(r)));
    Map<Integer, double[]> inProcess = new LinkedHashMap<>();
    for (int n : SIZES) {
      List<double[]> r = new ArrayList<>();
      inProcessRounds.forEach(m -> r.add(m.get(n)));
      r.sort((a, b) -> Double.compare(a[2], b[2]));
      double[] med = r.get(r.size() / 2).clone();
      inProcess.put(n, new double[] {med[0], med[1], med[2], r.get(0)[2], r.get(r.size() - 1)[2]});
    }
    for (Row r : rows) {
      System.out.printf(Locale.ROOT, "median round: bridge %-11s n=%-3d median %8.1f us/step  %10.0f env-steps/s (%.0f%% of in-process)%n",
          r.transport(), r.numEnvs(), r.medianUs(), r.envStepsPerS(), 100 * r.envStepsPerS() / inProcess.get(r.numEnvs())[2]);
    }
    for (int n : SIZES) {
      double[] ip = inProcess.get(n);
      System.out.printf(Locale.ROOT, "median round: python in-process n=%-3d median %8.1f us/step  %10.0f env-steps/s%n",
          n, ip[0], ip[2]);
    }
    write(root, rows, inProcess);
  }

  private static long serverCpuNanos(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime + stime
      return ticks * 10_000_000L; // USER_HZ = 100 on Linux
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private static long clientCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  private static Row measure(EnvClient client, long serverPid, int n, String kind, EnvSpec.Builder spec) {
    int steps = steps(n);
    Random rng = new Random(0);
    long[][] actions = new long[WARMUP + steps][n];
    for (long[] a : actions) {
      for (int i = 0; i < n; i++) {
        a[i] = rng.nextInt(2);
      }
    }
    long[] times = new long[steps];
    long cpuClient0 = 0;
    long cpuServer0 = 0;
    try (RemoteVectorEnv env = client.make(spec.build())) {
      env.reset(0);
      for (int t = 0; t < WARMUP + steps; t++) {
        if (t == WARMUP) {
          cpuClient0 = clientCpuNanos();
          cpuServer0 = serverCpuNanos(serverPid);
        }
        long t0 = System.nanoTime();
        env.step(actions[t]);
        if (t >= WARMUP) {
          times[t - WARMUP] = System.nanoTime() - t0;
        }
      }
    }
    double clientCpu = (clientCpuNanos() - cpuClient0) / 1e3 / steps;
    double serverCpu = (serverCpuNanos(serverPid) - cpuServer0) / 1e3 / steps;
    long[] sorted = times.clone();
    Arrays.sort(sorted);
    double total = Arrays.stream(times).sum() / 1e9;
    return new Row(kind, n, sorted[steps / 2] / 1e3,
        sorted[(int) (steps * 0.9)] / 1e3, n * steps / total, clientCpu, serverCpu, n * steps / total,
        n * steps / total);
  }

  private static Map<Integer, double[]> inProcess(Path root) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(PythonServer.defaultPython().toString(),
        root.resolve("compat-tests/python/bench_inprocess.py").toString(),
        "--num-envs", "1", "8", "64", "--steps", "3000", "--warmup", String.valueOf(WARMUP)));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (!p.waitFor(600, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("in-process baseline failed: " + out);
    }
    Map<Integer, double[]> result = new LinkedHashMap<>();
    for (int n : SIZES) {
      String obj = out.substring(out.indexOf("\"" + n + "\""));
      result.put(n, new double[] {number(obj, "median_us"), number(obj, "p90_us"), number(obj, "env_steps_per_s")});
    }
    return result;
  }

  private static double number(String json, String key) {
    int i = json.indexOf("\"" + key + "\":") + key.length() + 3;
    int j = i;
    while (j < json.length() && "0123456789.eE+- ".indexOf(json.charAt(j)) >= 0) {
      j++;
    }
    return Double.parseDouble(json.substring(i, j).trim());
  }

  private static void write(Path root, List<Row> rows, Map<Integer, double[]> inProcess) throws IOException {
    String when = Instant.now().toString();
    double load = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    int cores = Runtime.getRuntime().availableProcessors();
    StringBuilder json = new StringBuilder("{\n  \"benchmark\": \"bridge\",\n  \"env\": \"CartPole-v1\",\n");
    json.append("  \"date\": \"").append(when).append("\",\n  \"cores\": ").append(cores)
        .append(String.format(Locale.ROOT, ",\n  \"load_average_1min_at_end\": %.2f", load)).append(",\n  \"rows\": [\n");
    StringBuilder md = new StringBuilder();
    md.append("## Env bridge: CartPole-v1 steps through the bridge vs in-process Python\n\n");
    md.append("Command: `make bench` (runs `org.rql4j.compat.BridgeBenchmark`). Measured ").append(when)
        .append(" on a ").append(cores).append("-core machine of our kind")
        .append(String.format(Locale.ROOT, " (1-minute load average %.2f at the end of the run)", load))
        .append("; random actions, SAME_STEP autoreset, ")
        .append("Java client (`GrpcVectorEnv`) against the Python server (`rql4j-bridge serve`, grpc.aio), ")
        .append("one row per `StepTransport`: `gRPC UNARY` (a gRPC call per step), `gRPC STREAM` (a lockstep gRPC bidi stream), ")
        .append("`gRPC SOCKET` (the env's step socket: the same messages in length-prefixed frames on a plain TCP connection; the default); ")
        .append("and `Py4J` (`Py4jVectorEnv` against `rql4j-bridge serve-py4j`: one Py4J call per step carrying the same ")
        .append("messages as byte arrays, ClientServer pinned-thread mode, TCP_NODELAY both sides); ")
        .append("every server authenticates its callers (docs/reliability.md) except the `(no auth)` rows: the same ")
        .append("transports on a server started with `--no-auth` and a client without the token, the cost of the check; ")
        .append(WARMUP).append(" warm-up steps, then 5000 / 3000 / 1500 measured batched steps for 1 / 8 / 64 copies ")
        .append("(3000 for the in-process baseline); ").append(ROUNDS).append(" interleaved rounds, each row the round ")
        .append("with the median throughput, and the range over rounds. \"CPU\" columns: process CPU time per ")
        .append("batched step (Java client incl. gRPC threads; Python server from /proc). \"vs in-process\": ")
        .append("median throughput over the in-process median of the same size.\n\n");
    md.append("| transport | num_envs | median µs / step | p90 µs / step | env-steps/s | range over rounds | vs in-process | client CPU µs | server CPU µs |\n");
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < rows.size(); k++) {
      Row r = rows.get(k);
      double ratio = r.envStepsPerS() / inProcess.get(r.numEnvs())[2];
      json.append(String.format(Locale.ROOT,
          "    {\"transport\": \"%s\", \"num_envs\": %d, \"median_us\": %.1f, \"p90_us\": %.1f, "
              + "\"env_steps_per_s\": %.0f, \"env_steps_per_s_min\": %.0f, \"env_steps_per_s_max\": %.0f, "
              + "\"ratio_vs_inprocess\": %.3f, \"client_cpu_us\": %.1f, \"server_cpu_us\": %.1f},\n",
          r.transport(), r.numEnvs(), r.medianUs(), r.p90Us(), r.envStepsPerS(), r.minEnvStepsPerS(),
          r.maxEnvStepsPerS(), ratio, r.clientCpuUs(), r.serverCpuUs()));
      md.append(String.format(Locale.ROOT, "| %s | %d | %.0f | %.0f | %.0f | %.0f-%.0f | %.0f%% | %.0f | %.0f |\n",
          r.transport(), r.numEnvs(), r.medianUs(), r.p90Us(), r.envStepsPerS(), r.minEnvStepsPerS(),
          r.maxEnvStepsPerS(), 100 * ratio, r.clientCpuUs(), r.serverCpuUs()));
    }
    int k = 0;
    for (int n : SIZES) {
      double[] ip = inProcess.get(n);
      json.append(String.format(Locale.ROOT,
          "    {\"transport\": \"python-inprocess-SyncVectorEnv\", \"num_envs\": %d, \"median_us\": %.1f, \"p90_us\": %.1f, \"env_steps_per_s\": %.0f, \"env_steps_per_s_min\": %.0f, \"env_steps_per_s_max\": %.0f}%s\n",
          n, ip[0], ip[1], ip[2], ip[3], ip[4], ++k == SIZES.length ? "" : ","));
      md.append(String.format(Locale.ROOT, "| Python in-process SyncVectorEnv | %d | %.0f | %.0f | %.0f | %.0f-%.0f | 100%% | | |\n",
          n, ip[0], ip[1], ip[2], ip[3], ip[4]));
    }
    json.append("  ]\n}\n");
    Path results = root.resolve("compat-tests/results/bridge-benchmark.json");
    Files.createDirectories(results.getParent());
    Files.writeString(results, json.toString());
    Path doc = BenchmarkDoc.writeSection(root, "bridge-benchmark", md.toString());
    System.out.println("wrote " + results + " and " + doc);
  }
}
