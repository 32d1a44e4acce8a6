package org.rql4j.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.rql4j.bridge.BridgeTransport;
import org.rql4j.bridge.EnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.runtime.DjlRuntime;
import org.rql4j.prior.GaussianParams;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.prior.TorchScriptPrior;

/**
 * For every kind of prior the exporter supports (SB3 DQN / SAC / SAC-gSDE / PPO / A2C, the RQL
 * reference code's soft-DQN and SAC, a plain torch module, and the shipped BC and soft-DQN priors), Java's log-probabilities and
 * distribution parameters on 1,000 recorded observations (and actions) equal Python torch's
 * within 1e-5 — in-process ({@link TorchScriptPrior} on DJL) and remote (the Python server's
 * PriorService, over gRPC and over Py4J). Fixtures: {@code compat-tests/python/make_prior_fixtures.py}.
 */
class PriorCompatIT {

  private static final double TOL = 1e-5;
  private static Path fixtures;
  private static final Map<BridgeTransport, PythonServer> SERVERS = new EnumMap<>(BridgeTransport.class);
  private static final Map<BridgeTransport, EnvClient> CLIENTS = new EnumMap<>(BridgeTransport.class);

  @BeforeAll
  static void makeFixtures() throws Exception {
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    fixtures = root.resolve("target/prior-fixtures");
    Process p = new ProcessBuilder(PythonServer.defaultPython().toString(),
        root.resolve("compat-tests/python/make_prior_fixtures.py").toString(), "--out", fixtures.toString(),
        "--existing",
        "shipped-cartpole-center-bc=" + root.resolve("examples/priors/cartpole-center-bc") + "@rql4j/cartpole-center-total-v0",
        "shipped-cartpole-center-softdqn=" + root.resolve("examples/priors/cartpole-center-softdqn")
            + "@rql4j/cartpole-center-total-v0")
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0, "make_prior_fixtures.py failed:\n" + out);
    DjlRuntime.configure();
    for (BridgeTransport t : BridgeTransport.values()) {
      PythonServer server = PythonServer.builder().optTransport(t).start();
      SERVERS.put(t, server);
      CLIENTS.put(t, server.client());
    }
  }

  @AfterAll
  static void stop() {
    CLIENTS.values().forEach(EnvClient::close);
    SERVERS.values().forEach(PythonServer::close);
  }

  @TestFactory
  Stream<DynamicTest> javaMatchesPythonTorch() throws Exception {
    List<Path> kinds = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(fixtures)) {
      dirs.filter(d -> Files.exists(d.resolve("reference.bin"))).sorted().forEach(kinds::add);
    }
    assertTrue(kinds.size() >= 11, "expected a fixture per supported kind and the shipped priors, found " + kinds);
    return kinds.stream().flatMap(dir -> Stream.concat(
        Stream.of(DynamicTest.dynamicTest(dir.getFileName() + " in-process", () -> {
          try (PriorPolicy prior = TorchScriptPrior.load(dir)) {
            compare(prior, dir);
          }
        })),
        Stream.of(BridgeTransport.values()).map(t -> DynamicTest.dynamicTest(dir.getFileName() + " remote " + t, () -> {
          try (PriorPolicy prior = CLIENTS.get(t).loadPrior(dir)) {
            compare(prior, dir);
          }
        }))));
  }

  private static void compare(PriorPolicy prior, Path dir) throws Exception {
    RawArrayFile ref = RawArrayFile.read(dir.resolve("reference.bin"));
    RawArrayFile.Array obsRef = ref.get("observations");
    assertEquals(1000, obsRef.shape()[0], "1,000 recorded observations");
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray obs = m.create(obsRef.floats(), new Shape(obsRef.shape()));
      if (prior.spec().distribution().isGaussian()) {
        GaussianParams g = prior.distribution(obs);
        assertClose(ref.get("mean").doubles(), toDoubles(g.mean()), dir + " mean");
        assertClose(ref.get("log_std").doubles(), toDoubles(g.logStd()), dir + " log_std");
        RawArrayFile.Array act = ref.get("actions");
        NDArray actions = m.create(act.floats(), new Shape(act.shape()));
        assertClose(ref.get("log_prob").doubles(), toDoubles(prior.logProb(obs, actions)), dir + " log_prob");
      } else {
        assertClose(ref.get("log_probs_all").doubles(), toDoubles(prior.logProbsAll(obs)), dir + " log_probs_all");
        if (ref.has("actions")) {
          NDArray actions = m.create(ref.get("actions").longs());
          assertClose(ref.get("log_prob").doubles(), toDoubles(prior.logProb(obs, actions)), dir + " log_prob");
        }
      }
    }
  }

  private static double[] toDoubles(NDArray a) {
    return a.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
  }

  /** Within 1e-5 absolute, or relative for values above 1. */
  static void assertClose(double[] expected, double[] actual, String what) {
    assertEquals(expected.length, actual.length, what + ": length");
    double worst = 0;
    int at = -1;
    for (int i = 0; i < expected.length; i++) {
      assertFalse(Double.isNaN(actual[i]), what + ": NaN at " + i);
      double err = Math.abs(expected[i] - actual[i]) / Math.max(1.0, Math.abs(expected[i]));
      if (err > worst) {
        worst = err;
        at = i;
      }
    }
    assertTrue(worst <= TOL, what + ": max error " + worst + " at " + at + " (expected " + (at >= 0 ? expected[at] : 0)
        + ", got " + (at >= 0 ? actual[at] : 0) + ")");
  }
}
