package org.rql4j.learner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.Parameter;
import java.util.List;
import org.rql4j.runtime.DjlRuntime;

/**
 * Adam with PyTorch's formula ({@code torch.optim.Adam}, no weight decay):
 * {@code m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)}. Written by hand because DJL's
 * Adam puts epsilon inside the bias-corrected step, which differs visibly from PyTorch for small
 * gradients; the compat tests compare updated weights with PyTorch's.
 *
 * <p>A step is one native call: libtorch's fused Adam kernel ({@code torch._fused_adam_}, what
 * {@code torch.optim.Adam(fused=True)} runs), through a small TorchScript module shipped in this
 * jar ({@code fused_adam.pt}, written by {@code compat-tests/python/make_fused_adam.py}). It makes
 * one pass over each parameter, where DJL's {@code adamUpdate} makes eleven, each of them slowed
 * down by the subnormal numbers Adam's decaying moments reach ({@code docs/benchmarks.md}). Where
 * the module cannot run (parameters of another type than float32, or on different devices) the
 * step falls back to DJL's {@code adamUpdate} with the same formula.
 */
public final class TorchAdam implements AutoCloseable {

  private final List<NDArray> parameters;
  private final NDManager manager;
  private final NDArray[] m;
  private final NDArray[] v;
  private final float lr;
  private final float beta1;
  private final float beta2;
  private final float eps;
  private long step;
  /** The fused step's argument lists (parameters and moments keep their storage), or null: DJL's own update. */
  private ai.djl.pytorch.jni.IValue[] fusedLists;

  public TorchAdam(NDManager parent, List<Parameter> parameters, float lr) {
    this(parent, parameters, lr, 0.9f, 0.999f, 1e-8f);
  }

  public TorchAdam(NDManager parent, List<Parameter> parameters, float lr, float beta1, float beta2, float eps) {
    this(parent, parameters.stream().map(Parameter::getArray).toArray(NDArray[]::new), lr, beta1, beta2, eps);
  }

  /**
   * The same optimizer stepping with DJL's own {@code adamUpdate} (eleven element-wise passes per
   * parameter) instead of libtorch's fused kernel: what {@code make bench-step-cost} compares.
   */
  public static TorchAdam withDjlUpdate(NDManager parent, List<Parameter> parameters, float lr) {
    TorchAdam adam = new TorchAdam(parent, parameters, lr);
    adam.closeFusedLists();
    return adam;
  }

  /** Adam over plain arrays that require gradients (e.g. SAC's log-temperature). */
  public static TorchAdam ofArrays(NDManager parent, List<NDArray> arrays, float lr) {
    return new TorchAdam(parent, arrays.toArray(NDArray[]::new), lr, 0.9f, 0.999f, 1e-8f);
  }

  private TorchAdam(NDManager parent, NDArray[] parameters, float lr, float beta1, float beta2, float eps) {
    this.parameters = List.of(parameters);
    this.manager = parent.newSubManager();
    this.lr = lr;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    m = new NDArray[parameters.length];
    v = new NDArray[parameters.length];
    for (int i = 0; i < m.length; i++) {
      NDArray w = parameters[i];
      m[i] = manager.zeros(w.getShape(), w.getDataType());
      v[i] = manager.zeros(w.getShape(), w.getDataType());
    }
    if (FusedAdam.module() != null && fusable(parameters)) {
      fusedLists = new ai.djl.pytorch.jni.IValue[] {FusedAdam.list(parameters), FusedAdam.list(m), FusedAdam.list(v)};
    }
  }

  /** Whether the fused kernel takes these parameters: float32 PyTorch arrays on one device. */
  private static boolean fusable(NDArray[] parameters) {
    for (NDArray w : parameters) {
      if (!(w instanceof ai.djl.pytorch.engine.PtNDArray) || w.getDataType() != ai.djl.ndarray.types.DataType.FLOAT32
          || !w.getDevice().equals(parameters[0].getDevice())) {
        return false;
      }
    }
    return parameters.length > 0;
  }

  /** Whether steps run libtorch's fused kernel (else DJL's {@code adamUpdate}). */
  public boolean fused() {
    return fusedLists != null;
  }

  /** Steps taken. */
  public long steps() {
    return step;
  }

  /**
   * One update from the parameters' current gradients, which are then zeroed. Call outside a
   * GradientCollector (no autograd recording).
   */
  public void step() {
    step(1f);
  }

