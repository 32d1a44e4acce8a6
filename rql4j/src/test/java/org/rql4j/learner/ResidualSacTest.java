package org.rql4j.learner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.env.DType;
import org.rql4j.env.Space;
import org.rql4j.runtime.DjlRuntime;

class ResidualSacTest {

  private static final Space.Box ONE_D = new Space.Box(new long[] {1}, DType.FLOAT32, new double[] {-1},
      new double[] {1});

  /** docs/method.md, Algorithm 2 test vector (float64, 1e-9). */
  @Test
  void algorithmTwoTestVector() {
    DjlRuntime.configure();
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray y = ResidualSac.softTarget(m.create(new double[] {0.3}), m.create(new double[] {1.0}),
          m.create(new double[] {1.2}), m.create(new double[] {0.9}), m.create(new double[] {-0.7}),
          m.create(new double[] {-1.1}), 0.95, 0.2, 0.1);
      assertEquals(1.2975, y.getDouble(0), 1e-9);
      NDArray swapped = ResidualSac.softTarget(m.create(new double[] {0.3}), m.create(new double[] {1.0}),
          m.create(new double[] {0.9}), m.create(new double[] {1.2}), m.create(new double[] {-0.7}),
          m.create(new double[] {-1.1}), 0.95, 0.2, 0.1);
      assertEquals(1.2975, swapped.getDouble(0), 1e-9, "the minimum of the two critics, whichever it is");
      NDArray terminal = ResidualSac.softTarget(m.create(new double[] {0.3}), m.create(new double[] {0.0}),
          m.create(new double[] {1.2}), m.create(new double[] {0.9}), m.create(new double[] {-0.7}),
          m.create(new double[] {-1.1}), 0.95, 0.2, 0.1);
      assertEquals(0.3, terminal.getDouble(0), 1e-12, "a terminal transition does not bootstrap");
    }
  }

  private static ReplayBuffer buffer(int obsDim, int priorWidth, int n, long seed) {
    return buffer(obsDim, priorWidth, n, seed, 0.1);
  }

  private static ReplayBuffer buffer(int obsDim, int priorWidth, int n, long seed, double terminal) {
    Random r = new Random(seed);
    ReplayBuffer b = new ReplayBuffer(n, obsDim, 1, priorWidth);
    for (int i = 0; i < n; i++) {
      float[] o = new float[obsDim];
      float[] o2 = new float[obsDim];
      for (int k = 0; k < obsDim; k++) {
        o[k] = (float) r.nextGaussian();
        o2[k] = (float) r.nextGaussian();
      }
      float[] p = {(float) r.nextGaussian() * 0.3f, -1f};
      float[] p2 = {(float) r.nextGaussian() * 0.3f, -1f};
      b.add(o, 0, new float[] {(float) (r.nextDouble() * 2 - 1)}, 0, (float) r.nextGaussian(), o2, 0,
          r.nextDouble() < terminal, priorWidth == 0 ? null : p, 0, priorWidth == 0 ? null : p2, 0);
    }
    return b;
  }

  /**
   * The critic update fits the critics (on terminal transitions, whose target is the reward); the
   * target critics move by tau only.
   */
  @Test
  void updatesFitTheCriticAndMoveTargetsByPolyak() {
    ResidualSacConfig cfg = ResidualSacConfig.mountaincar().withSchedule(32, 1, 1, 0).withBufferSize(64)
        .withAlphaHat(0.2f, false);
    try (ResidualSac sac = new ResidualSac(cfg, 2, ONE_D)) {
      ReplayBuffer b = buffer(2, 2, 32, 1, 1.0);
      ReplayBuffer.Batch batch = b.gather(java.util.stream.IntStream.range(0, 32).toArray());
      Random r = new Random(0);
      float[] e1 = sac.noise(32, r);
      float[] e2 = sac.noise(32, r);
      float[] targetBefore = sac.critics().get(2).exportWeights().get(0);
      float[] onlineBefore = sac.critics().get(0).exportWeights().get(0);
      double first = sac.update(batch, e1, e2, 0.1).criticLoss();
      float[] onlineAfter = sac.critics().get(0).exportWeights().get(0);
      float[] targetAfter = sac.critics().get(2).exportWeights().get(0);
      for (int i = 0; i < targetAfter.length; i++) {
        assertEquals(targetBefore[i] + cfg.tau() * (onlineAfter[i] - targetBefore[i]), targetAfter[i], 1e-6);
      }
      assertNotEquals(onlineBefore[0], onlineAfter[0]);
      double last = first;
      for (int i = 0; i < 400; i++) {
        last = sac.update(batch, e1, e2, 0.1).criticLoss();
      }
      assertTrue(last < 0.35 * first, "critic loss " + first + " -> " + last);
      assertEquals(0.2, sac.alphaHat(), 1e-6, "a fixed temperature stays fixed");
    }
  }

  /** A learned temperature falls when the policy's entropy is above the target (here, early on). */
  @Test
  void learnedTemperatureMovesTowardsTheTargetEntropy() {
    ResidualSacConfig cfg = ResidualSacConfig.mountaincar().withSchedule(32, 1, 1, 0).withBufferSize(64)
        .withAlphaHat(1f, true).withPriorWeight(0f);
    try (ResidualSac sac = new ResidualSac(cfg, 2, ONE_D)) {
      assertEquals(0, sac.priorWidth());
      ReplayBuffer b = buffer(2, 0, 32, 2);
      ReplayBuffer.Batch batch = b.gather(java.util.stream.IntStream.range(0, 32).toArray());
      Random r = new Random(0);
      // the actor starts near N(0, 1) pre-tanh: its squashed entropy is far above -dim(A) = -1
      var l = sac.update(batch, sac.noise(32, r), sac.noise(32, r), 0);
      assertEquals(1.0, l.alphaHat(), 1e-6, "the step uses the temperature from before its update");
      assertTrue(sac.alphaHat() < 1.0, "alpha " + sac.alphaHat());
      assertTrue(Math.abs(sac.alphaHat() - Math.exp(-cfg.learningRate())) < 1e-5,
          "Adam's first step moves log alpha by lr: " + sac.alphaHat());
    }
  }

  /**
   * {@code priorMinStd} floors the prior's std in its log-prob: a sure prior (std 0.05) is
   * evaluated with std 0.25, a broader one (std e^-1 = 0.37) exactly; off, the prior is exact.
   */
  @Test
  void priorMinStdFloorsOnlyASurePrior() {
    ResidualSacConfig exact = ResidualSacConfig.mountaincar();
    try (ResidualSac plain = new ResidualSac(exact, 2, ONE_D);
        ResidualSac floored = new ResidualSac(exact.withStabilizers(0f, 0.25f), 2, ONE_D);
        NDManager m = NDManager.newBaseManager()) {
      double u = 1.2;
      double mean = 0.4;
      for (double logStd : new double[] {Math.log(0.05), -1.0}) {
        NDArray rows = m.create(new float[] {(float) mean, (float) logStd}, new ai.djl.ndarray.types.Shape(1, 2));
        NDArray us = m.create(new float[] {(float) u}, new ai.djl.ndarray.types.Shape(1, 1));
        double jacobian = Math.log(1 - Math.tanh(u) * Math.tanh(u) + 1e-6);
        double expectExact = gaussianLogPdf(u, mean, Math.exp(logStd)) - jacobian;
        double expectFloored = gaussianLogPdf(u, mean, Math.max(0.25, Math.exp(logStd))) - jacobian;
        assertEquals(expectExact, plain.priorLogProb(rows, us).getFloat(), 1e-3 * Math.abs(expectExact));
        assertEquals(expectFloored, floored.priorLogProb(rows, us).getFloat(), 1e-4 * Math.abs(expectFloored));
      }
      assertTrue(gaussianLogPdf(u, mean, 0.05) < -100, "the sure prior's log-prob is far below the floored one's");
    }
  }

  private static double gaussianLogPdf(double x, double mean, double std) {
    double z = (x - mean) / std;
    return -0.5 * z * z - Math.log(std) - 0.5 * Math.log(2 * Math.PI);
  }

  /**
   * {@code maxGradNorm} clips each network's gradients before its Adam step. Adam's first step is
   * about {@code lr} per weight whatever the gradient's scale, unless the gradients are far below
   * its epsilon (1e-8): clipped to a norm of 1e-12, neither the critics nor the actor move, while
   * unclipped they move by about {@code lr}. The step reports the norms before clipping.
   */
  @Test
  void maxGradNormClipsTheUpdates() {
    ResidualSacConfig cfg = ResidualSacConfig.mountaincar().withSchedule(32, 1, 1, 0).withBufferSize(64)
        .withAlphaHat(0.2f, false);
    ReplayBuffer.Batch batch = buffer(2, 2, 32, 1, 0.3).gather(java.util.stream.IntStream.range(0, 32).toArray());
    for (float limit : new float[] {0f, 1e-12f}) {
      try (ResidualSac sac = new ResidualSac(cfg.withStabilizers(limit, 0f), 2, ONE_D)) {
        Random r = new Random(0);
        float[] criticBefore = sac.critics().get(0).exportWeights().get(0);
        float[] actorBefore = sac.actor().exportWeights().get(0);
        var l = sac.update(batch, sac.noise(32, r), sac.noise(32, r), 0.1);
        double critic = maxChange(criticBefore, sac.critics().get(0).exportWeights().get(0));
        double actor = maxChange(actorBefore, sac.actor().exportWeights().get(0));
        if (limit == 0f) {
          assertTrue(Double.isNaN(l.criticGradNorm()) && Double.isNaN(l.actorGradNorm()), l.toString());
          assertTrue(critic > 0.5 * cfg.learningRate() && actor > 0.5 * cfg.learningRate(), critic + " " + actor);
        } else {
          assertTrue(l.criticGradNorm() > 1e-3 && l.actorGradNorm() > 1e-3, l.toString());
          assertTrue(critic < 1e-3 * cfg.learningRate() && actor < 1e-3 * cfg.learningRate(), critic + " " + actor);
        }
      }
    }
  }

  private static double maxChange(float[] before, float[] after) {
    double max = 0;
    for (int i = 0; i < before.length; i++) {
      max = Math.max(max, Math.abs(after[i] - before[i]));
    }
    return max;
  }

  /** The actor's gradient reaches the prior's log-prob: the prior pulls the customized policy's mean. */
  @Test
  void priorTermPullsTheActorTowardsThePrior() {
    ResidualSacConfig cfg = ResidualSacConfig.mountaincar().withSchedule(64, 1, 1, 0).withBufferSize(64)
        .withAlphaHat(0.05f, false).withPriorWeight(1f);
    try (ResidualSac sac = new ResidualSac(cfg, 2, ONE_D)) {
      // every state's prior: pre-tanh mean 1.5 (a ~ 0.9), log-std -1; rewards 0
      ReplayBuffer b = new ReplayBuffer(64, 2, 1, 2);
      Random r = new Random(3);
      for (int i = 0; i < 64; i++) {
        float[] o = {(float) r.nextGaussian(), (float) r.nextGaussian()};
        b.add(o, 0, new float[] {0f}, 0, 0f, o, 0, false, new float[] {1.5f, -1f}, 0, new float[] {1.5f, -1f}, 0);
      }
      ReplayBuffer.Batch batch = b.gather(java.util.stream.IntStream.range(0, 64).toArray());
      float[] before = sac.act(batch.observations(), true, r);
      for (int i = 0; i < 300; i++) {
        sac.update(batch, sac.noise(64, r), sac.noise(64, r), 1.0);
      }
      float[] after = sac.act(batch.observations(), true, r);
      double meanBefore = java.util.stream.IntStream.range(0, 64).mapToDouble(i -> before[i]).average().orElseThrow();
      double meanAfter = java.util.stream.IntStream.range(0, 64).mapToDouble(i -> after[i]).average().orElseThrow();
      assertTrue(meanAfter > 0.7 && meanAfter > meanBefore + 0.4, "mean action " + meanBefore + " -> " + meanAfter);
    }
  }

  @Test
  void stateRoundTripsThroughACheckpointSection() throws Exception {
    ResidualSacConfig cfg = ResidualSacConfig.mountaincar().withSchedule(16, 1, 1, 0).withBufferSize(64)
        .withAlphaHat(0.5f, true);
    try (ResidualSac a = new ResidualSac(cfg, 2, ONE_D); ResidualSac b = new ResidualSac(cfg.withSeed(9), 2, ONE_D)) {
      ReplayBuffer buf = buffer(2, 2, 16, 4);
      Random r = new Random(1);
      a.train(buf, 0, r);
      StateCopy.copy(a, b); // as a checkpoint: learner.safetensors and checkpoint.json's learner_state
      assertEquals(a.alphaHat(), b.alphaHat(), 1e-7);
      assertEquals(a.optimizerSteps(), b.optimizerSteps());
      assertArrayEquals(a.actor().exportWeights().get(0), b.actor().exportWeights().get(0));
      for (int i = 0; i < 4; i++) {
        assertArrayEquals(a.critics().get(i).exportWeights().get(2), b.critics().get(i).exportWeights().get(2));
      }
      // the same next steps from the same state and noise
      Random r1 = new Random(5);
      Random r2 = new Random(5);
      for (int k = 0; k < 3; k++) {
        a.train(buf, 1, r1);
        b.train(buf, 1, r2);
      }
      // the temperature's own optimizer state matters from the second step on
      assertEquals(a.alphaHat(), b.alphaHat(), 1e-7);
      assertArrayEquals(a.actor().exportWeights().get(0), b.actor().exportWeights().get(0), 1e-7f);
      for (int i = 0; i < 4; i++) {
        assertArrayEquals(a.critics().get(i).exportWeights().get(0), b.critics().get(i).exportWeights().get(0), 1e-7f);
      }
    }
  }

  @Test
  void refusesUnboundedAndDiscreteActionSpaces() {
    ResidualSacConfig cfg = ResidualSacConfig.mountaincar();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ResidualSac(cfg, 2,
        new Space.Box(new long[] {1}, DType.FLOAT32, new double[] {Double.NEGATIVE_INFINITY},
            new double[] {Double.POSITIVE_INFINITY})));
    assertTrue(e.getMessage().contains("finite Box action bounds"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new ResidualSac(cfg, 2, new Space.Discrete(3, 0)));
    assertTrue(e.getMessage().contains("Box action space"), e.getMessage());
  }

  @Test
  void warmStartMultipliesThePriorWeightEarlyOn() {
    ResidualSacConfig cfg = ResidualSacConfig.parking();
    assertEquals(0.1, cfg.priorWeightAt(0), 1e-6);
    assertEquals(0.1, cfg.priorWeightAt(99_999), 1e-6);
    assertEquals(0.01, cfg.priorWeightAt(100_000), 1e-7);
    assertEquals(0.1, ResidualSacConfig.mountaincar().priorWeightAt(0), 1e-7, "no warm start by default");
    assertEquals(-2.0, cfg.targetEntropy(2), 0);
  }

  /** Updates keep the learner's NDArray count flat: nothing per step outlives the step. */
  @Test
  void updatesLeakNoArrays() {
    ResidualSacConfig cfg = ResidualSacConfig.mountaincar().withSchedule(16, 1, 4, 0).withBufferSize(64)
        .withAlphaHat(0.5f, true);
    try (ResidualSac sac = new ResidualSac(cfg, 2, ONE_D)) {
      ReplayBuffer buf = buffer(2, 2, 16, 6);
      Random r = new Random(2);
      sac.train(buf, 0, r);
      sac.act(new float[] {0.1f, 0.2f}, null, 0, r);
      int live = sac.liveArrays();
      for (int i = 0; i < 20; i++) {
        sac.train(buf, i, r);
        sac.act(new float[] {0.1f, 0.2f}, null, i, r);
      }
      assertEquals(live, sac.liveArrays(), "arrays alive after 20 more bursts");
    }
  }

  @Test
  void savedPolicyLoadsAndActsAsTheLearner(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
    Space.Box box = new Space.Box(new long[] {2}, DType.FLOAT32, new double[] {-2, 0}, new double[] {2, 1});
    ResidualSacConfig cfg = ResidualSacConfig.mountaincar().withSchedule(16, 1, 2, 0).withBufferSize(64);
    try (ResidualSac sac = new ResidualSac(cfg, 3, box)) {
      org.rql4j.learner.SacPolicy live = new org.rql4j.learner.SacPolicy(sac, 0);
      live.save(tmp.resolve("policy"));
      try (org.rql4j.learner.SacPolicy loaded = org.rql4j.learner.SacPolicy.load(tmp.resolve("policy"))) {
        org.rql4j.env.Tensor obs = org.rql4j.env.Tensor.ofFloats(new float[] {0.3f, -1f, 2f});
        float[] a = ((org.rql4j.env.Tensor) live.act(obs, true)).toFloatArray();
        float[] b = ((org.rql4j.env.Tensor) loaded.act(obs, true)).toFloatArray();
        assertArrayEquals(a, b, 1e-7f);
        assertTrue(a[0] >= -2 && a[0] <= 2 && a[1] >= 0 && a[1] <= 1, "within the Box bounds");
      }
      // the weights under PyTorch state_dict names, in a standard safetensors file (8-byte header length, JSON)
      byte[] file = java.nio.file.Files.readAllBytes(tmp.resolve("policy/actor.safetensors"));
      long headerLength = java.nio.ByteBuffer.wrap(file, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
      com.google.gson.JsonObject header = com.google.gson.JsonParser.parseString(new String(file, 8, (int) headerLength,
          java.nio.charset.StandardCharsets.UTF_8)).getAsJsonObject();
      assertEquals("[64,3]", header.getAsJsonObject("actor.0.weight").get("shape").toString());
      assertEquals("[4]", header.getAsJsonObject("actor.4.bias").get("shape").toString(), "mean and log-std of 2");
      assertEquals("F32", header.getAsJsonObject("actor.2.weight").get("dtype").getAsString());
      // a folder of the first format (actor.bin) still loads
      java.nio.file.Path old = tmp.resolve("old");
      java.nio.file.Files.createDirectories(old);
      java.nio.file.Files.writeString(old.resolve("policy.json"), java.nio.file.Files.readString(
          tmp.resolve("policy/policy.json")).replace(SacPolicy.FORMAT, SacPolicy.FORMAT_1));
      try (java.io.DataOutputStream out = new java.io.DataOutputStream(java.nio.file.Files.newOutputStream(
          old.resolve("actor.bin")))) {
        Mlp.writeWeights(out, sac.actor().exportWeights());
      }
      try (org.rql4j.policy.SavablePolicy fromOld = Policies.load(old)) {
        org.rql4j.env.Tensor obs = org.rql4j.env.Tensor.ofFloats(new float[] {0.3f, -1f, 2f});
        assertArrayEquals(((org.rql4j.env.Tensor) live.act(obs, true)).toFloatArray(),
            ((org.rql4j.env.Tensor) fromOld.act(obs, true)).toFloatArray(), 1e-7f);
      }
      java.nio.file.Files.writeString(tmp.resolve("policy/policy.json"), "{\"format\": \"other/1\"}");
      java.io.IOException e = assertThrows(java.io.IOException.class,
          () -> org.rql4j.learner.SacPolicy.load(tmp.resolve("policy")));
      assertTrue(e.getMessage().contains("rql4j-sac-policy/1"), e.getMessage());
    }
  }

  /** A prior that is not a squashed Gaussian (here a categorical one) is refused, naming it and what to use. */
  @Test
  void refusesAPriorThatIsNotASquashedGaussian() {
    org.rql4j.prior.PriorSpec categorical = new org.rql4j.prior.PriorSpec("cartpole-softdqn",
        org.rql4j.prior.Distribution.CATEGORICAL, ONE_D, new Space.Discrete(2, 0), 2, "none", null, null, 1.0, "sha",
        java.nio.file.Path.of("examples/priors/cartpole-center-softdqn"), "{}");
    try (ResidualSac sac = new ResidualSac(ResidualSacConfig.mountaincar(), 2, ONE_D)) {
      org.rql4j.prior.PriorException e = assertThrows(org.rql4j.prior.PriorException.class,
          () -> sac.checkPrior(categorical));
      assertTrue(e.getMessage().contains("cartpole-softdqn") && e.getMessage().contains("categorical")
          && e.getMessage().contains("squashed_gaussian"), e.getMessage());
      org.rql4j.prior.PriorSpec otherBounds = new org.rql4j.prior.PriorSpec("wide-sac",
          org.rql4j.prior.Distribution.SQUASHED_GAUSSIAN, ONE_D, ONE_D, 2, "none", new double[] {-2},
          new double[] {2}, Double.NaN, "sha", null, "{}");
      e = assertThrows(org.rql4j.prior.PriorException.class, () -> sac.checkPrior(otherBounds));
      assertTrue(e.getMessage().contains("wide-sac") && e.getMessage().contains("env's Box"), e.getMessage());
    }
    try (ResidualSoftQLearning q = new ResidualSoftQLearning(ResidualSoftQConfig.cartpole(), 2, 2)) {
      org.rql4j.prior.PriorSpec gaussian = new org.rql4j.prior.PriorSpec("mc-sac",
          org.rql4j.prior.Distribution.SQUASHED_GAUSSIAN, ONE_D, ONE_D, 2, "none", new double[] {-1},
          new double[] {1}, Double.NaN, "sha", null, "{}");
      org.rql4j.prior.PriorException e = assertThrows(org.rql4j.prior.PriorException.class,
          () -> q.checkPrior(gaussian));
      assertTrue(e.getMessage().contains("residual SAC"), e.getMessage());
    }
  }

  @Test
  void actionsAreRescaledToTheBoxBounds() {
    assertArrayEquals(new float[] {-2f, 1f, 2f, 1f}, new Space.Box(new long[] {2}, DType.FLOAT32,
        new double[] {-2, 0}, new double[] {2, 2}).fromUnitInterval(new float[] {-1f, 0f, 1f, 0f}), 1e-6f);
    ResidualSacConfig cfg = ResidualSacConfig.mountaincar().withSchedule(8, 1, 1, 100);
    try (ResidualSac sac = new ResidualSac(cfg, 2, ONE_D)) {
      var acts = sac.act(new float[] {0, 0, 1, 1}, null, 0, new Random(0));
      assertEquals(2, acts.stored().length);
      for (float a : acts.stored()) {
        assertTrue(a >= -1 && a <= 1);
      }
    }
  }

}
