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
    assertEquals(0.5 + 0.1 * -0.7 - 0.2 * -1.1, ResidualPpo.shapedReward(0.5, -0.7, -1.1, 0.1, 0.2), 1e-12);
    assertEquals(0.5, ResidualPpo.shapedReward(0.5, Double.NEGATIVE_INFINITY, -1.1, 0, 0), 0, "plain PPO");
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
}
