package org.rql4j.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.runtime.DjlRuntime;

/** The KL budget's dual steps on residual soft Q-learning (docs/method.md, "A KL budget"). */
class KlBudgetTest {

  /** KL(pi_hat || pi) of one state worked by hand: pi = (0.2, 0.5, 0.3), Q_R = (0.5, -1, 2), alphaHat 0.5, w 0.5. */
  @Test
  void theKlOfOneStateByHand() {
    DjlRuntime.configure();
    double[] logPi = {Math.log(0.2), Math.log(0.5), Math.log(0.3)};
    double[] q = {0.5, -1.0, 2.0};
    // pi_hat ∝ pi^(w / alphaHat) exp(Q_R / alphaHat) = pi * exp(2 Q_R) (kappa = 1)
    double[] un = new double[3];
    double z = 0;
    for (int i = 0; i < 3; i++) {
      un[i] = Math.exp(logPi[i]) * Math.exp(2 * q[i]);
      z += un[i];
    }
    double kl = 0;
    for (int i = 0; i < 3; i++) {
      double p = un[i] / z;
      kl += p * (Math.log(p) - logPi[i]);
    }
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      double got = ResidualSoftQLearning.klToPrior(m.create(new double[][] {q}), m.create(new double[][] {logPi}), 0.5,
          0.5);
      assertEquals(kl, got, 1e-6);
      assertEquals(1.0474, kl, 1e-4); // the number itself, so that a change of the formula above shows
      // Q_R = 0 with kappa = 1: the customized policy is the prior, KL 0
      assertEquals(0.0, ResidualSoftQLearning.klToPrior(m.zeros(new Shape(1, 3), ai.djl.ndarray.types.DataType.FLOAT64),
          m.create(new double[][] {logPi}), 0.7, 0.7), 1e-9);
    }
  }

  @Test
  void theStepMovesTheTemperatureTowardsTheBudget() {
    KlBudget b = new KlBudget(0.1, 1, 0.01, 0.01, 1e-3, 1e3);
    assertTrue(b.step(1.0, 0.5) > 1.0, "KL above the budget: a higher temperature, closer to the prior");
    assertTrue(b.step(1.0, 0.01) < 1.0, "KL below: a lower temperature, freer");
    assertEquals(1.0, b.step(1.0, 0.1), 1e-12, "on the budget: no move");
    assertEquals(Math.exp(0.01), b.step(1.0, 1e6), 1e-12, "the log-ratio is clipped at 1");
    assertEquals(1e3, b.step(1e3, 1e6), 0, "clamped above");
    assertEquals(1e-3, b.step(1e-3, 0), 0, "clamped below");
    assertThrows(IllegalArgumentException.class, () -> KlBudget.of(0));
    assertThrows(IllegalArgumentException.class, () -> new KlBudget(0.1, 1, 0.01, 0.01, 1, 0.5));
  }

  /** A fixed batch of 3-action states with a prior that prefers action 1. */
  private static ReplayBuffer.Batch batch() {
    Random rng = new Random(3);
    ReplayBuffer buffer = new ReplayBuffer(128, 2, 3);
    float[] logPi = {(float) Math.log(0.2), (float) Math.log(0.5), (float) Math.log(0.3)};
    for (int i = 0; i < 128; i++) {
      float[] o = {rng.nextFloat() * 2 - 1, rng.nextFloat() * 2 - 1};
      // the add-on pays for action 2; the prior's log-probs of s and s' as the collector stores them
      buffer.add(o, 0, new float[] {i % 3}, 0, i % 3 == 2 ? 1f : 0f, o, 0, false, logPi, 0, logPi, 0);
    }
    return buffer.gather(java.util.stream.IntStream.range(0, 128).toArray());
  }

  private static double klNow(ResidualSoftQLearning learner, ReplayBuffer.Batch b) {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray q = learner.qResidual().forward(m.create(b.observations(), new Shape(b.size(), 2)));
      return ResidualSoftQLearning.klToPrior(q, m.create(b.priorFeatures(), new Shape(b.size(), 3)),
          learner.alphaHat(), learner.priorWeight());
    }
  }

  /**
   * The dual settles where the KL meets the budget, from either side: with a budget above the KL the
   * learner lowers its temperature (more freedom), with one below it raises it (closer to the prior),
   * and both end within 10 % of the budget with w = alphaHat throughout.
   */
  @Test
  void theDualSettlesOnTheBudgetFromBothSides() {
    ReplayBuffer.Batch batch = batch();
    for (double factor : new double[] {3, 1.0 / 3}) {
      ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().toBuilder().optHidden(new int[] {16})
          .optLearningRate(1e-3f).optAlphaHat(1f).optPriorWeight(1f).optSeed(0).build();
      try (ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 2, 3)) {
        for (int i = 0; i < 300; i++) { // Q_R first learns what the add-on pays
          learner.update(batch);
        }
        double before = klNow(learner, batch);
        double budget = before * factor;
        learner.setKlBudget(new KlBudget(budget, 1, 0.02, 0.05, 1e-3, 1e3));
        for (int i = 0; i < 3000; i++) {
          learner.update(batch);
        }
        double after = klNow(learner, batch);
        System.out.printf(java.util.Locale.ROOT, "budget %.4f: alphaHat 1 -> %.4f, KL %.4f -> %.4f%n", budget,
            learner.alphaHat(), before, after);
        assertTrue(factor > 1 ? learner.alphaHat() < 1 : learner.alphaHat() > 1, "moved the right way");
        assertEquals(budget, after, 0.1 * budget, "KL at the end");
        assertEquals(budget, learner.klAverage(), 0.1 * budget, "its moving average");
        assertEquals(learner.alphaHat(), learner.priorWeight(), 1e-12, "w = kappa alphaHat, kappa 1");
        assertEquals(learner.alphaHat(), learner.policyConfig().alphaHat(), 1e-6, "a saved policy records it");
      }
    }
  }

  @Test
  void aCheckpointOfAnotherBudgetIsRefused() throws Exception {
    ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().toBuilder().optHidden(new int[] {8}).build();
    try (ResidualSoftQLearning a = new ResidualSoftQLearning(cfg, 2, 3);
        ResidualSoftQLearning b = new ResidualSoftQLearning(cfg, 2, 3);
        NDManager m = NDManager.newBaseManager("PyTorch")) {
      a.setKlBudget(KlBudget.of(0.1));
      a.update(batch());
      java.util.Map<String, NDArray> tensors = new java.util.HashMap<>();
      for (NDArray t : a.stateTensors(m)) {
        tensors.put(t.getName(), t);
      }
      b.setKlBudget(KlBudget.of(0.2));
      java.io.IOException e = assertThrows(java.io.IOException.class, () -> b.restoreState(tensors, a.stateValues()));
      assertTrue(e.getMessage().contains("0.1 nats") && e.getMessage().contains("0.2 nats"), e.getMessage());
      b.setKlBudget(KlBudget.of(0.1));
      b.restoreState(tensors, a.stateValues());
      assertEquals(a.alphaHat(), b.alphaHat(), 0);
      assertThrows(IllegalArgumentException.class, () -> {
        try (ResidualSoftQLearning noPrior = new ResidualSoftQLearning(cfg.withPriorWeight(0f), 2, 3)) {
          noPrior.setKlBudget(KlBudget.of(0.1));
        }
      });
    }
  }
}
