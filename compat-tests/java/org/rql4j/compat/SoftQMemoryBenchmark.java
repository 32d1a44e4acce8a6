package org.rql4j.compat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.learner.ResidualSoftQLearning;

/**
 * Benchmark (not a test): runs residual soft-Q updates (CartPole sizes: 4-256-256-2, batch 64, a
 * prior) on random transitions and reports time per update, the process RSS and the learner's live
 * NDArray count at checkpoints, to show that a long run's memory stays flat.
 * Usage: {@code SoftQMemoryBenchmark [checkpoint1 checkpoint2 ...]} (default 1e4 1e5).
 */
public final class SoftQMemoryBenchmark {

  private SoftQMemoryBenchmark() {}

  static long rssKb() throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("\\D+", ""));
      }
    }
    return -1;
  }

  /** 10 000 random transitions at CartPole's sizes (4 floats, 2 actions, the prior's log-probs). */
  static ReplayBuffer randomCartPoleBuffer(Random rng) {
    ReplayBuffer buffer = new ReplayBuffer(10_000, 4, 2);
    for (int i = 0; i < 10_000; i++) {
      float[] o = {rng.nextFloat(), rng.nextFloat(), rng.nextFloat(), rng.nextFloat()};
      float p = rng.nextFloat();
      buffer.add(o, rng.nextInt(2), -rng.nextFloat(), o, rng.nextInt(50) == 0,
          new float[] {(float) Math.log(p), (float) Math.log(1 - p)});
    }
    return buffer;
  }

  public static void main(String[] args) throws Exception {
    List<Long> checkpoints = new ArrayList<>();
    for (String a : args) {
      checkpoints.add((long) Double.parseDouble(a));
    }
    if (checkpoints.isEmpty()) {
      checkpoints = List.of(10_000L, 100_000L);
    }
    Random rng = new Random(0);
    ReplayBuffer buffer = randomCartPoleBuffer(rng);
    StringBuilder md = new StringBuilder("## Residual soft-Q learner memory over a long run\n\n");
    md.append("Command: `make bench-memory` (runs `org.rql4j.compat.SoftQMemoryBenchmark ")
        .append(String.join(" ", args)).append("`). Measured ").append(java.time.Instant.now())
        .append(" on a 2-core machine of our kind, one intra-op thread. CartPole sizes (4-256-256-2, batch 64, ")
        .append("prior log-probs in the batch), updates on random transitions, target copied every 1000 updates. ")
        .append("JVM heap capped at ").append(Runtime.getRuntime().maxMemory() >> 20).append(" MiB (-Xmx; with the ")
        .append("default 6 GiB cap the JVM grows its heap for short-lived garbage and RSS rises with it, which is not ")
        .append("a leak). RSS from /proc/self/status; heap used after a full GC; live NDArrays = arrays alive in the ")
        .append("learner's managers.\n\n")
        .append("| updates | ms / update (cumulative) | RSS MiB | heap after GC MiB | live NDArrays |\n")
        .append("|---:|---:|---:|---:|---:|\n");
    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(ResidualSoftQConfig.cartpole(), 4, 2)) {
      long done = 0;
      long t0 = System.nanoTime();
      for (long cp : checkpoints) {
        while (done < cp) {
          learner.update(buffer.sample(64, rng));
          done++;
          if (done % 1000 == 0) {
            learner.syncTarget();
          }
        }
        double ms = (System.nanoTime() - t0) / 1e6 / done;
        System.gc();
        long heap = (Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory()) >> 20;
        String row = String.format(Locale.ROOT, "| %d | %.3f | %d | %d | %d |", done, ms, rssKb() / 1024, heap,
            learner.liveArrays());
        System.out.println(row);
        md.append(row).append('\n');
      }
    }
    Path root = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();
    System.out.println("wrote " + BenchmarkDoc.writeSection(root, "softq-memory-benchmark", md.toString()));
  }
}
