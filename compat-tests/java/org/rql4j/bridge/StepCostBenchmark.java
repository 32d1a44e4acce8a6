package org.rql4j.bridge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.protobuf.ByteString;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.rql4j.compat.BenchmarkDoc;
import org.rql4j.env.Tensor;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.proto.v1.DType;
import org.rql4j.proto.v1.InfoColumn;
import org.rql4j.proto.v1.StepResponse;
import org.rql4j.proto.v1.StepSocketReply;
import org.rql4j.proto.v1.Value;
import org.rql4j.runtime.DjlRuntime;

/**
 * Benchmark (not a test): where one env step and one prior query of the soft-Q training loop go, piece by
 * piece, on CartPole (one copy). Java: encoding a step request, decoding a step reply (with and without the
 * task's two info columns), the step socket's round trip with back-to-back steps and with the learner's
 * compute between steps (a busy wait), and the prior query built up call by call (sub-manager, input array,
 * forward pass, NaN check, read-back). Python, in the same run ({@code compat-tests/python/step_cost.py}):
 * the server's step handler, Gymnasium's own step, and the PyTorch reference's prior call. Medians of 3
 * rounds, in microseconds. Writes the step-cost section of docs/benchmarks.md ({@code make bench-step-cost}).
 */
public final class StepCostBenchmark {

  private static final int ROUNDS = 3;
  private static final int CALLS = 20_000;
  private static final int STEPS = 5_000;

