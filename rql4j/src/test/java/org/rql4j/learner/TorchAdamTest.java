package org.rql4j.learner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.rql4j.runtime.DjlRuntime;

class TorchAdamTest {

  /** w -= lr m_hat / (sqrt(v_hat) + eps) on w = (1, -2), gradient 2w (of sum w^2), as torch.optim.Adam. */
  private static float[] steps(float lr, float scale, int n) {
    DjlRuntime.configure();
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray w = m.create(new float[] {1f, -2f});
      w.setRequiresGradient(true);
      TorchAdam adam = TorchAdam.ofArrays(m, List.of(w), lr);
      for (int i = 0; i < n; i++) {
        try (ai.djl.training.GradientCollector gc = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
          gc.backward(w.square().sum());
        }
        adam.step(scale);
      }
      assertEquals(n, adam.steps());
      return w.toFloatArray();
    }
  }

  @Test
  void aScaledStepIsAStepAtTheScaledRate() {
    float[] first = steps(0.1f, 1f, 1);
    // Adam's first step moves each weight by lr (m_hat / sqrt(v_hat) = sign(g)), minus eps's share
    assertArrayEquals(new float[] {0.9f, -1.9f}, first, 1e-6f);
    assertArrayEquals(steps(0.03f, 1f, 5), steps(0.01f, 3f, 5), 1e-7f, "lr 0.01 scaled by 3 = lr 0.03");
    float[] slow = steps(0.01f, 1f, 5);
    assertTrue(Math.abs(slow[0] - 1f) < Math.abs(steps(0.01f, 3f, 5)[0] - 1f), "the scaled one moved further");
  }

  /** torch.optim.Adam's formula in double: n steps on w = (1, -2) with gradient 2w. */
  private static double[] reference(double lr, int n) {
    double[] w = {1, -2};
    double[] m = new double[2];
    double[] v = new double[2];
    for (int t = 1; t <= n; t++) {
      for (int i = 0; i < 2; i++) {
        double g = 2 * w[i];
        m[i] = 0.9 * m[i] + 0.1 * g;
        v[i] = 0.999 * v[i] + 0.001 * g * g;
        w[i] -= lr / (1 - Math.pow(0.9, t)) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(0.999, t)) + 1e-8);
      }
    }
    return w;
  }

  /** float32 parameters step in libtorch's fused kernel, float64 ones in DJL's update: both as torch.optim.Adam. */
  @Test
  void bothPathsFollowPyTorchsFormula() {
    DjlRuntime.configure();
    double[] want = reference(0.05, 40);
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      for (ai.djl.ndarray.types.DataType type : new ai.djl.ndarray.types.DataType[] {
          ai.djl.ndarray.types.DataType.FLOAT32, ai.djl.ndarray.types.DataType.FLOAT64}) {
        NDArray w = m.create(new double[] {1, -2}).toType(type, false);
        w.setRequiresGradient(true);
        try (TorchAdam adam = TorchAdam.ofArrays(m, List.of(w), 0.05f)) {
          assertEquals(type == ai.djl.ndarray.types.DataType.FLOAT32, adam.fused(), type.toString());
          for (int i = 0; i < 40; i++) {
            try (ai.djl.training.GradientCollector gc = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
              gc.backward(w.square().sum());
            }
            adam.step();
            assertArrayEquals(new double[] {0, 0}, w.getGradient().toType(ai.djl.ndarray.types.DataType.FLOAT64,
                false).toDoubleArray(), "the step zeroes the gradient");
          }
          double[] got = w.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
          assertArrayEquals(want, got, 1e-5, type.toString());
        }
      }
    }
  }
}
