package org.rql4j.runtime;

import ai.djl.engine.Engine;

/**
 * DJL's PyTorch engine, configured for rql4j: offline (libtorch comes from the
 * {@code pytorch-native-cpu} jar on the classpath, never from a download), one intra-op thread on
 * small machines (two intra-op threads on two busy cores make training steps 10-100x slower), and
 * the TorchScript graph optimizer off (so modules can be trained and then run for inference).
 * Under pinned numerics ({@link Numerics}) one intra-op thread whatever the core
 * count, so that a run repeats on a machine with more cores. Settings already given as system
 * properties win.
 */
public final class DjlRuntime {

  private DjlRuntime() {}

  /** Sets rql4j's defaults for DJL's system properties (call before the engine first loads). */
  public static synchronized void configure() {
    setDefault("ai.djl.offline", "true");
    setDefault("ai.djl.pytorch.graph_optimizer", "false");
    int cores = Runtime.getRuntime().availableProcessors();
    // pinned numerics (docs/reproducibility.md) split no reduction by thread count: one thread
    boolean pinned = Numerics.pinned();
    setDefault("ai.djl.pytorch.num_threads", pinned || cores <= 2 ? "1" : Integer.toString(cores / 2));
    setDefault("ai.djl.pytorch.num_interop_threads", "1");
  }

  private static final ThreadLocal<Boolean> NO_GRAD_SET = ThreadLocal.withInitial(() -> false);

  /**
   * Turns autograd recording off on the calling thread (outside a GradientCollector). libtorch's
   * grad mode is per thread and ON by default; DJL turns it off only on the thread that loaded
   * the engine. On any other thread, in-place updates of parameters (optimizer steps, target
   * copies, loading weights) then fail with "a leaf Variable that requires grad is being used in
   * an in-place operation", and forward passes record graphs for nothing. Every learner entry
   * point calls this; it costs one JNI call per thread.
   */
  public static void noGradOnThisThread() {
    if (!NO_GRAD_SET.get()) {
      engine();
      ai.djl.pytorch.jni.JniUtils.setGradMode(false);
      NO_GRAD_SET.set(true);
    }
  }

  /** The configured PyTorch engine. */
  public static Engine engine() {
    configure();
    return Engine.getEngine("PyTorch");
  }

  private static void setDefault(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
