package org.rql4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.bridge.EnvClient;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.PythonServer;
import org.rql4j.bridge.RemoteVectorEnv;
import org.rql4j.env.DType;
import org.rql4j.env.Space;
import org.rql4j.learner.ResidualPpo;
import org.rql4j.learner.ResidualPpoConfig;
import org.rql4j.prior.TorchScriptPrior;

/**
 * PPO's checkpoints over the real bridge (a dead env server saves the last whole rollout, a new
 * server resumes it to the end), and pi_theta initialized from a real exported SB3 PPO prior.
 */
class PpoCheckpointIT {

  private static final Path ROOT = Path.of(System.getProperty("rql4j.project.dir", "."));

  /** 8 CartPole copies x 32 steps per rollout, 2 epochs of 2 minibatches: 4 Adam steps per rollout. */
  private static ResidualPpoConfig config() {
    return ResidualPpoConfig.defaults().withSchedule(1024, 32, 128, 2, 8).withNetwork(new int[] {16}, 1e-3f, 0f)
        .withReturns(0.98f, 0.8f).withSoft(0.01f, 0f).withNormalization(true, true);
  }

  /** The real env, whose step fails (as a dead server's would) from env step {@code failAt} on. */
  private record FailingEnv(RemoteVectorEnv env, long failAt, long[] steps) implements org.rql4j.env.VectorEnv {
    @Override
    public String envId() {
      return env.envId();
    }

    @Override
    public int numEnvs() {
      return env.numEnvs();
    }

    @Override
    public Space observationSpace() {
      return env.observationSpace();
    }

    @Override
    public Space actionSpace() {
      return env.actionSpace();
    }

    @Override
    public org.rql4j.env.AutoresetMode autoresetMode() {
      return env.autoresetMode();
    }

    @Override
    public org.rql4j.env.VectorReset reset(org.rql4j.env.ResetRequest request) {
      return env.reset(request);
    }

    @Override
    public org.rql4j.env.VectorStep step(org.rql4j.env.Value actions) {
      if (steps[0] >= failAt) {
        throw new org.rql4j.bridge.BridgeException("the env server went away (test)");
      }
      steps[0] += numEnvs();
      return env.step(actions);
    }

    @Override
    public void close() {
      env.close();
    }
  }

  @Test
  void anInterruptionMidRolloutSavesTheLastBoundaryAndSaysHowToResume(@TempDir Path tmp) throws Exception {
    ResidualPpoConfig cfg = config();
    Checkpointing ck = new Checkpointing(tmp.resolve("ckpt"), 100_000, true);
    try (PythonServer server = PythonServer.start(); EnvClient c = server.client();
        RemoteVectorEnv real = c.make(EnvSpec.builder("CartPole-v1").optNumEnvs(8).build());
        ResidualPpo ppo = new ResidualPpo(cfg, 4, real.actionSpace())) {
      Interruption.request(); // an earlier request, made while no loop ran, is forgotten when a loop starts
      // as a Ctrl-C would: a request during the third rollout (17 of its steps taken)
      FailingEnv env = new FailingEnv(real, Long.MAX_VALUE, new long[1]);
      long[] steps = env.steps();
      org.rql4j.env.VectorEnv interrupting = new org.rql4j.env.VectorEnv() {
        public String envId() { return env.envId(); }
        public int numEnvs() { return env.numEnvs(); }
        public Space observationSpace() { return env.observationSpace(); }
        public Space actionSpace() { return env.actionSpace(); }
        public org.rql4j.env.AutoresetMode autoresetMode() { return env.autoresetMode(); }
        public org.rql4j.env.VectorReset reset(org.rql4j.env.ResetRequest r) { return env.reset(r); }
        public org.rql4j.env.VectorStep step(org.rql4j.env.Value a) {
          if (steps[0] == 512 + 17 * 8) {
            Interruption.request();
          }
          return env.step(a);
        }
        public void close() { env.close(); }
      };
      TrainingException e = assertThrows(TrainingException.class,
          () -> OnPolicyTraining.run(interrupting, null, ppo, p -> { }, ck));
      assertTrue(e.getMessage().contains("interrupted at env step 512") && e.getMessage().contains("saved in "
          + ck.dir()) && e.getMessage().contains("--resume"), e.getMessage());
      assertEquals(512, TrainingCheckpoint.savedStep(ck.dir()), "the last whole rollout");
      assertTrue(!Interruption.trainingActive());
    } finally {
      Interruption.clear();
    }
  }

