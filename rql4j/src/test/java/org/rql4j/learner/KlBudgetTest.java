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

/** The KL budget's dual steps on residual soft Q-learning, SAC and PPO (docs/method.md, "A KL budget"). */
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

  /**
   * The share of states whose most likely action moved, by hand: prior (0.9, 0.1) in two states; Q_R = (0, 0)
   * keeps the prior's action, Q_R = (0, 5) turns it (log 0.1 + 5 > log 0.9 at w = alphaHat = 1), and at
   * alphaHat = w = 10 the same Q_R does not (log 0.1 + 0.5 < log 0.9).
   */
  @Test
  void theShareOfStatesWhoseGreedyActionMovedByHand() {
    DjlRuntime.configure();
    double[][] logPi = {{Math.log(0.9), Math.log(0.1)}, {Math.log(0.9), Math.log(0.1)}};
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray q = m.create(new double[][] {{0, 0}, {0, 5}});
      assertEquals(0.5, ResidualSoftQLearning.greedyMoved(q, m.create(logPi), 1, 1), 0);
      assertEquals(0.0, ResidualSoftQLearning.greedyMoved(q, m.create(logPi), 10, 10), 0);
      assertEquals(1.0, ResidualSoftQLearning.greedyMoved(m.create(new double[][] {{0, 3}, {0, 5}}), m.create(logPi),
          1, 1), 0);
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

  /** A measure of the customized policy on the batch's states with the learner's weights now. */
  private interface Measure {
    double of(NDArray qResidual, NDArray logPrior, double alphaHat, double priorWeight);
  }

  private static double now(ResidualSoftQLearning learner, ReplayBuffer.Batch b, Measure measure) {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray q = learner.qResidual().forward(m.create(b.observations(), new Shape(b.size(), 2)));
      return measure.of(q, m.create(b.priorFeatures(), new Shape(b.size(), 3)), learner.alphaHat(),
          learner.priorWeight());
    }
  }

  private static double klNow(ResidualSoftQLearning learner, ReplayBuffer.Batch b) {
    return now(learner, b, ResidualSoftQLearning::klToPrior);
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
        double moved = learner.budgetGreedyMoved();
        assertTrue(moved >= 0 && moved <= 1, "a share of states: " + moved);
        assertEquals(learner.alphaHat(), learner.policyConfig().alphaHat(), 1e-6, "a saved policy records it");
      }
    }
  }

  /** The share of the batch's states whose most likely action is not the prior's, with the learner's weights now. */
  private static double movedNow(ResidualSoftQLearning learner, ReplayBuffer.Batch b) {
    return now(learner, b, ResidualSoftQLearning::greedyMoved);
  }

  /**
   * A greedy share bounds the deterministic policy beside the KL: with a budget three times the KL (which alone
   * lowers the temperature, as above) and a share a third of the states that moved, the dual raises the
   * temperature instead, until about that share is left; the KL ends below its budget.
   */
  @Test
  void aGreedyShareHoldsTheDeterministicPolicyWhereTheBudgetAloneWouldNot() {
    ReplayBuffer.Batch batch = batch();
    ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().toBuilder().optHidden(new int[] {16})
        .optLearningRate(1e-3f).optAlphaHat(1f).optPriorWeight(1f).optSeed(0).build();
    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 2, 3)) {
      for (int i = 0; i < 300; i++) {
        learner.update(batch);
      }
      double kl = klNow(learner, batch);
      double moved = movedNow(learner, batch);
      assertTrue(moved > 0.5, "the add-on turned the most likely action in most states: " + moved);
      KlBudget budget = new KlBudget(3 * kl, 1, 0.02, 0.05, 1e-3, 1e3).withGreedyShare(moved / 3);
      learner.setKlBudget(budget);
      for (int i = 0; i < 3000; i++) {
        learner.update(batch);
      }
      double after = movedNow(learner, batch);
      System.out.printf(java.util.Locale.ROOT, "share %.3f: alphaHat 1 -> %.4f, moved %.3f -> %.3f (avg %.3f), KL %.4f"
          + " -> %.4f (budget %.4f)%n", budget.greedyShare(), learner.alphaHat(), moved, after,
          learner.budgetGreedyMoved(), kl, klNow(learner, batch), budget.nats());
      assertTrue(learner.alphaHat() > 1, "the share raised the temperature: " + learner.alphaHat());
      assertTrue(after <= 1.5 * budget.greedyShare(), "about the share is left: " + after);
      assertTrue(klNow(learner, batch) < budget.nats(), "the KL within its budget");
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
      b.setKlBudget(KlBudget.of(0.1).withGreedyShare(0.05));
      e = assertThrows(java.io.IOException.class, () -> b.restoreState(tensors, a.stateValues()));
      assertTrue(e.getMessage().contains("greedy share 0.05"), e.getMessage());
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

  @Test
  void theDefaultBudgetGrowsWithTheCubeRootOfTheActionDimensions() {
    double d = KlBudget.DEFAULT_NATS;
    assertEquals(d, KlBudget.defaultFor(new org.rql4j.env.Space.Discrete(3, 0)).nats(), 1e-12, "Discrete: one dimension");
    assertEquals(0.18, KlBudget.defaultFor(box(6)).nats(), 0, "a Box of 6: 0.1 * 6^(1/3) = 0.1817, rounded");
    assertEquals(0.1, KlBudget.defaultFor(box(1)).nats(), 0);
    assertEquals(0.2, KlBudget.defaultFor(box(8)).nats(), 0);
    assertEquals(1.0, KlBudget.defaultFor(new org.rql4j.env.Space.Discrete(2, 0)).kappa(), 0);
    assertEquals(0.14, KlBudget.defaultFor(box(3)).nats(), 0, "a round number: budgets are compared exactly");
    assertEquals(1.0, KlBudget.defaultFor(box(3)).priorTemperature(), 0, "against the prior itself");
  }

  private static org.rql4j.env.Space.Box box(int n) {
    double[] high = new double[n];
    java.util.Arrays.fill(high, 1);
    return new org.rql4j.env.Space.Box(new long[] {n}, org.rql4j.env.DType.FLOAT32, new double[n], high);
  }

  /** Up to a median gap of 3 nats the prior is its own reference; above, it is flattened to a gap of about 3. */
  @Test
  void aSurePriorIsFlattenedToAMedianGapOfThreeNats() {
    assertEquals(1.0, KlBudget.priorTemperatureFor(1.87), 0, "the soft-DQN CartPole prior");
    assertEquals(1.0, KlBudget.priorTemperatureFor(3.0), 0);
    assertEquals(4.1, KlBudget.priorTemperatureFor(12.27), 0, "the behaviour-cloned one: two digits, exactly 4.1");
    assertEquals(1.0, KlBudget.priorTemperatureFor(Double.NaN), 0);
    assertEquals(1.0, KlBudget.priorTemperatureFor(Double.POSITIVE_INFINITY), 0, "a deterministic prior: no finite T");
    // log_softmax(log pi / T), by hand for pi = (0.9, 0.1), T = 2: pi_T ∝ (0.9^0.5, 0.1^0.5) = (0.9487, 0.3162)
    float[] lp = {(float) Math.log(0.9), (float) Math.log(0.1), (float) Math.log(0.5), (float) Math.log(0.5)};
    KlBudget.of(0.1).withPriorTemperature(2).temperPrior(lp, 2);
    assertEquals(0.9487 / (0.9487 + 0.3162), Math.exp(lp[0]), 1e-4);
    assertEquals(0.3162 / (0.9487 + 0.3162), Math.exp(lp[1]), 1e-4);
    assertEquals(0.5, Math.exp(lp[2]), 1e-7, "a uniform row stays uniform");
    float[] same = {-0.1f, -2.3f};
    assertTrue(same == KlBudget.of(0.1).temperPrior(same, 2) && same[0] == -0.1f, "T = 1: untouched");
  }

  /**
   * Under a budget with prior temperature T the learner customizes pi_T (its stored prior features are
   * tempered) and a saved policy, which composes the prior itself, gets w / T: both give the same pi_hat.
   */
  @Test
  void aFlattenedPriorGivesTheSamePolicyWhenSaved() {
    ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().toBuilder().optHidden(new int[] {8}).optSeed(1).build();
    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 2, 3);
        NDManager m = NDManager.newBaseManager("PyTorch")) {
      learner.setKlBudget(KlBudget.of(0.1).withPriorTemperature(4));
      float[] obs = {0.3f, -0.7f};
      float[] logPi = {(float) Math.log(0.97), (float) Math.log(0.02), (float) Math.log(0.01)};
      org.rql4j.prior.PriorPolicy prior = org.mockito.Mockito.mock(org.rql4j.prior.PriorPolicy.class);
      org.mockito.Mockito.when(prior.logProbsAll(org.mockito.ArgumentMatchers.any()))
          .thenAnswer(inv -> ((NDArray) inv.getArgument(0)).getManager().create(logPi.clone(), new Shape(1, 3)));
      org.mockito.Mockito.when(prior.outputs(org.mockito.ArgumentMatchers.any(), org.mockito.ArgumentMatchers.any(),
          org.mockito.ArgumentMatchers.anyInt())).thenAnswer(inv -> logPi.clone()); // the training loops' query
      float[] features = learner.priorFeatures(prior, obs, 1);
      assertEquals(Math.pow(0.97, 0.25) / (Math.pow(0.97, 0.25) + Math.pow(0.02, 0.25) + Math.pow(0.01, 0.25)),
          Math.exp(features[0]), 1e-6, "the stored prior is pi^(1/4), renormalized");
      NDArray q = learner.qResidual().forward(m.create(obs, new Shape(1, 2)));
      float[] inside = ResidualSoftQLearning.customizedLogits(q, m.create(features, new Shape(1, 3)),
          learner.alphaHat(), learner.priorWeight()).logSoftmax(1).toFloatArray();
      ResidualSoftQConfig saved = learner.policyConfig();
      assertEquals(learner.priorWeight() / 4, saved.priorWeight(), 1e-6, "w / T against the prior itself");
      float[] outside = ResidualSoftQLearning.customizedLogits(q, m.create(logPi, new Shape(1, 3)), saved.alphaHat(),
          saved.priorWeight()).logSoftmax(1).toFloatArray();
      for (int a = 0; a < 3; a++) {
        assertEquals(inside[a], outside[a], 1e-5, "log pi_hat of action " + a);
      }
    }
  }

  /**
   * Under a budget, residual SAC starts its actor as a copy of an SB3 SAC prior (the shipped Pendulum one,
   * a real TorchScript export) with the same widths: the same Gaussian, KL 0, no imitation; other widths,
   * or a prior of another layout (the shipped MountainCar one, a gSDE actor), are refused by name.
   */
  @Test
  void sacStartsItsActorAsACopyOfAnSb3SacPrior() throws Exception {
    java.nio.file.Path priors = java.nio.file.Path.of(System.getProperty("rql4j.project.dir", "."), "examples/priors");
    try (org.rql4j.prior.TorchScriptPrior prior = org.rql4j.prior.TorchScriptPrior.load(
        priors.resolve("pendulum-lowtorque-sac"));
        org.rql4j.prior.TorchScriptPrior gsde = org.rql4j.prior.TorchScriptPrior.load(
            priors.resolve("mountaincar-lessleft-sac"))) {
      assertTrue(java.util.Arrays.equals(new int[] {256, 256}, ResidualSac.sb3ActorWidths(prior.namedParameters(), 3, 1)));
      assertEquals(null, ResidualSac.sb3ActorWidths(gsde.namedParameters(), 2, 1), "a gSDE actor is laid out otherwise");
      org.rql4j.env.Space.Box torque = new org.rql4j.env.Space.Box(new long[] {1}, org.rql4j.env.DType.FLOAT32,
          new double[] {-2}, new double[] {2});
      ResidualSacConfig cfg = ResidualSacConfig.builder().optHidden(new int[] {256, 256}).optLearnAlpha(false).build();
      try (ResidualSac sac = new ResidualSac(cfg, 3, torque)) {
        sac.setKlBudget(KlBudget.of(0.1));
        assertTrue(sac.imitating(), "a budget starts by imitating");
        sac.initializeActorFrom(prior);
        assertTrue(!sac.imitating(), "nothing left to imitate");
        float[] obs = {0.3f, -0.95f, 1.5f, 1f, 0f, 0f, -0.2f, 0.98f, -6f};
        float[][] ours = sac.actorDistribution(obs);
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
          org.rql4j.prior.GaussianParams theirs = prior.distribution(m.create(obs, new Shape(3, 3)));
          float[] mean = theirs.mean().toFloatArray();
          float[] logStd = theirs.logStd().toFloatArray();
          for (int i = 0; i < 3; i++) {
            assertEquals(mean[i], ours[0][i], 1e-5 * Math.max(1, Math.abs(mean[i])), "mean " + i);
            assertEquals(logStd[i], ours[1][i], 1e-5 * Math.max(1, Math.abs(logStd[i])), "log-std " + i);
          }
          float[] rows = new float[3 * 2];
          for (int i = 0; i < 3; i++) {
            rows[2 * i] = mean[i];
            rows[2 * i + 1] = logStd[i];
          }
          assertEquals(0, sac.klToPrior(obs, rows), 1e-6, "KL to the prior at the start");
        }
      }
      try (ResidualSac small = new ResidualSac(cfg.toBuilder().optHidden(new int[] {64, 64}).build(), 3, torque)) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> small.initializeActorFrom(prior));
        assertTrue(e.getMessage().contains("[256, 256]") && e.getMessage().contains("[64, 64]"), e.getMessage());
      }
    }
  }

  @Test
  void theBoxLearnersRefuseAFlattenedPrior() {
    ResidualSacConfig sacCfg = ResidualSacConfig.builder().optHidden(new int[] {8}).optLearnAlpha(false).build();
    try (ResidualSac sac = new ResidualSac(sacCfg, 2, box(1))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> sac.setKlBudget(KlBudget.of(0.1).withPriorTemperature(2)));
      assertTrue(e.getMessage().contains("prior temperature"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> sac.setKlBudget(KlBudget.of(0.1).withGreedyShare(0.1)));
      assertTrue(e.getMessage().contains("greedy share") && e.getMessage().contains("residual SAC"), e.getMessage());
    }
    for (double bad : new double[] {0, -0.1, 1.5, Double.POSITIVE_INFINITY}) {
      assertThrows(IllegalArgumentException.class, () -> KlBudget.of(0.1).withGreedyShare(bad));
    }
    assertTrue(KlBudget.of(0.1).withGreedyShare(1).boundsGreedy() && !KlBudget.of(0.1).boundsGreedy());
    assertEquals(KlBudget.of(0.1), KlBudget.of(0.1).withGreedyShare(Double.NaN), "NaN: no share, the same budget");
  }

  /** An action the policy gives probability 0 adds nothing to the KL, and a KL that is not finite moves nothing. */
  @Test
  void zeroProbabilitiesAndNonFiniteKlsAreHandled() {
    DjlRuntime.configure();
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      float ninf = Float.NEGATIVE_INFINITY;
      NDArray logP = m.create(new float[][] {{(float) Math.log(0.5), (float) Math.log(0.5), ninf}});
      NDArray logQ = m.create(new float[][] {{(float) Math.log(0.25), (float) Math.log(0.5), ninf}});
      assertEquals(0.5 * Math.log(2), org.rql4j.prior.Distributions.categoricalKl(logP, logQ).getFloat(0), 1e-6);
    }
    KlBudget.Dual dual = new KlBudget.Dual(KlBudget.of(0.1), 1.0);
    dual.observe(Double.NaN, 1);
    assertEquals(1.0, dual.alphaHat(), 0);
    assertTrue(Double.isNaN(dual.klAverage()));
    dual.observe(0.2, 1);
    assertTrue(dual.alphaHat() > 1.0);
  }

  @Test
  void aTemperatureAtAClampIsSaidSo() {
    assertTrue(KlBudget.clampNote(1e3).contains("upper clamp"));
    assertTrue(KlBudget.clampNote(1e-3).contains("lower clamp"));
    assertEquals("", KlBudget.clampNote(0.5));
  }

  @Test
  void severalStepsAtOnceAreOneLargerStep() {
    KlBudget b = new KlBudget(0.1, 1, 0.01, 0.05, 1e-3, 1e3);
    assertEquals(Math.exp(16 * 0.01), b.step(1.0, 1e6, 16), 1e-12, "16 steps' worth: 16 times the step in log alphaHat");
    assertEquals(b.step(1.0, 0.3), b.step(1.0, 0.3, 1), 0);
    assertEquals(0.5 + (1 - Math.pow(0.95, 16)) * (1.0 - 0.5), b.average(0.5, 1.0, 16), 1e-12,
        "the moving average as after 16 measurements of the same KL");
    assertEquals(0.7, b.average(Double.NaN, 0.7, 16), 0, "the first measurement starts it");
  }

  /** KL of two diagonal Gaussians worked by hand: N((0.5, -1), (0.8, 0.3)^2) to N((0, -0.5), (1, 0.6)^2). */
  @Test
  void theGaussianKlByHand() {
    DjlRuntime.configure();
    double kl = 0;
    double[][] p = {{0.5, 0.8, 0, 1}, {-1, 0.3, -0.5, 0.6}}; // mean, std of pi_hat; mean, std of pi
    for (double[] d : p) {
      kl += Math.log(d[3] / d[1]) + (d[1] * d[1] + (d[0] - d[2]) * (d[0] - d[2])) / (2 * d[3] * d[3]) - 0.5;
    }
    assertEquals(0.8335, kl, 1e-4); // the number itself, so that a change of the formula above shows
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray got = org.rql4j.prior.Distributions.diagGaussianKl(m.create(new float[][] {{0.5f, -1f}}),
          m.create(new float[][] {{(float) Math.log(0.8), (float) Math.log(0.3)}}), m.create(new float[][] {{0f, -0.5f}}),
          m.create(new float[][] {{0f, (float) Math.log(0.6)}}));
      assertEquals(kl, got.getFloat(0), 1e-5);
    }
  }

  /**
   * A fixed batch of Box transitions for SAC: random one-dimensional actions, the add-on pays the
   * action itself (pushing right), every transition terminal (so Q_R is the reward), and a prior
   * N(0, 0.5^2) (pre-tanh) in every state.
   */
  private static ReplayBuffer sacBuffer() {
    return sacBuffer(0f, 0.5f);
  }

  private static ReplayBuffer sacBuffer(float priorMean, float priorStd) {
    Random rng = new Random(5);
    ReplayBuffer buffer = new ReplayBuffer(256, 2, 1, 2);
    float[] prior = {priorMean, (float) Math.log(priorStd)};
    for (int i = 0; i < 256; i++) {
      float[] o = {rng.nextFloat() * 2 - 1, rng.nextFloat() * 2 - 1};
      float a = rng.nextFloat() * 1.98f - 0.99f;
      buffer.add(o, 0, new float[] {a}, 0, a, o, 0, true, prior, 0, prior, 0);
    }
    return buffer;
  }

  /**
   * Residual SAC's dual settles where the closed-form KL meets the budget, from either side, with
   * w = alphaHat throughout; a learned temperature and a learner without the prior refuse a budget.
   */
  @Test
  void sacsDualSettlesOnTheBudgetFromBothSides() {
    ReplayBuffer buffer = sacBuffer();
    ReplayBuffer.Batch all = buffer.gather(java.util.stream.IntStream.range(0, 256).toArray());
    org.rql4j.env.Space.Box box = new org.rql4j.env.Space.Box(new long[] {1}, org.rql4j.env.DType.FLOAT32,
        new double[] {-1}, new double[] {1});
    for (double factor : new double[] {3, 1.0 / 3}) {
      ResidualSacConfig cfg = ResidualSacConfig.builder().optHidden(new int[] {16}).optLearningRate(3e-3f)
          .optBatchSize(128).optGradientSteps(10).optGamma(0.5f).optAlphaHat(1f).optLearnAlpha(false)
          .optPriorWeight(1f).optSeed(0).build();
      try (ResidualSac sac = new ResidualSac(cfg, 2, box)) {
        Random rng = new Random(1);
        for (int i = 0; i < 40; i++) { // Q_R first learns what the add-on pays
          sac.train(buffer, 1000, rng);
        }
        double before = sac.klToPrior(all.observations(), all.priorFeatures());
        double budget = before * factor;
        sac.setKlBudget(new KlBudget(budget, 1, 0.02, 0.05, 1e-3, 1e3));
        double after = 0; // the mean KL over the last 100 rounds: where it settled, not one draw of its noise
        for (int i = 0; i < 600; i++) {
          sac.train(buffer, 1000, rng);
          if (i >= 500) {
            after += sac.klToPrior(all.observations(), all.priorFeatures()) / 100;
          }
        }
        System.out.printf(java.util.Locale.ROOT, "SAC budget %.4f: alphaHat 1 -> %.4f, KL %.4f -> %.4f%n", budget,
            sac.alphaHat(), before, after);
        assertTrue(factor > 1 ? sac.alphaHat() < 1 : sac.alphaHat() > 1, "moved the right way");
        assertEquals(budget, after, 0.1 * budget, "KL at the end (its mean over the last 100 rounds)");
        assertEquals(budget, sac.budgetKl(), 0.2 * budget, "its moving average");
        assertEquals(sac.alphaHat(), sac.priorWeightAt(1000), 1e-12, "w = kappa alphaHat, kappa 1");
      }
    }
    ResidualSacConfig learned = ResidualSacConfig.builder().optHidden(new int[] {8}).optLearnAlpha(true).build();
    try (ResidualSac sac = new ResidualSac(learned, 2, box)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sac.setKlBudget(KlBudget.of(0.1)));
      assertTrue(e.getMessage().contains("alpha_hat auto"), e.getMessage());
    }
    try (ResidualSac sac = new ResidualSac(learned.withPriorWeight(0f).toBuilder().optLearnAlpha(false).build(), 2, box)) {
      assertThrows(IllegalArgumentException.class, () -> sac.setKlBudget(KlBudget.of(0.1)));
    }
  }

  /**
   * A budgeted SAC run starts by imitating the prior: from a random actor far from it, the actor's loss is
   * the KL to the prior, and the temperature waits, until the KL is within the budget; then the dual steps.
   */
  @Test
  void sacImitatesThePriorBeforeItsDualSteps() {
    ReplayBuffer buffer = sacBuffer(1.2f, 0.2f); // a sure prior away from the random actor's N(~0, ~1)
    ReplayBuffer.Batch all = buffer.gather(java.util.stream.IntStream.range(0, 256).toArray());
    org.rql4j.env.Space.Box box = new org.rql4j.env.Space.Box(new long[] {1}, org.rql4j.env.DType.FLOAT32,
        new double[] {-1}, new double[] {1});
    ResidualSacConfig cfg = ResidualSacConfig.builder().optHidden(new int[] {16}).optLearningRate(3e-3f)
        .optBatchSize(128).optGradientSteps(10).optGamma(0.5f).optAlphaHat(0.1f).optLearnAlpha(false)
        .optPriorWeight(0.1f).optSeed(0).build();
    try (ResidualSac sac = new ResidualSac(cfg, 2, box)) {
      sac.setKlBudget(new KlBudget(0.05, 1, 0.02, 0.05, 1e-3, 1e3));
      double start = sac.klToPrior(all.observations(), all.priorFeatures());
      double alpha0 = sac.alphaHat();
      assertTrue(start > 1, "the random actor is far from the prior: KL " + start);
      Random rng = new Random(1);
      int rounds = 0;
      while (sac.imitating() && rounds < 300) {
        sac.train(buffer, 1000, rng);
        rounds++;
        if (sac.imitating()) {
          assertEquals(alpha0, sac.alphaHat(), 0, "the temperature waits while the actor imitates");
        }
      }
      double end = sac.klToPrior(all.observations(), all.priorFeatures());
      System.out.printf(java.util.Locale.ROOT, "SAC imitation: KL %.3f -> %.4f in %d rounds%n", start, end, rounds);
      assertTrue(!sac.imitating() && end < 0.1, "imitated within " + rounds + " rounds: KL " + end);
      com.google.gson.JsonObject v = sac.stateValues();
      assertEquals(false, v.get("kl_budget.imitating").getAsBoolean(), "a checkpoint records the phase");
      for (int i = 0; i < 20; i++) {
        sac.train(buffer, 1000, rng);
      }
      assertTrue(sac.alphaHat() != alpha0, "then the dual steps move the temperature");
    }
  }

  /**
   * Residual PPO's dual on a three-armed bandit (the add-on pays arm 2; a prior (0.2, 0.5, 0.3) in every
   * state): one dual step per update, of the update's size, settles where the exact KL meets the budget,
   * from either side, with w = alphaHat in the shaped reward.
   */
  @Test
  void pposDualSettlesOnTheBudgetFromBothSides() {
    float[] logPi = {(float) Math.log(0.2), (float) Math.log(0.5), (float) Math.log(0.3)};
    int envs = 4;
    int steps = 64;
    for (double factor : new double[] {3, 1.0 / 3}) {
      ResidualPpoConfig cfg = ResidualPpoConfig.defaults().withSchedule(1_000_000, steps, 64, 4, envs)
          .withNetwork(new int[] {16}, 1e-3f, 0f).withSoft(1f, 1f).withSeed(0);
      try (ResidualPpo ppo = new ResidualPpo(cfg, 2, new org.rql4j.env.Space.Discrete(3, 0))) {
        Random rng = new Random(2);
        float[] obs = new float[steps * envs * 2];
        for (int i = 0; i < obs.length; i++) {
          obs[i] = rng.nextFloat() * 2 - 1;
        }
        float[] rows = new float[steps * envs * 3];
        for (int r = 0; r < steps * envs; r++) {
          System.arraycopy(logPi, 0, rows, r * 3, 3);
        }
        double before = Double.NaN;
        double budget = Double.NaN;
        double after = 0;
        for (int u = 0; u < 460; u++) {
          if (u == 60) { // the policy has first learned what the add-on pays
            before = ppo.klToPrior(obs, rows);
            budget = before * factor;
            ppo.setKlBudget(new KlBudget(budget, 1, 0.005, 0.05, 1e-3, 1e3));
          }
          org.rql4j.buffer.RolloutBuffer buf = new org.rql4j.buffer.RolloutBuffer(steps, envs, 2, 1);
          for (int t = 0; t < steps; t++) {
            float[] o = java.util.Arrays.copyOfRange(obs, t * envs * 2, (t + 1) * envs * 2);
            ResidualPpo.Decision d = ppo.act(o, false, rng);
            float[] shaped = new float[envs];
            for (int i = 0; i < envs; i++) {
              int arm = (int) d.actions()[i];
              shaped[i] = (float) ResidualPpo.shapedReward(arm == 2 ? 1 : 0, logPi[arm], d.logProbs()[i],
                  ppo.priorWeight(), ppo.alphaHat(), 0);
            }
            boolean[] done = new boolean[envs];
            java.util.Arrays.fill(done, true); // a bandit: every step ends its episode
            buf.add(o, d.actions(), shaped, d.values(), d.logProbs(), done, new boolean[envs], null);
          }
          buf.computeAdvantages(new float[envs], cfg.gamma(), cfg.gaeLambda());
          ppo.update(buf, rng);
          if (ppo.klBudget() != null) {
            double kl = ppo.klToPrior(obs, rows);
            ppo.dualStep(kl, ppo.gradientStepsPerUpdate(buf.size()));
            if (u >= 360) { // the mean KL over the last 100 updates: where it settled, not one draw of its noise
              after += kl / 100;
            }
          }
        }
        System.out.printf(java.util.Locale.ROOT, "PPO budget %.4f: alphaHat 1 -> %.4f, KL %.4f -> %.4f%n", budget,
            ppo.alphaHat(), before, after);
        assertEquals(16, ppo.gradientStepsPerUpdate(steps * envs), "4 epochs of 256 rows in minibatches of 64");
        assertTrue(factor > 1 ? ppo.alphaHat() < 1 : ppo.alphaHat() > 1, "moved the right way");
        assertEquals(budget, after, 0.1 * budget, "KL at the end (its mean over the last 100 rounds)");
        assertEquals(ppo.alphaHat(), ppo.priorWeight(), 1e-12, "w = kappa alphaHat, kappa 1");
      }
    }
    try (ResidualPpo plain = new ResidualPpo(ResidualPpoConfig.defaults(), 2, new org.rql4j.env.Space.Discrete(3, 0))) {
      assertThrows(IllegalArgumentException.class, () -> plain.setKlBudget(KlBudget.of(0.1)));
    }
  }
}