  /**
   * {@link #step()} with the learning rate times {@code lrScale} for this step only (the moments and the
   * step count move as in any step): what a phase that needs a faster rate uses, e.g. residual SAC's
   * imitation of the prior.
   */
  public void step(float lrScale) {
    DjlRuntime.noGradOnThisThread();
    float lr = this.lr * lrScale;
    step++;
    if (fusedLists != null) {
      NDArray[] grads = new NDArray[m.length];
      try (NDScope scope = new NDScope()) {
        for (int i = 0; i < grads.length; i++) {
          grads[i] = parameters.get(i).getGradient();
        }
        FusedAdam.step(fusedLists, grads, step, lr, beta1, beta2, eps); // also zeroes the gradients
      }
      return;
    }
    double bc1 = 1 - StrictMath.pow(beta1, step);
    double bc2Sqrt = Math.sqrt(1 - StrictMath.pow(beta2, step));
    // DJL's adamUpdate (one native call per parameter, eleven element-wise passes) computes
    // w -= lrBc * m / (sqrt(v) + epsHat). With lrBc = lr sqrt(1 - b2^t) / (1 - b1^t) and
    // epsHat = eps sqrt(1 - b2^t) this is exactly torch.optim.Adam's
    // w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) (multiply both terms of the
    // fraction by sqrt(1 - b2^t)); only float rounding differs (the compat tests bound it).
    float lrBc = (float) (lr * bc2Sqrt / bc1);
    float epsHat = (float) (eps * bc2Sqrt);
    for (int i = 0; i < m.length; i++) {
      NDArray w = parameters.get(i);
      // NDScope closes every array created inside (the gradient handle included): nothing
      // per-step may outlive the step.
      try (NDScope scope = new NDScope()) {
        NDArray g = w.getGradient();
        // also zeroes w's gradient (DJL's PyTorch adamUpdate ends with zeroGrad(weights))
        w.getNDArrayInternal().adamUpdate(new NDList(w, g, m[i], v[i]), new NDList(w), lr, lrBc,
            0f, 1f, -1f, beta1, beta2, epsHat, true, false);
      }
    }
  }

  /** The optimizer's state (for checkpoints): steps taken and the moments, in parameter order. */
  public record State(long step, java.util.List<float[]> m, java.util.List<float[]> v) {}

  /** A copy of the state. */
  public State exportState() {
    java.util.List<float[]> ms = new java.util.ArrayList<>();
    java.util.List<float[]> vs = new java.util.ArrayList<>();
    for (int i = 0; i < m.length; i++) {
      ms.add(m[i].toFloatArray());
      vs.add(v[i].toFloatArray());
    }
    return new State(step, ms, vs);
  }

  /** Restores a state taken from an optimizer over parameters of the same shapes. */
  public void importState(State state) {
    DjlRuntime.noGradOnThisThread();
    if (state.m().size() != m.length || state.v().size() != v.length) {
      throw new IllegalArgumentException("optimizer state has " + state.m().size() + " moments, this optimizer has "
          + m.length + " parameters");
    }
    for (int i = 0; i < m.length; i++) {
      if (state.m().get(i).length != m[i].size() || state.v().get(i).length != v[i].size()) {
        throw new IllegalArgumentException("optimizer state for parameter " + i + " has "
            + state.m().get(i).length + " values, the parameter has " + m[i].size());
      }
      InPlace.copy(m[i], state.m().get(i));
      InPlace.copy(v[i], state.v().get(i));
    }
    step = state.step();
  }

  /**
   * Copies of the moments in {@code out}, named as a PyTorch optimizer's {@code state_dict}:
   * {@code prefix.state.i.exp_avg} and {@code prefix.state.i.exp_avg_sq} for parameter i (the step
   * count is {@link #steps()}).
   */
  public NDList namedState(String prefix, NDManager out) {
    NDList list = new NDList();
    for (int i = 0; i < m.length; i++) {
      for (String kind : new String[] {"exp_avg", "exp_avg_sq"}) {
        NDArray copy = (kind.equals("exp_avg") ? m[i] : v[i]).duplicate();
        copy.attach(out);
        copy.setName(prefix + ".state." + i + "." + kind);
        list.add(copy);
      }
    }
    return list;
  }

  /** Restores {@link #namedState} and the step count; an IOException naming a missing or misshapen moment. */
  public void restoreNamedState(java.util.Map<String, NDArray> tensors, String prefix, long steps)
      throws java.io.IOException {
    for (int i = 0; i < m.length; i++) {
      for (NDArray target : new NDArray[] {m[i], v[i]}) {
        String name = prefix + ".state." + i + "." + (target == m[i] ? "exp_avg" : "exp_avg_sq");
        NDArray got = tensors.get(name);
        if (got == null || !got.getShape().equals(target.getShape())) {
          throw new java.io.IOException("the checkpoint's optimizer moment '" + name + "' is "
              + (got == null ? "missing" : "of shape " + got.getShape()) + "; this learner's is " + target.getShape());
        }
        InPlace.copy(target, got.toFloatArray());
      }
    }
    step = steps;
  }

  private void closeFusedLists() {
    if (fusedLists != null) {
      for (ai.djl.pytorch.jni.IValue list : fusedLists) {
        list.close();
      }
      fusedLists = null;
    }
  }

  @Override
  public void close() {
    closeFusedLists();
    manager.close();
  }
}