  private StepCostBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path root = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();
    Path priorDir = root.resolve("examples/priors/cartpole-center-softdqn");
    Map<String, List<Double>> r = new LinkedHashMap<>();
    // the round trips with and without polling on each side (EnvSpec.optSpinWait, serve --step-socket-spin-us)
    String task = "rql4j/cartpole-center-addon-v0";
    for (boolean serverSpin : new boolean[] {false, true}) {
      String server = serverSpin ? "server polls 1 ms" : "server blocks";
      try (PythonServer s = PythonServer.builder()
              .optStepSocketSpin(serverSpin ? Duration.ofMillis(1) : Duration.ZERO).start();
          GrpcEnvClient client = s.connect()) {
        for (int round = 0; round < ROUNDS; round++) {
          for (boolean clientSpin : new boolean[] {false, true}) {
            Duration spin = clientSpin ? Duration.ofNanos(200_000) : Duration.ZERO;
            String sides = server + ", client " + (clientSpin ? "polls 200 µs" : "blocks");
            add(r, "step socket round trip, CartPole-v1, back to back, " + sides,
                socket(client, "CartPole-v1", 0, spin)[0]);
            add(r, "step socket round trip, task env, back to back, " + sides, socket(client, task, 0, spin)[0]);
            add(r, "step socket round trip, task env, 150 µs of work between steps, " + sides,
                socket(client, task, 150_000, spin)[0]);
            add(r, "a step and a Restore (gRPC) in turn, task env, per pair, " + sides, stepAndRestore(client, task,
                spin));
          }
        }
      }
    }
    try (TorchScriptPrior prior = TorchScriptPrior.load(priorDir); NDManager manager = NDManager.newBaseManager()) {
      DjlRuntime.noGradOnThisThread();
      byte[] plain = reply(false);
      byte[] withInfo = reply(true);
      for (int round = 0; round < ROUNDS; round++) {
        add(r, "java: encode a step request (1 Discrete action) and write it", encode());
        add(r, "java: parse and decode a step reply, no info", decode(plain));
        add(r, "java: parse and decode a step reply, 2 info columns", decode(withInfo));
        for (Map.Entry<String, Double> e : prior(prior, manager).entrySet()) {
          add(r, e.getKey(), e.getValue());
        }
        for (boolean fused : new boolean[] {true, false}) {
          for (Map.Entry<String, Double> e : update(fused).entrySet()) {
            add(r, e.getKey(), e.getValue());
          }
        }
      }
    }
    Map<String, Double> python = python(root, priorDir);
    String when = Instant.now().toString();
    StringBuilder md = new StringBuilder("## Where a training step goes: the env step and the prior query\n\n");
    md.append("Command: `make bench-step-cost` (runs `org.rql4j.bridge.StepCostBenchmark` and "
        + "`compat-tests/python/step_cost.py`). Measured ").append(when).append(" on a ")
        .append(Runtime.getRuntime().availableProcessors()).append("-core machine of our kind, one intra-op thread. "
        + "Medians of 3 rounds, microseconds per call; CartPole, one copy; the prior is "
        + "`examples/priors/cartpole-center-softdqn` on one observation. The round trips are "
        + "measured with each side polling for the other's message (`serve --step-socket-spin-us 1000`, "
        + "`EnvSpec.optSpinWait` 200 µs; the defaults on 2 or more cores) or blocking in its read. The first four "
        + "prior rows are cumulative: each adds one call to the one above; `PriorPolicy.outputs` is the query the "
        + "training loops make. The soft-Q update rows time one gradient step of the CartPole schedule on random "
        + "transitions (batch 64, [256, 256], 3000 updates after 200), phase by phase, with the learners' Adam "
        + "(libtorch's fused kernel) and with DJL's `adamUpdate` over the same parameters.\n\n| what | µs |\n"
        + "|---|---:|\n");
    for (Map.Entry<String, List<Double>> e : r.entrySet()) {
      md.append(String.format(Locale.ROOT, "| %s | %.1f |%n", e.getKey(), median(e.getValue())));
    }
    String[][] py = {
        {"server_step_cartpole", "python: the server's step handler, CartPole-v1 (no transport)"},
        {"server_step_task", "python: the server's step handler, cartpole-center task env (no transport)"},
        {"gym_step_cartpole", "python: Gymnasium's env.step, CartPole-v1"},
        {"gym_step_task", "python: Gymnasium's env.step, cartpole-center task env"},
        {"prior_query", "python: the PyTorch reference's prior call (torch defaults)"},
        {"prior_query_no_optimizer", "python: the same with the graph executor's optimization off (as DJL runs)"}};
    for (String[] k : py) {
      md.append(String.format(Locale.ROOT, "| %s | %.1f |%n", k[1], python.get(k[0])));
    }
    Path doc = BenchmarkDoc.writeSection(root, "step-cost", md.toString());
    System.out.println(md);
    System.out.println("wrote " + doc);
  }

  private static void add(Map<String, List<Double>> r, String key, double v) {
    r.computeIfAbsent(key, k -> new ArrayList<>()).add(v);
    System.out.printf(Locale.ROOT, "%-90s %8.1f us%n", key, v);
  }

  private static double median(List<Double> v) {
    double[] a = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
  }

  private static double encode() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    long sink = 0;
    long t0 = System.nanoTime();
    for (int i = 0; i < CALLS; i++) {
      out.reset();
      EnvMessages.step("0123456789abcdef0123456789abcdef", Tensor.ofLongs(new long[] {i & 1})).writeTo(out);
      sink += out.size();
    }
    double us = (System.nanoTime() - t0) / 1e3 / CALLS;
    return sink > 0 ? us : -1;
  }

  /** A serialized StepSocketReply as the server sends for one CartPole copy (with the task's info columns). */
  private static byte[] reply(boolean info) {
    StepResponse.Builder b = StepResponse.newBuilder()
        .setObservation(Value.newBuilder().setTensor(tensor(DType.FLOAT32, new long[] {1, 4}, 16)))
        .setReward(tensor(DType.FLOAT64, new long[] {1}, 8))
        .setTerminated(tensor(DType.BOOL, new long[] {1}, 1))
        .setTruncated(tensor(DType.BOOL, new long[] {1}, 1));
    if (info) {
      for (String key : List.of("basic_reward", "addon_reward")) {
        b.putInfo(key, InfoColumn.newBuilder().setValues(tensor(DType.FLOAT64, new long[] {1}, 8))
            .setPresent(tensor(DType.BOOL, new long[] {1}, 1)).build());
      }
    }
    return StepSocketReply.newBuilder().setResponse(b).build().toByteArray();
  }

  private static org.rql4j.proto.v1.Tensor tensor(DType dtype, long[] shape, int bytes) {
    ByteBuffer data = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    if (dtype == DType.BOOL) {
      data.put((byte) 0);
    } else if (dtype == DType.FLOAT32) {
      for (int i = 0; i < bytes / 4; i++) {
        data.putFloat(0.01f * (i + 1));
      }
    } else {
      data.putDouble(1.0);
    }
    org.rql4j.proto.v1.Tensor.Builder t = org.rql4j.proto.v1.Tensor.newBuilder().setDtype(dtype)
        .setData(ByteString.copyFrom(data.array()));
    for (long s : shape) {
      t.addShape(s);
    }
    return t.build();
  }

  private static double decode(byte[] bytes) throws Exception {
    long sink = 0;
    long t0 = System.nanoTime();
    for (int i = 0; i < CALLS; i++) {
      StepSocketReply reply = StepSocketReply.parseFrom(ByteBuffer.wrap(bytes));
      sink += EnvMessages.step(reply.getResponse()).rewards().length;
    }
    double us = (System.nanoTime() - t0) / 1e3 / CALLS;
    return sink > 0 ? us : -1;
  }

  /** Median and mean µs of one step over the step socket, with {@code gapNanos} of busy work between steps. */
  private static double[] socket(GrpcEnvClient client, String envId, long gapNanos, Duration spin) {
    long[] times = new long[STEPS];
    try (RemoteVectorEnv env = client.make(EnvSpec.builder(envId).optSpinWait(spin).build())) {
      env.reset(0);
      for (int i = 0; i < 300 + STEPS; i++) {
        if (gapNanos > 0) {
          long until = System.nanoTime() + gapNanos;
          while (System.nanoTime() < until) {
            Thread.onSpinWait();
          }
        }
        long t0 = System.nanoTime();
        env.step(new long[] {i & 1});
        if (i >= 300) {
          times[i - 300] = System.nanoTime() - t0;
        }
      }
    }
    long[] sorted = times.clone();
    Arrays.sort(sorted);
    return new double[] {sorted[STEPS / 2] / 1e3, Arrays.stream(times).average().orElse(0) / 1e3};
  }

  /**
   * Median µs of a step (step socket) followed by a Restore (a gRPC call), as tree search alternates them:
   * what polling on the server costs a gRPC call that arrives while the step socket's thread polls.
   */
  private static double stepAndRestore(GrpcEnvClient client, String envId, Duration spin) {
    int pairs = 1_000;
    long[] times = new long[pairs];
    try (RemoteVectorEnv env = client.make(EnvSpec.builder(envId).optSpinWait(spin).build())) {
      env.reset(0);
      org.rql4j.env.Snapshottable snaps = (org.rql4j.env.Snapshottable) env;
      String root = snaps.snapshot(0);
      for (int i = 0; i < 100 + pairs; i++) {
        long t0 = System.nanoTime();
        env.step(new long[] {i & 1});
        snaps.restore(0, root);
        if (i >= 100) {
          times[i - 100] = System.nanoTime() - t0;
        }
      }
      snaps.releaseSnapshots(List.of(root));
    }
    Arrays.sort(times);
    return times[pairs / 2] / 1e3;
  }

  /**
   * One soft-Q gradient step of the CartPole schedule (batch 64, [256, 256]) on random transitions,
   * phase by phase, µs per update, with the learner's Adam (libtorch's fused kernel) or with DJL's
   * own {@code adamUpdate} over the same parameters.
   */
  private static Map<String, Double> update(boolean fused) {
    org.rql4j.learner.ResidualSoftQConfig cfg = org.rql4j.learner.ResidualSoftQConfig.cartpole();
    java.util.Random rng = new java.util.Random(0);
    org.rql4j.buffer.ReplayBuffer buffer = new org.rql4j.buffer.ReplayBuffer(10_000, 4, 2);
    for (int i = 0; i < 10_000; i++) {
      float[] o = {rng.nextFloat(), rng.nextFloat(), rng.nextFloat(), rng.nextFloat()};
      float[] next = {rng.nextFloat(), rng.nextFloat(), rng.nextFloat(), rng.nextFloat()};
      buffer.add(o, rng.nextInt(2), rng.nextFloat(), next, rng.nextInt(100) == 0,
          new float[] {(float) Math.log(0.4), (float) Math.log(0.6)});
    }
    String how = fused ? "Adam in libtorch's fused kernel (the learners')" : "Adam by DJL's adamUpdate";
    long[] t = new long[4];
    int warmUp = 200;
    int updates = 3_000;
    try (org.rql4j.learner.ResidualSoftQLearning learner = new org.rql4j.learner.ResidualSoftQLearning(cfg, 4, 2);
        NDManager m = NDManager.newBaseManager()) {
      org.rql4j.learner.TorchAdam adam = fused ? learner.optimizer()
          : org.rql4j.learner.TorchAdam.withDjlUpdate(m, learner.qResidual().parameters(), cfg.learningRate());
      for (int i = 0; i < warmUp + updates; i++) {
        long t0 = System.nanoTime();
        org.rql4j.buffer.ReplayBuffer.Batch batch = buffer.sample(64, rng);
        long t1 = System.nanoTime();
        learner.backward(batch, false);
        long t2 = System.nanoTime();
        learner.applyGradientsClipOnly();
        long t3 = System.nanoTime();
        adam.step();
        long t4 = System.nanoTime();
        if (i >= warmUp) {
          t[0] += t1 - t0;
          t[1] += t2 - t1;
          t[2] += t3 - t2;
          t[3] += t4 - t3;
        }
      }
    }
    Map<String, Double> out = new LinkedHashMap<>();
    String[] phases = {"sample a batch", "target, loss and backward", "clip the gradients' global norm", "Adam step"};
    for (int p = 0; p < 4; p++) {
      out.put("soft-Q update (CartPole schedule), " + how + ": " + phases[p], t[p] / 1e3 / updates);
    }
    return out;
  }

  /** The prior query built up call by call, cumulative, µs per call. */
  private static Map<String, Double> prior(TorchScriptPrior prior, NDManager manager) {
    float[] obs = {0.01f, -0.02f, 0.03f, 0.04f};
    Shape shape = new Shape(1, 4);
    Map<String, Double> out = new LinkedHashMap<>();
    for (int i = 0; i < 500; i++) { // warm-up
      try (NDManager m = manager.newSubManager()) {
        prior.logProbsAll(m.create(obs, shape)).toFloatArray();
      }
    }
    out.put("prior: a sub-manager, opened and closed", time(() -> {
      try (NDManager m = manager.newSubManager()) {
        return m.hashCode();
      }
    }));
    out.put("prior: + the input array (create)", time(() -> {
      try (NDManager m = manager.newSubManager()) {
        return m.create(obs, shape).hashCode();
      }
    }));
    out.put("prior: + logProbsAll (forward pass, shape and NaN checks)", time(() -> {
      try (NDManager m = manager.newSubManager()) {
        return prior.logProbsAll(m.create(obs, shape)).hashCode();
      }
    }));
    out.put("prior: + toFloatArray (the whole query)", time(() -> {
      try (NDManager m = manager.newSubManager()) {
        return prior.logProbsAll(m.create(obs, shape)).toFloatArray().length;
      }
    }));
    out.put("prior: PriorPolicy.outputs (one read-back, NaN checked on the host): the training loops' query",
        time(() -> prior.outputs(manager, obs, 1).length));
    out.put("prior: the NaN check alone (isNaN().any().getBoolean() on [1, 2])", time(() -> {
      try (NDManager m = manager.newSubManager()) {
        NDArray a = m.create(new float[] {-0.1f, -2.3f}, new Shape(1, 2));
        return a.isNaN().any().getBoolean() ? 1 : 0;
      }
    }) - out.get("prior: a sub-manager, opened and closed"));
    return out;
  }

  private static double time(java.util.function.IntSupplier call) {
    long sink = 0;
    long t0 = System.nanoTime();
    for (int i = 0; i < CALLS; i++) {
      sink += call.getAsInt();
    }
    double us = (System.nanoTime() - t0) / 1e3 / CALLS;
    return sink == Long.MIN_VALUE ? -1 : us;
  }

  private static Map<String, Double> python(Path root, Path priorDir) throws Exception {
    Process p = new ProcessBuilder(PythonServer.defaultPython().toString(),
        root.resolve("compat-tests/python/step_cost.py").toString(), "--prior", priorDir.toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (!p.waitFor(600, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("step_cost.py failed: " + out);
    }
    Map<String, Double> m = new LinkedHashMap<>();
    for (String part : out.replaceAll("[{}\"]", "").split(",")) {
      String[] kv = part.split(":");
      m.put(kv[0].trim(), Double.parseDouble(kv[1].trim()));
    }
    return m;
  }
}
