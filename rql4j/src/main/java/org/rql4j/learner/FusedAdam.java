package org.rql4j.learner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.io.InputStream;
import org.rql4j.runtime.DjlRuntime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libtorch's fused Adam kernel, reached through the TorchScript module {@code fused_adam.pt} next to
 * this class (written by {@code compat-tests/python/make_fused_adam.py}; DJL has no binding for the
 * op itself). Loaded once per JVM and shared: the module holds no state, every argument is passed.
 */
final class FusedAdam {

  private static final Logger LOG = LoggerFactory.getLogger(FusedAdam.class);
  static final String RESOURCE = "fused_adam.pt";

  private static boolean loaded;
  private static PtSymbolBlock module;

  private FusedAdam() {}

  /** The loaded module, or null when it cannot be loaded here (then {@link TorchAdam} uses DJL's update). */
  static synchronized PtSymbolBlock module() {
    if (!loaded) {
      loaded = true;
      try (InputStream in = FusedAdam.class.getResourceAsStream(RESOURCE)) {
        if (in == null) {
          LOG.warn("{} is missing from the rql4j jar; Adam steps use DJL's slower update", RESOURCE);
        } else {
          DjlRuntime.engine();
          // a manager that lives as long as the JVM, as the module does
          PtNDManager manager = (PtNDManager) NDManager.newBaseManager("PyTorch");
          module = JniUtils.loadModule(manager, in, true, false);
        }
      } catch (IOException | RuntimeException e) {
        LOG.warn("cannot load {} ({}); Adam steps use DJL's slower update", RESOURCE, e.toString());
        module = null;
      }
    }
    return module;
  }

  /** A TorchScript list of these arrays (the same storage, not copies). */
  static IValue list(NDArray[] arrays) {
    PtNDArray[] pt = new PtNDArray[arrays.length];
    for (int i = 0; i < pt.length; i++) {
      pt[i] = (PtNDArray) arrays[i];
    }
    return IValue.listFrom(pt);
  }

  /**
   * One Adam step in place: {@code lists} are the parameters, first and second moments ({@link #list});
   * {@code step} is the step's number (1 for the first); the gradients are zeroed afterwards.
   */
  static void step(IValue[] lists, NDArray[] grads, long step, float lr, float beta1, float beta2, float eps) {
    try (IValue g = list(grads);
        IValue t = IValue.from((double) step);
        IValue l = IValue.from((double) lr);
        IValue b1 = IValue.from((double) beta1);
        IValue b2 = IValue.from((double) beta2);
        IValue e = IValue.from((double) eps);
        IValue out = module().forward(lists[0], g, lists[1], lists[2], t, l, b1, b2, e)) {
      if (out.toLong() != grads.length) {
        throw new IllegalStateException("the fused Adam module stepped " + out.toLong() + " of " + grads.length
            + " parameters");
      }
    }
  }
}
