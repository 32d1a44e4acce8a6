package org.rql4j.prior;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rql4j.runtime.DjlRuntime;

class DistributionsTest {

  private static NDManager manager;

  @BeforeAll
  static void engine() {
    DjlRuntime.configure();
    manager = NDManager.newBaseManager("PyTorch");
  }

  @AfterAll
  static void close() {
    manager.close();
  }

  /** method.md's test vector: mu 0.3, log sigma -0.5, u 0.8 -> -0.1772184298359022 (float64, 1e-9). */
  @Test
  void squashedGaussianTestVector() {
    try (NDManager m = manager.newSubManager()) {
      NDArray mu = m.create(new double[][] {{0.3}});
      NDArray logStd = m.create(new double[][] {{-0.5}});
      double fromU = Distributions.squashedGaussianLogProbPreTanh(mu, logStd, m.create(new double[][] {{0.8}})).getDouble(0);
      assertEquals(-0.1772184298359022, fromU, 1e-9);
      double a = Math.tanh(0.8);
      assertEquals(0.664036770267849, a, 1e-15);
      double fromA = Distributions.squashedGaussianLogProb(mu, logStd, m.create(new double[][] {{a}})).getDouble(0);
      assertEquals(-0.1772184298359022, fromA, 1e-9);
    }
  }

  @Test
  void diagGaussianSumsOverDimensions() {
    try (NDManager m = manager.newSubManager()) {
      NDArray mean = m.create(new double[][] {{0.0, 1.0}, {2.0, -1.0}});
      NDArray logStd = m.create(new double[][] {{0.0, Math.log(2)}, {Math.log(0.5), 0.0}});
      NDArray x = m.create(new double[][] {{0.5, 0.0}, {2.0, -1.0}});
      double c = -0.5 * Math.log(2 * Math.PI);
      double row0 = (c - 0.125) + (c - Math.log(2) - 0.5 * 0.25);
      double row1 = (c - Math.log(0.5)) + c;
      assertArrayEquals(new double[] {row0, row1}, Distributions.diagGaussianLogProb(mean, logStd, x).toDoubleArray(), 1e-12);
    }
  }

  @Test
  void categoricalPicksTheActionsColumnWithStartOffset() {
    try (NDManager m = manager.newSubManager()) {
      NDArray logp = m.create(new float[][] {{-0.1f, -2.0f, -3.0f}, {-1.5f, -0.4f, -2.5f}});
      NDArray actions = m.create(new long[] {7, 8}); // start = 6
      assertArrayEquals(new float[] {-2.0f, -2.5f}, Distributions.categoricalLogProb(logp, actions, 6).toFloatArray());
    }
  }

  /** The actor's gradient flows through the action into the prior's log-prob (Algorithm 2). */
  @Test
  void squashedLogProbIsDifferentiableInTheAction() {
    Engine.getEngine("PyTorch").setRandomSeed(0);
    try (NDManager m = manager.newSubManager()) {
      NDArray mu = m.create(new double[][] {{0.3, -0.2}});
      NDArray logStd = m.create(new double[][] {{-0.5, 0.1}});
      double[] a0 = {0.4, -0.7};
      NDArray a = m.create(new double[][] {a0});
      a.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        gc.backward(Distributions.squashedGaussianLogProb(mu, logStd, a).sum());
      }
      double[] grad = a.getGradient().toDoubleArray();
      double h = 1e-6;
      for (int i = 0; i < 2; i++) {
        double[] plus = a0.clone();
        double[] minus = a0.clone();
        plus[i] += h;
        minus[i] -= h;
        double fd = (Distributions.squashedGaussianLogProb(mu, logStd, m.create(new double[][] {plus})).getDouble(0)
            - Distributions.squashedGaussianLogProb(mu, logStd, m.create(new double[][] {minus})).getDouble(0)) / (2 * h);
        assertEquals(fd, grad[i], 1e-6, "d log pi / d a_" + i);
      }
    }
  }
}
