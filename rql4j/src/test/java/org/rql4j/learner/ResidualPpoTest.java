package org.rql4j.learner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.rql4j.buffer.RolloutBuffer;
import org.rql4j.env.DType;
import org.rql4j.env.Space;

class ResidualPpoTest {

  private static final Space.Box ONE_D = new Space.Box(new long[] {1}, DType.FLOAT32, new double[] {-1},
      new double[] {1});

  /** Algorithm 4's reward: r + w log pi - alphaHat log pi_theta; KL-regularized: w = alphaHat = beta. */
  @Test
  void shapedRewardAndTheKlSetting() {
    assertEquals(0.5 + 0.1 * -0.7 - 0.2 * -1.1, ResidualPpo.shapedReward(0.5, -0.7, -1.1, 0.1, 0.2, 0), 1e-12);
    assertEquals(0.5 + 0.1 * -0.7 - 0.2 * -1.1 + 0.3, ResidualPpo.shapedReward(0.5, -0.7, -1.1, 0.1, 0.2, 0.3),
        1e-12, "survival bonus");
    assertEquals(0.5, ResidualPpo.shapedReward(0.5, Double.NEGATIVE_INFINITY, -1.1, 0, 0, 0), 0, "plain PPO");
    ResidualPpoConfig kl = ResidualPpoConfig.defaults().klRegularized(0.05f);
    assertEquals(0.05f, kl.alphaHat());
    assertEquals(0.05f, kl.priorWeight());
    assertThrows(IllegalArgumentException.class, () -> ResidualPpoConfig.defaults().withSoft(-1f, 0f));
  }

  /** Box actions: Gaussian samples, their diagonal log-density, clipped to the bounds for the env only. */
  @Test
  void gaussianActionsAndLogProbs() {
    ResidualPpoConfig cfg = ResidualPpoConfig.defaults().withNetwork(new int[] {8}, 3e-4f, 0.5f);
    try (ResidualPpo ppo = new ResidualPpo(cfg, 2, ONE_D)) {
      float[] obs = {0.1f, -0.2f, 0.3f, 0.4f, -1f, 2f};
      ResidualPpo.Decision mean = ppo.act(obs, true, new Random(0));
      ResidualPpo.Decision d = ppo.act(obs, false, new Random(0));
      Random r = new Random(0);
      for (int i = 0; i < 3; i++) {
        double noise = r.nextGaussian();
        double std = Math.exp(0.5);
        assertEquals(mean.actions()[i] + std * noise, d.actions()[i], 1e-5);
        double expectLp = -0.5 * noise * noise - 0.5 - 0.5 * Math.log(2 * Math.PI);
        assertEquals(expectLp, d.logProbs()[i], 1e-5);
        assertEquals(Math.max(-1, Math.min(1, d.actions()[i])), d.envActions()[i], 1e-7);
      }
      assertArrayEquals(ppo.values(obs), d.values(), 1e-6f);
    }
  }

  /**
   * A one-step continuous bandit: reward {@code -(a - 0.6)^2} whatever the state. PPO moves the
   * Gaussian's mean from about 0 to the target and shrinks its std; a learner whose surrogate had
   * the wrong sign would move away.
   */
  @Test
  void ppoSolvesAContinuousBandit() {
    ResidualPpoConfig cfg = ResidualPpoConfig.defaults().withSchedule(20_000, 256, 64, 10, 4)
        .withNetwork(new int[] {16}, 3e-3f, -0.5f).withReturns(0.99f, 0.95f);
    try (ResidualPpo ppo = new ResidualPpo(cfg, 1, ONE_D)) {
      Random rng = new Random(1);
      float[] obs = new float[4];
      float[] first = null;
      for (int iter = 0; iter < 12; iter++) {
        RolloutBuffer buf = new RolloutBuffer(cfg.nSteps(), 4, 1, 1);
        while (!buf.full()) {
          ResidualPpo.Decision d = ppo.act(obs, false, rng);
          float[] rew = new float[4];
          for (int i = 0; i < 4; i++) {
            rew[i] = (float) -Math.pow(d.actions()[i] - 0.6, 2);
          }
          buf.add(obs, d.actions(), rew, d.values(), d.logProbs(), new boolean[] {true, true, true, true},
              new boolean[4], null);
        }
        buf.computeAdvantages(new float[4], cfg.gamma(), cfg.gaeLambda());
        ppo.update(buf, rng);
        if (first == null) {
          first = ppo.act(obs, true, rng).actions();
        }
      }
      float meanAction = ppo.act(new float[] {0f}, true, rng).actions()[0];
      assertEquals(0.6, meanAction, 0.1, "mean action after training (after the first update: " + first[0] + ")");
      assertTrue(ppo.logStd()[0] < -0.7, "std shrinks: log-std " + ppo.logStd()[0]);
    }
  }

