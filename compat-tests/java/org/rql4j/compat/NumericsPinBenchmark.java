package org.rql4j.compat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.buffer.RolloutBuffer;
import org.rql4j.env.DType;
import org.rql4j.env.Space;
import org.rql4j.learner.ResidualPpo;
import org.rql4j.learner.ResidualPpoConfig;
import org.rql4j.learner.ResidualSac;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.learner.ResidualSoftQLearning;
import org.rql4j.runtime.Numerics;
import org.rql4j.train.Evaluator;

/**
 * Benchmark (not a test): what each numerics pin of docs/reproducibility.md costs the learners.
 * The pins are environment variables that libtorch reads once when it loads, so each setting runs
 * in a child JVM; the settings take turns (one run of each, then the next round) so that a busy
 * spell of the machine touches them all alike, and the section reports each setting's median over
 * the rounds. Timed: residual soft-Q updates at CartPole's sizes (4-256-256-2, batch 64), residual
 * SAC updates at MountainCar's (2-256-256, batch 256, critics and actor), and residual PPO updates
 * at CartPole's schedule (8 x 32 steps, 20 epochs of batch 256, 64-64) and at the MuJoCo tasks'
 * (4 x 512 steps, 10 epochs of batch 64, 17 observations, 6 actions), on random data.
 * Usage: {@code NumericsPinBenchmark [rounds]} (default 3).
 */
public final class NumericsPinBenchmark {

  private NumericsPinBenchmark() {}

  /** The settings compared: a name and the environment variables added for it. */
  static final Map<String, Map<String, String>> SETTINGS = new LinkedHashMap<>();

  static {
    SETTINGS.put("none (the CPU's own kernels)", Map.of());
    SETTINGS.put("`ATEN_CPU_CAPABILITY=avx2`", Map.of("ATEN_CPU_CAPABILITY", "avx2"));
    SETTINGS.put("`MKL_CBWR=COMPATIBLE`", Map.of("MKL_CBWR", "COMPATIBLE"));
    SETTINGS.put("both (`RQL4J_NUMERICS=pinned`)", Numerics.PINNED);
  }