  @Test
  void anEnvFailureMidRolloutSavesTheLastBoundaryAndTheRunResumesToItsEnd(@TempDir Path tmp) throws Exception {
    ResidualPpoConfig cfg = config();
    // no periodic save before the failure: what the folder holds is the failure's save
    Checkpointing ck = new Checkpointing(tmp.resolve("ckpt"), 100_000, true);
    float[] probe = {0.01f, 0.2f, -0.03f, 0.1f, 0.02f, -0.1f, 0.04f, 0.3f};
    float[][] atBoundary = new float[1][];
    long[] adamAtBoundary = new long[1];
    try (PythonServer server = PythonServer.start(); EnvClient c = server.client()) {
      try (RemoteVectorEnv real = c.make(EnvSpec.builder("CartPole-v1").optNumEnvs(8).build());
          ResidualPpo ppo = new ResidualPpo(cfg, 4, real.actionSpace())) {
        FailingEnv env = new FailingEnv(real, 512 + 17 * 8, new long[1]); // 17 steps into the third rollout
        TrainingException e = assertThrows(TrainingException.class,
            () -> OnPolicyTraining.run(env, null, ppo, p -> {
              if (p.step() == 512) {
                atBoundary[0] = ppo.values(probe); // continuous in the normalized input (argmax actions barely move)
                adamAtBoundary[0] = ppo.optimizerSteps();
              }
            }, ck));
        assertEquals(512, e.step());
        assertTrue(e.getMessage().contains("saved in " + ck.dir()) && e.getMessage().contains("--resume"),
            e.getMessage());
        // the live learner has moved on (observation statistics over 17 more steps); the save has not
        assertTrue(!java.util.Arrays.equals(atBoundary[0], ppo.values(probe)));
      }
      assertEquals(512, TrainingCheckpoint.savedStep(ck.dir()));
      try (RemoteVectorEnv env = c.make(EnvSpec.builder("CartPole-v1").optNumEnvs(8).build())) {
        try (ResidualPpo reloaded = new ResidualPpo(cfg, 4, env.actionSpace())) {
          OnPolicyCheckpoint.Restored r = OnPolicyCheckpoint.load(ck.dir(), reloaded, "CartPole-v1", null);
          assertEquals(512, r.loop().step());
          assertTrue(r.loop().episodes() > 0);
          assertArrayEquals(atBoundary[0], reloaded.values(probe),
              "networks and observation statistics as the boundary left them");
          assertEquals(adamAtBoundary[0], reloaded.optimizerSteps());
        }
        try (ResidualPpo other = new ResidualPpo(cfg.withSoft(0.02f, 0f), 4, env.actionSpace())) {
          IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
              () -> OnPolicyTraining.run(env, null, other, p -> {}, ck));
          assertTrue(e.getMessage().contains("alphaHat"), e.getMessage());
          assertThrows(IllegalArgumentException.class, () -> OnPolicyCheckpoint.checkResumable(ck.dir(),
              other.config(), "CartPole-v1", null));
        }
        try (ResidualPpo ppo = new ResidualPpo(cfg, 4, env.actionSpace())) {
          long[] first = {-1, -1};
          OnPolicyTraining.Progress last = OnPolicyTraining.run(env, null, ppo, p -> {
            if (first[0] < 0) {
              first[0] = p.step();
              first[1] = ppo.optimizerSteps();
            }
          }, ck);
          assertEquals(768, first[0], "resumed after step 512");
          assertEquals(8 + 4, first[1], "the restored Adam count plus one rollout's 4 steps");
          assertEquals(1024, last.step());
          assertEquals(16, ppo.optimizerSteps());
          assertTrue(last.trainSeconds() > 0);
          // a finished checkpoint resumed again: nothing to train, its counters back
          OnPolicyTraining.Progress again = OnPolicyTraining.run(env, null, ppo, p -> {
            throw new AssertionError("no rollout after the end");
          }, ck);
          assertEquals(1024, again.step());
          assertTrue(Double.isNaN(again.losses().loss()));
        }
      }
    }
  }

  @Test
  void piThetaStartsAsTheExportedPpoPrior() {
    Space.Box box = new Space.Box(new long[] {6}, DType.FLOAT32, new double[] {-1, -1, -1, -1, -1, -1},
        new double[] {1, 1, 1, 1, 1, 1});
    ResidualPpoConfig cfg = ResidualPpoConfig.mujoco().withSoft(0.1f, 0.1f).withInitFromPrior(true);
    try (TorchScriptPrior prior = TorchScriptPrior.load(ROOT.resolve("examples/priors/halfcheetah-speedcap-ppo"));
        ResidualPpo ppo = new ResidualPpo(cfg, 17, box);
        ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager("PyTorch")) {
      float[] obs = new float[3 * 17];
      Random r = new Random(4);
      for (int i = 0; i < obs.length; i++) {
        obs[i] = (float) r.nextGaussian();
      }
      float[] before = ppo.act(obs, true, new Random(0)).actions();
      ppo.initializePolicyFrom(prior);
      float[] mean = ppo.act(obs, true, new Random(0)).actions();
      float[] want = prior.distribution(m.create(obs, new ai.djl.ndarray.types.Shape(3, 17))).mean().toFloatArray();
      assertArrayEquals(want, mean, 1e-5f);
      assertTrue(Math.abs(before[0] - want[0]) > 1e-3, "a fresh policy is not the prior");
      float[] priorLogStd = prior.namedParameters().get("log_std");
      assertArrayEquals(priorLogStd, ppo.logStd(), 0f);
    }
    // another width, or a squashed (SAC) prior: refused, saying what to do
    try (TorchScriptPrior prior = TorchScriptPrior.load(ROOT.resolve("examples/priors/halfcheetah-speedcap-ppo"));
        ResidualPpo ppo = new ResidualPpo(cfg.withNetwork(new int[] {32, 32}, 3e-4f, 0f), 17, box)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ppo.initializePolicyFrom(prior));
      assertTrue(e.getMessage().contains("latent.0.weight") && e.getMessage().contains("hidden widths"),
          e.getMessage());
    }
    Space.Box one = new Space.Box(new long[] {1}, DType.FLOAT32, new double[] {-1}, new double[] {1});
    try (TorchScriptPrior sac = TorchScriptPrior.load(ROOT.resolve("examples/priors/mountaincar-lessleft-sac"));
        ResidualPpo ppo = new ResidualPpo(cfg, 2, one)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ppo.initializePolicyFrom(sac));
      assertTrue(e.getMessage().contains("SQUASHED_GAUSSIAN") && e.getMessage().contains("from scratch"),
          e.getMessage());
    }
  }
}