  /** A Discrete bandit: action 2 pays 1, the others 0; PPO puts most of its mass on action 2. */
  @Test
  void ppoSolvesADiscreteBandit() {
    ResidualPpoConfig cfg = ResidualPpoConfig.defaults().withSchedule(20_000, 128, 64, 4, 2)
        .withNetwork(new int[] {16}, 3e-3f, 0f);
    try (ResidualPpo ppo = new ResidualPpo(cfg, 1, new Space.Discrete(3, 0))) {
      Random rng = new Random(2);
      float[] obs = new float[2];
      for (int iter = 0; iter < 15; iter++) {
        RolloutBuffer buf = new RolloutBuffer(cfg.nSteps(), 2, 1, 1);
        while (!buf.full()) {
          ResidualPpo.Decision d = ppo.act(obs, false, rng);
          float[] rew = {d.actions()[0] == 2 ? 1f : 0f, d.actions()[1] == 2 ? 1f : 0f};
          buf.add(obs, d.actions(), rew, d.values(), d.logProbs(), new boolean[] {true, true}, new boolean[2], null);
        }
        buf.computeAdvantages(new float[2], cfg.gamma(), cfg.gaeLambda());
        ppo.update(buf, rng);
      }
      int twos = 0;
      for (int i = 0; i < 200; i++) {
        twos += ppo.act(new float[] {0f}, false, rng).actions()[0] == 2 ? 1 : 0;
      }
      assertTrue(twos > 180, "action 2 in " + twos + " of 200 samples");
    }
  }

