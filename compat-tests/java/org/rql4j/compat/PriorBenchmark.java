package org.rql4j.compat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Supplier;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.runtime.DjlRuntime;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.prior.TorchScriptPrior;

/**
 * Benchmark (not a test): latency of {@code log pi(a|s)} queries at batch 1 and 256, in-process
 * ({@link TorchScriptPrior} on DJL) vs remote (the Python server's PriorService), for the prior
 * packages given as arguments (default: the sb3-dqn and sb3-sac compat fixtures). Writes the
 * prior section of docs/benchmarks.md. Run with {@code make bench-prior}.
 */
public final class PriorBenchmark {

  private PriorBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path root = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();
    List<Path> packages = new ArrayList<>();
    for (String a : args) {
      packages.add(Path.of(a));
    }
    if (packages.isEmpty()) {
      packages.add(root.resolve("target/prior-fixtures/sb3-dqn"));
      packages.add(root.resolve("target/prior-fixtures/sb3-sac"));
    }
    for (Path p : packages) {
      if (!Files.isDirectory(p)) {
        throw new IllegalArgumentException("no prior package at " + p + "; run "
            + "`python compat-tests/python/make_prior_fixtures.py --out target/prior-fixtures` first");
      }
    }
    DjlRuntime.configure();
    StringBuilder md = new StringBuilder("## Prior log-prob latency: in-process (DJL) vs remote (gRPC)\n\n");
    md.append("Command: `make bench-prior` (runs `org.rql4j.compat.PriorBenchmark`). Measured ").append(Instant.now())
        .append(" on a ").append(Runtime.getRuntime().availableProcessors()).append("-core machine of our kind, ")
        .append("one intra-op thread. One query = `logProb(obs, actions)` for a batch (categorical: gather from ")
        .append("all-action log-probs; Gaussian: distribution parameters, then the log-density in Java). ")
        .append("Median and p90 over 2000 (batch 1) / 500 (batch 256) queries after 200 warm-up queries.\n\n")
        .append("| prior | distribution | batch | in-process median µs | p90 | remote median µs | p90 |\n")
        .append("|---|---|---:|---:|---:|---:|---:|\n");
    try (PythonServer server = PythonServer.start(); GrpcEnvClient client = server.connect()) {
      for (Path p : packages) {
        try (PriorPolicy local = TorchScriptPrior.load(p); PriorPolicy remote = client.loadPrior(p)) {
          for (int batch : new int[] {1, 256}) {
            double[] l = time(local, batch);
            double[] r = time(remote, batch);
            String row = String.format(Locale.ROOT, "| %s | %s | %d | %.0f | %.0f | %.0f | %.0f |",
                p.getFileName(), local.spec().distribution().sidecarName(), batch, l[0], l[1], r[0], r[1]);
            System.out.println(row);
            md.append(row).append('\n');
          }
        }
      }
    }
    System.out.println("wrote " + BenchmarkDoc.writeSection(root, "prior-benchmark", md.toString()));
  }

  /** Median and p90 microseconds of one batched logProb query. */
  private static double[] time(PriorPolicy prior, int batch) {
    int iters = batch == 1 ? 2000 : 500;
    Random rng = new Random(0);
    int obsDim = prior.spec().obsDim();
    long[] ns = new long[iters];
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      float[] obs = new float[batch * obsDim];
      for (int i = 0; i < obs.length; i++) {
        obs[i] = (float) rng.nextGaussian() * 0.1f;
      }
      for (int k = -200; k < iters; k++) {
        try (NDManager step = m.newSubManager()) {
          NDArray o = step.create(obs, new Shape(batch, obsDim));
          Supplier<NDArray> actions = () -> prior.spec().distribution().isGaussian()
              ? step.randomUniform(-0.9f, 0.9f, new Shape(batch, prior.spec().actionDim()))
              : step.zeros(new Shape(batch), ai.djl.ndarray.types.DataType.INT64);
          NDArray a = actions.get();
          long t0 = System.nanoTime();
          prior.logProb(o, a).toFloatArray();
          if (k >= 0) {
            ns[k] = System.nanoTime() - t0;
          }
        }
      }
    }
    Arrays.sort(ns);
    return new double[] {ns[iters / 2] / 1e3, ns[(int) (iters * 0.9)] / 1e3};
  }
}
