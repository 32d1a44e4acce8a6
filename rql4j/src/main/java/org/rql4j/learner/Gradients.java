package org.rql4j.learner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.Parameter;
import java.util.List;

/** Gradient utilities DJL lacks (its {@code clipGrad} clamps each value). */
public final class Gradients {

  private Gradients() {}

  /**
   * Global gradient-norm clipping as {@code torch.nn.utils.clip_grad_norm_}: scales every gradient
   * by {@code min(1, maxNorm / (totalNorm + 1e-6))}. Returns the total norm before clipping.
   * Call outside a GradientCollector.
   */
  public static double clipGlobalNorm(List<Parameter> parameters, double maxNorm) {
    return clipGlobalNormArrays(parameters.stream().map(Parameter::getArray).toList(), maxNorm);
  }

  /** As {@link #clipGlobalNorm} over plain arrays that require gradients (e.g. PPO's log-std). */
  public static double clipGlobalNormArrays(List<NDArray> arrays, double maxNorm) {
    try (NDScope scope = new NDScope()) {
      NDArray[] grads = new NDArray[arrays.size()];
      ai.djl.ndarray.NDList squares = new ai.djl.ndarray.NDList(grads.length);
      for (int i = 0; i < grads.length; i++) {
        grads[i] = arrays.get(i).getGradient();
        squares.add(grads[i].square().sum());
      }
      // one read-back for all parameters, summed in double in parameter order (as one getFloat each would)
      float[] perParameter = grads.length == 0 ? new float[0] : ai.djl.ndarray.NDArrays.stack(squares).toFloatArray();
      double sumSquares = 0;
      for (float v : perParameter) {
        sumSquares += v;
      }
      double total = Math.sqrt(sumSquares);
      double coef = Math.min(1.0, maxNorm / (total + 1e-6));
      if (coef < 1.0) {
        for (NDArray g : grads) {
          g.muli(coef);
        }
      }
      return total;
    }
  }

  /**
   * Sets the gradients of {@code parameters} to zero (libtorch accumulates gradients; a loss that
   * reaches parameters it must not train, e.g. the critics in SAC's actor loss, leaves some).
   */
  public static void zero(List<Parameter> parameters) {
    zeroArrays(parameters.stream().map(Parameter::getArray).toList());
  }

  /** As {@link #zero} for plain arrays that require gradients. */
  public static void zeroArrays(List<NDArray> arrays) {
    for (NDArray a : arrays) {
      if (a.hasGradient()) {
        ai.djl.pytorch.jni.JniUtils.zeroGrad((ai.djl.pytorch.engine.PtNDArray) a);
      }
    }
  }
}