  /** Chan et al.'s merge equals the two-pass mean and population variance of everything seen (from count 1e-4). */
  @Test
  void runningStatisticsMatchTheDirectComputation() {
    RunningMeanStd rms = new RunningMeanStd(2);
    Random r = new Random(3);
    java.util.List<float[]> rows = new java.util.ArrayList<>();
    for (int batch = 0; batch < 5; batch++) {
      float[] x = new float[2 * (batch + 1)];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) (r.nextGaussian() * (i % 2 == 0 ? 3 : 0.5) + (i % 2 == 0 ? 10 : -2));
      }
      rms.update(x);
      for (int k = 0; k < x.length / 2; k++) {
        rows.add(new float[] {x[2 * k], x[2 * k + 1]});
      }
    }
    for (int d = 0; d < 2; d++) {
      final int dim = d;
      double mean = rows.stream().mapToDouble(v -> v[dim]).sum() / (rows.size() + 1e-4);
      // the 1e-4 pseudo-count at mean 0 / variance 1 weighs in: check against the exact merge of the prior state
      double m = rows.stream().mapToDouble(v -> v[dim]).average().orElseThrow();
      double v = rows.stream().mapToDouble(x -> (x[dim] - m) * (x[dim] - m)).sum() / rows.size();
      double n = rows.size();
      double total = n + 1e-4;
      double wantMean = m * n / total;
      double wantVar = (1.0 * 1e-4 + v * n + m * m * 1e-4 * n / total) / total;
      assertEquals(wantMean, rms.mean(dim), 1e-9);
      assertEquals(mean, rms.mean(dim), 1e-9);
      assertEquals(wantVar, rms.var(dim), 1e-9);
    }
    assertEquals(15 + 1e-4, rms.count(), 1e-12);
    float[] z = rms.normalize(new float[] {1000f, -2f}, 1e-8, 10);
    assertEquals(10f, z[0], "clipped at +10");
    assertEquals((-2 - rms.mean(1)) / Math.sqrt(rms.var(1) + 1e-8), z[1], 1e-5);
  }

  /** SB3 VecNormalize's reward order: update the running return, merge it, divide and clip, zero it at episode ends. */
  @Test
  void rewardScalingFollowsVecNormalize() {
    ResidualPpoConfig cfg = ResidualPpoConfig.defaults().withNetwork(new int[] {4}, 3e-4f, 0f).withReturns(0.9f, 0.95f)
        .withNormalization(false, true);
    try (ResidualPpo ppo = new ResidualPpo(cfg, 2, ONE_D)) {
      RunningMeanStd ref = new RunningMeanStd(1);
      double[] ret = new double[2];
      float[][] rewards = {{1f, -2f}, {0.5f, 3f}, {2f, 2f}, {-1f, 0f}};
      boolean[][] done = {{false, false}, {true, false}, {false, false}, {false, true}};
      for (int t = 0; t < rewards.length; t++) {
        float[] got = ppo.scaleRewards(rewards[t], done[t]);
        for (int i = 0; i < 2; i++) {
          ret[i] = ret[i] * 0.9 + rewards[t][i];
        }
        ref.update(new float[] {(float) ret[0], (float) ret[1]});
        for (int i = 0; i < 2; i++) {
          double want = Math.max(-10, Math.min(10, rewards[t][i] / Math.sqrt(ref.var(0) + 1e-8)));
          assertEquals(want, got[i], 1e-6, "t " + t + " copy " + i);
          if (done[t][i]) {
            ret[i] = 0;
          }
        }
      }
    }
    try (ResidualPpo plain = new ResidualPpo(ResidualPpoConfig.defaults(), 2, ONE_D)) {
      float[] r = {1f, 2f};
      assertTrue(r == plain.scaleRewards(r, new boolean[2]), "off: the rewards as they are");
    }
  }

  /** Observation normalization reaches the networks; a saved state restores networks, Adam and statistics exactly. */
  @Test
  void normalizedInputsAndTheStateRoundTrip() throws Exception {
    ResidualPpoConfig cfg = ResidualPpoConfig.defaults().withSchedule(64, 8, 4, 2, 2)
        .withNetwork(new int[] {8}, 1e-2f, 0f).withNormalization(true, true);
    float[] obs = {5f, 100f, -5f, 80f};
    try (ResidualPpo a = new ResidualPpo(cfg, 2, ONE_D); ResidualPpo b = new ResidualPpo(cfg, 2, ONE_D)) {
      float[] before = a.act(obs, true, new Random(0)).actions();
      a.observe(obs);
      a.observe(new float[] {1f, 90f, 3f, 110f});
      float[] in = a.networkInput(obs);
      assertTrue(Math.abs(in[1]) < 3 && Math.abs(in[3]) < 3, java.util.Arrays.toString(in));
      assertTrue(before[0] != a.act(obs, true, new Random(0)).actions()[0], "the networks see normalized inputs");
      a.scaleRewards(new float[] {1f, 2f}, new boolean[] {false, true});
      // one update so that Adam has moments
      RolloutBuffer buf = new RolloutBuffer(4, 2, 2, 1);
      Random r = new Random(1);
      for (int t = 0; t < 4; t++) {
        ResidualPpo.Decision d = a.act(obs, false, r);
        buf.add(a.networkInput(obs), d.actions(), new float[] {1f, -1f}, d.values(), d.logProbs(),
            new boolean[2], new boolean[2], null);
      }
      buf.computeAdvantages(a.values(obs), 0.99f, 0.95f);
      a.update(buf, r);
      byte[] bytes = StateCopy.tensors(a); // as a checkpoint: learner.safetensors and the learner_state values
      StateCopy.restore(b, bytes, a);
      assertArrayEquals(a.act(obs, true, new Random(0)).actions(), b.act(obs, true, new Random(0)).actions());
      assertArrayEquals(a.values(obs), b.values(obs));
      assertArrayEquals(a.logStd(), b.logStd());
      assertArrayEquals(a.scaleRewards(new float[] {1f, 2f}, new boolean[2]),
          b.scaleRewards(new float[] {1f, 2f}, new boolean[2]));
      assertEquals(a.optimizerSteps(), b.optimizerSteps());
      // Adam's moments came back too: the same update from both gives the same networks
      a.update(buf, new Random(5));
      b.update(buf, new Random(5));
      assertArrayEquals(a.act(obs, true, new Random(0)).actions(), b.act(obs, true, new Random(0)).actions());
      assertArrayEquals(a.values(obs), b.values(obs));
      // a state of another config's shape is refused
      try (ResidualPpo other = new ResidualPpo(cfg.withNetwork(new int[] {16}, 1e-2f, 0f), 2, ONE_D)) {
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> StateCopy.restore(other, bytes, a));
        assertTrue(e.getMessage().contains("policy.0.weight") && e.getMessage().contains("the network needs"),
            e.getMessage());
      }
    }
    assertThrows(IllegalArgumentException.class,
        () -> ResidualPpoConfig.defaults().withNormalization(true, false).withInitFromPrior(true));
  }

  @Test
  void aSavedPolicyLoadsAloneAndActsAsTheLearner(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
      throws Exception {
    ResidualPpoConfig cfg = ResidualPpoConfig.defaults().withNetwork(new int[] {8}, 1e-2f, -0.3f)
        .withNormalization(true, false);
    float[] obs = {5f, 100f};
    org.rql4j.env.Tensor o = org.rql4j.env.Tensor.ofFloats(obs);
    try (ResidualPpo box = new ResidualPpo(cfg, 2, ONE_D);
        ResidualPpo discrete = new ResidualPpo(cfg.withNormalization(false, false), 2,
            new org.rql4j.env.Space.Discrete(3, 1))) {
      box.observe(new float[] {5f, 100f, -5f, 80f}); // normalization statistics travel with the policy
      for (ResidualPpo learner : new ResidualPpo[] {box, discrete}) {
        java.nio.file.Path dir = tmp.resolve(learner == box ? "box" : "discrete");
        org.rql4j.policy.SavablePolicy live = learner.savablePolicy(0);
        live.save(dir);
        try (org.rql4j.policy.SavablePolicy loaded = Policies.load(dir)) {
          assertTrue(loaded instanceof PpoPolicy);
          org.rql4j.env.Tensor a = (org.rql4j.env.Tensor) live.act(o, true);
          org.rql4j.env.Tensor b = (org.rql4j.env.Tensor) loaded.act(o, true);
          assertEquals(a, b);
        }
      }
      // the weights under state_dict names: policy.0.weight ... and the Gaussian's log_std
      try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager("PyTorch")) {
        java.util.Map<String, ai.djl.ndarray.NDArray> t = Mlp.readSafetensors(tmp.resolve("box/policy.safetensors"), m);
        assertEquals(java.util.Set.of("policy.0.weight", "policy.0.bias", "policy.2.weight", "policy.2.bias",
            "log_std"), t.keySet());
        assertArrayEquals(box.logStd(), t.get("log_std").toFloatArray());
      }
    }
  }
}