  static final String[] COLUMNS = {"soft-Q update µs", "SAC update µs", "PPO CartPole update ms",
      "PPO MuJoCo update ms"};

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("child")) {
      child();
      return;
    }
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
    Map<String, List<double[]>> results = new LinkedHashMap<>();
    SETTINGS.keySet().forEach(k -> results.put(k, new ArrayList<>()));
    for (int r = 0; r < rounds; r++) {
      for (Map.Entry<String, Map<String, String>> s : SETTINGS.entrySet()) {
        double[] v = runChild(s.getValue());
        System.out.printf(Locale.ROOT, "round %d %-34s %s%n", r + 1, s.getKey(), java.util.Arrays.toString(v));
        results.get(s.getKey()).add(v);
      }
    }
    StringBuilder md = new StringBuilder("## What the numerics pins cost the learners\n\n");
    md.append("Command: `make bench-pins` (runs `org.rql4j.compat.NumericsPinBenchmark ").append(rounds)
        .append("`). Measured ").append(java.time.Instant.now()).append(" on ")
        .append(Numerics.describe().get("cpu")).append(" (")
        .append(Runtime.getRuntime().availableProcessors()).append(" cores)")
        .append(", one intra-op thread, each setting in its own JVM, ").append(rounds)
        .append(" rounds taking turns; medians over the rounds. What the pins are and why: ")
        .append("[reproducibility.md](reproducibility.md). Random data at the shipped tasks' sizes: soft-Q at ")
        .append("CartPole's (4-256-256-2, batch 64), SAC at MountainCar's (batch 256, critics and actor), PPO at ")
        .append("CartPole's schedule (8 x 32 steps, 20 epochs of batch 256) and the MuJoCo tasks' (4 x 512 ")
        .append("steps, 10 epochs of batch 64, 17 observations, 6 actions). Ratio: the setting's time over the ")
        .append("unpinned one's, per column.\n\n| pins |");
    for (String c : COLUMNS) {
      md.append(' ').append(c).append(" |");
    }
    md.append(" ratio to none |\n|---|");
    md.append("---:|".repeat(COLUMNS.length + 1)).append('\n');
    double[] base = null;
    for (Map.Entry<String, List<double[]>> e : results.entrySet()) {
      double[] med = new double[COLUMNS.length];
      for (int c = 0; c < COLUMNS.length; c++) {
        final int col = c;
        med[c] = Evaluator.median(e.getValue().stream().mapToDouble(v -> v[col]).toArray());
      }
      if (base == null) {
        base = med;
      }
      md.append("| ").append(e.getKey()).append(" |");
      StringBuilder ratios = new StringBuilder();
      for (int c = 0; c < COLUMNS.length; c++) {
        md.append(String.format(Locale.ROOT, " %.1f |", med[c]));
        ratios.append(String.format(Locale.ROOT, "%s%.2f", c == 0 ? "" : " / ", med[c] / base[c]));
      }
      md.append(' ').append(ratios).append(" |\n");
    }
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    System.out.println(md);
    System.out.println("written to " + BenchmarkDoc.writeSection(root, "numerics-pins", md.toString()));
  }

  /** Runs the timing in a child JVM with {@code env} added (and the pins' variables otherwise removed). */
  static double[] runChild(Map<String, String> env) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), NumericsPinBenchmark.class.getName(), "child"));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Numerics.PINNED.keySet().forEach(pb.environment()::remove);
    pb.environment().remove(Numerics.ENV);
    pb.environment().putAll(env);
    Process p = pb.start();
    double[] out = null;
    try (java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
        java.nio.charset.StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.startsWith("RESULT ")) {
          out = java.util.Arrays.stream(line.substring(7).trim().split(" ")).mapToDouble(Double::parseDouble).toArray();
        } else if (!line.startsWith("[W")) {
          System.out.println("  child: " + line);
        }
      }
    }
    if (p.waitFor() != 0 || out == null) {
      throw new IllegalStateException("the timing child exited with " + p.exitValue());
    }
    return out;
  }

  private static void child() {
    Random rng = new Random(0);
    double softQ;
    ReplayBuffer discrete = SoftQMemoryBenchmark.randomCartPoleBuffer(rng);
    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(ResidualSoftQConfig.cartpole(), 4, 2)) {
      softQ = timePerCall(() -> learner.update(discrete.sample(64, rng)), 300, 2000) * 1e6;
    }
    Space.Box oneD = new Space.Box(new long[] {1}, DType.FLOAT32, new double[] {-1}, new double[] {1});
    ReplayBuffer box = new ReplayBuffer(10_000, 2, 1, 2);
    for (int i = 0; i < 10_000; i++) {
      float[] o = {rng.nextFloat(), rng.nextFloat()};
      float[] prior = {rng.nextFloat() - 0.5f, -1f}; // the prior's pre-tanh mean and log-std
      box.add(o, 0, new float[] {2 * rng.nextFloat() - 1}, 0, -rng.nextFloat(), o, 0, rng.nextInt(50) == 0,
          prior, 0, prior, 0);
    }
    double sac;
    ResidualSacConfig sacCfg = ResidualSacConfig.mountaincar();
    try (ResidualSac learner = new ResidualSac(sacCfg, 2, oneD)) {
      long[] calls = {0};
      double perCall = timePerCall(() -> {
        learner.train(box, 10_000, rng);
        calls[0]++;
      }, 20, 200);
      sac = perCall / sacCfg.gradientSteps() * 1e6;
    }
    double ppoCartPole = timePpo(ResidualPpoConfig.defaults().withSchedule(40_000, 32, 256, 20, 8)
        .withNetwork(new int[] {64, 64}, 1e-3f, 0f).withSoft(1f, 1f), 4, new Space.Discrete(2, 0), 3, 20, rng);
    Space.Box sixD = new Space.Box(new long[] {6}, DType.FLOAT32, new double[] {-1, -1, -1, -1, -1, -1},
        new double[] {1, 1, 1, 1, 1, 1});
    double ppoMujoco = timePpo(ResidualPpoConfig.mujoco().withSoft(1f, 1f), 17, sixD, 1, 3, rng);
    System.out.printf(Locale.ROOT, "RESULT %.3f %.3f %.3f %.3f%n", softQ, sac, ppoCartPole * 1e3, ppoMujoco * 1e3);
  }

  private static double timePpo(ResidualPpoConfig cfg, int obsDim, Space actions, int warmup, int timed, Random rng) {
    try (ResidualPpo ppo = new ResidualPpo(cfg, obsDim, actions)) {
      int n = cfg.numEnvs();
      RolloutBuffer buf = new RolloutBuffer(cfg.nSteps(), n, obsDim, actions instanceof Space.Box b ? (int) b.shape()[0]
          : 1);
      while (!buf.full()) {
        float[] obs = new float[n * obsDim];
        for (int i = 0; i < obs.length; i++) {
          obs[i] = (float) rng.nextGaussian();
        }
        ResidualPpo.Decision d = ppo.act(obs, false, rng);
        float[] rew = new float[n];
        for (int i = 0; i < n; i++) {
          rew[i] = (float) rng.nextGaussian();
        }
        buf.add(obs, d.actions(), rew, d.values(), d.logProbs(), new boolean[n], new boolean[n], null);
      }
      buf.computeAdvantages(new float[n], cfg.gamma(), cfg.gaeLambda());
      return timePerCall(() -> ppo.update(buf, rng), warmup, timed);
    }
  }

  /** Seconds per call of {@code r}, after {@code warmup} untimed calls. */
  private static double timePerCall(Runnable r, int warmup, int timed) {
    for (int i = 0; i < warmup; i++) {
      r.run();
    }
    long t0 = System.nanoTime();
    for (int i = 0; i < timed; i++) {
      r.run();
    }
    return (System.nanoTime() - t0) / 1e9 / timed;
  }
}
