package org.rql4j.learner;

import ai.djl.engine.Engine;

/**
 * DJL's PyTorch engine, configured for rql4j: offline (libtorch comes from the
 * {@code pytorch-native-cpu} jar on the classpath, never from a download), one intra-op thread on
 * small machines (two intra-op threads on two busy cores make training steps 10-100x slower), and
 * the TorchScript graph optimizer off (so modules can be trained and then run for inference).
 * Settings already given as system properties win.
 */
public final class DjlRuntime {

  private DjlRuntime() {}

  /** Sets rql4j's defaults for DJL's system properties (call before the engine first loads). */
  public static synchronized void configure() {
    setDefault("ai.djl.offline", "true");
    setDefault("ai.djl.pytorch.graph_optimizer", "false");
    int cores = Runtime.getRuntime().availableProcessors();
    setDefault("ai.djl.pytorch.num_threads", cores <= 2 ? "1" : Integer.toString(cores / 2));
    setDefault("ai.djl.pytorch.num_interop_threads", "1");
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
