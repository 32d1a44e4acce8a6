package org.rql4j.learner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.runtime.DjlRuntime;

class ResidualSoftQLearningTest {

  /** docs/method.md, Algorithm 1 test vector (float64, 1e-9; the policy to 1e-6). */
  @Test
  void algorithmOneTestVector() {
    DjlRuntime.configure();
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray q = m.create(new double[][] {{0.5, -1.0, 2.0}});
      NDArray logPi = m.create(new double[][] {{Math.log(0.2), Math.log(0.5), Math.log(0.3)}});
      NDArray y = ResidualSoftQLearning.softTarget(m.create(new double[] {-0.25}), m.create(new double[] {1.0}), q, logPi,
          0.99, 0.5, 2.0);
      assertEquals(-0.6397342877938326, y.getDouble(0), 1e-9);
      NDArray terminal = ResidualSoftQLearning.softTarget(m.create(new double[] {-0.25}), m.create(new double[] {0.0}),
          q, logPi, 0.99, 0.5, 2.0);
      assertEquals(-0.25, terminal.getDouble(0), 1e-12, "a terminal transition does not bootstrap");
      double[] piHat = ResidualSoftQLearning.customizedLogits(q, logPi, 0.5, 2.0).softmax(1).toDoubleArray();
      assertArrayEquals(new double[] {0.009558, 0.018588, 0.971854}, piHat, 1e-6);
    }
  }

  /**
   * Acting computes the residual network's logits only when a row needs them (not on the epsilon
   * branch): the actions and the random numbers drawn must be those of computing them always.
   */
  @Test
  void actingDrawsTheSameWithOrWithoutTheLogits() {
    ResidualSoftQConfig config = ResidualSoftQConfig.cartpole().withPriorWeight(1f);
    float[] obs = {0.1f, -0.2f, 0.3f, 0.05f, -0.4f, 0.2f, 0.1f, 0.0f, 0.3f, 0.3f, -0.1f, 0.2f};
    float[] logPrior = {(float) Math.log(0.3), (float) Math.log(0.7), (float) Math.log(0.9), (float) Math.log(0.1),
        (float) Math.log(0.5), (float) Math.log(0.5)};
    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(config, 4, 2);
        NDManager m = NDManager.newBaseManager("PyTorch")) {
      DjlRuntime.noGradOnThisThread();
      float[] logits = ResidualSoftQLearning.customizedLogits(
          learner.qResidual().forward(m.create(obs, new ai.djl.ndarray.types.Shape(3, 4))),
          m.create(logPrior, new ai.djl.ndarray.types.Shape(3, 2)), 1, 1).toFloatArray();
      for (double epsilon : new double[] {0, 0.5, 1}) {
        Random mine = new Random(7);
        Random expected = new Random(7);
        for (int round = 0; round < 50; round++) {
          long[] got = learner.act(obs, logPrior, epsilon, false, mine);
          for (int i = 0; i < 3; i++) {
            long want = expected.nextDouble() < epsilon ? expected.nextInt(2)
                : ResidualSoftQLearning.chooseAction(logits, i * 2, 2, false, expected);
            assertEquals(want, got[i], "epsilon " + epsilon + ", round " + round + ", row " + i);
          }
        }
        assertEquals(expected.nextLong(), mine.nextLong(), "the same random numbers were drawn");
      }
    }
  }

  @Test
  void onlyTerminationStopsBootstrapping() {
    ReplayBuffer buffer = new ReplayBuffer(4, 1, 2);
    buffer.add(new float[] {0}, 1, 1f, new float[] {1}, false, new float[] {-0.1f, -2f}); // truncated: not terminal
    buffer.add(new float[] {1}, 0, 2f, new float[] {2}, true, new float[] {-0.5f, -0.9f});
    ReplayBuffer.Batch b = buffer.gather(new int[] {0, 1});
    assertArrayEquals(new float[] {1f, 0f}, b.notTerminated());
    assertArrayEquals(new float[] {-0.1f, -2f, -0.5f, -0.9f}, b.nextPriorLogProbs());
    assertArrayEquals(new long[] {1, 0}, b.discreteActions());
  }

  @Test
  void updatesFitAFixedBatchAndTheTargetSyncs() {
    ResidualSoftQConfig config = ResidualSoftQConfig.cartpole().withPriorWeight(1f);
    Random rng = new Random(1);
    ReplayBuffer buffer = new ReplayBuffer(64, 4, 2);
    for (int i = 0; i < 64; i++) {
      float[] o = {rng.nextFloat(), rng.nextFloat(), rng.nextFloat(), rng.nextFloat()};
      buffer.add(o, rng.nextInt(2), -Math.abs(o[0]), o, true, new float[] {(float) Math.log(0.3), (float) Math.log(0.7)});
    }
    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(config, 4, 2)) {
      ReplayBuffer.Batch batch = buffer.gather(java.util.stream.IntStream.range(0, 64).toArray());
      double first = learner.update(batch).loss();
      double last = first;
      for (int i = 0; i < 200; i++) {
        last = learner.update(batch).loss();
      }
      assertTrue(last < 0.05 * first, "terminal targets are the rewards; loss " + first + " -> " + last);
      assertEquals(201, learner.optimizer().steps());
      float[] before = learner.qResidualTarget().exportWeights().get(0);
      learner.syncTarget();
      float[] after = learner.qResidualTarget().exportWeights().get(0);
      assertTrue(!java.util.Arrays.equals(before, after), "target moved to the online weights");
      assertArrayEquals(learner.qResidual().exportWeights().get(0), after);
    }
  }

  @Test
  void learnersWorkOnThreadsOtherThanTheOneThatLoadedTheEngine() throws Exception {
    ResidualSoftQConfig config = ResidualSoftQConfig.cartpole();
    new ResidualSoftQLearning(config, 4, 2).close(); // the engine loads on this thread
    ReplayBuffer buffer = new ReplayBuffer(8, 4, 2);
    for (int i = 0; i < 8; i++) {
      buffer.add(new float[] {i, 1, 2, 3}, i % 2, 1f, new float[] {i, 1, 2, 3}, false, new float[] {-0.7f, -0.7f});
    }
    java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
    java.util.concurrent.atomic.AtomicLong steps = new java.util.concurrent.atomic.AtomicLong();
    Thread worker = new Thread(() -> {
      // libtorch starts every new thread with autograd recording on: in-place optimizer steps and
      // target copies would fail there without DjlRuntime.noGradOnThisThread()
      try (ResidualSoftQLearning learner = new ResidualSoftQLearning(config, 4, 2)) {
        learner.update(buffer.sample(8, new Random(0)));
        learner.syncTarget();
        learner.qResidual().importWeights(learner.qResidualTarget().exportWeights());
        steps.set(learner.optimizer().steps());
      } catch (Throwable t) {
        failure.set(t);
      }
    });
    worker.start();
    worker.join();
    if (failure.get() != null) {
      throw new AssertionError("training on a second thread failed", failure.get());
    }
    assertEquals(1, steps.get());
  }
}
