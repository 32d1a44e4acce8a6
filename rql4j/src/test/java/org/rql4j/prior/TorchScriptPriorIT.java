package org.rql4j.prior;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.bridge.PythonServer;

/** TorchScriptPrior against real TorchScript modules made by Python torch, including broken ones. */
class TorchScriptPriorIT {

  @TempDir
  static Path dir;

  @BeforeAll
  static void makePackages() throws Exception {
    Path script = Path.of(System.getProperty("rql4j.project.dir", "."), "compat-tests/python/make_bad_prior_packages.py");
    Process p = new ProcessBuilder(PythonServer.defaultPython().toString(), script.toString(), "--out", dir.toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, "fixture script failed:\n" + out);
  }

  @Test
  void goodPackageAnswersAndCloses() {
    try (TorchScriptPrior prior = TorchScriptPrior.load(dir.resolve("good"));
        NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray obs = m.create(new float[][] {{0.1f, -0.2f, 0.3f, 0f}, {0f, 0f, 0f, 0f}, {1f, 1f, -1f, 0.5f}});
      NDArray logp = prior.logProbsAll(obs);
      assertArrayEquals(new long[] {3, 2}, logp.getShape().getShape());
      // the training loops' query: the same values, read back flat
      assertArrayEquals(logp.toFloatArray(), prior.outputs(m, obs.toFloatArray(), 3));
      float[] p = logp.exp().sum(new int[] {1}).toFloatArray();
      assertArrayEquals(new float[] {1f, 1f, 1f}, p, 1e-6f);
      NDArray actions = prior.sample(obs, true);
      assertEquals(3, actions.size());
      IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
          () -> prior.logProbsAll(m.create(new float[][] {{1f, 2f}})));
      assertTrue(shape.getMessage().contains("[B, 4]"), shape.getMessage());
      assertThrows(UnsupportedOperationException.class, () -> prior.distribution(obs));
    }
  }

  @Test
  void nanOutputsNameTheRows() {
    try (TorchScriptPrior prior = TorchScriptPrior.load(dir.resolve("nan"));
        NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray obs = m.create(new float[][] {{-1f, 0f, 0f, 0f}, {0.5f, 0f, 0f, 0f}, {-0.5f, 0f, 0f, 0f}, {2f, 0f, 0f, 0f}});
      PriorException e = assertThrows(PriorException.class, () -> prior.logProbsAll(obs));
      assertTrue(e.getMessage().contains("NaN for rows [1, 3]"), e.getMessage());
      PriorException host = assertThrows(PriorException.class, () -> prior.outputs(m, obs.toFloatArray(), 4));
      assertEquals(e.getMessage(), host.getMessage(), "the host-side check says the same");
    }
  }

  @Test
  void wrongOutputShapeIsRefusedAtLoad() {
    PriorException e = assertThrows(PriorException.class, () -> TorchScriptPrior.load(dir.resolve("wrong_shape")));
    assertTrue(e.getMessage().contains("returned shape (2, 3)") && e.getMessage().contains("expected (2, 2)"), e.getMessage());
  }

  @Test
  void unnormalizedCategoricalOutputsAreRefusedAtLoad() {
    PriorException e = assertThrows(PriorException.class, () -> TorchScriptPrior.load(dir.resolve("unnormalized")));
    assertTrue(e.getMessage().contains("does not return normalized log-probabilities"), e.getMessage());
  }

  @Test
  void gaussianModuleWithOneOutputIsRefusedAtLoad() {
    PriorException e = assertThrows(PriorException.class, () -> TorchScriptPrior.load(dir.resolve("one_output")));
    assertTrue(e.getMessage().contains("returned 1 outputs"), e.getMessage());
  }
}
