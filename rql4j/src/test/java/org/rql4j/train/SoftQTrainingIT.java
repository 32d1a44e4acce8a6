package org.rql4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.GrpcVectorEnv;
import org.rql4j.bridge.PythonServer;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.learner.ResidualSoftQLearning;
import org.rql4j.learner.TorchAdam;
import org.rql4j.prior.PriorException;
import org.rql4j.prior.TorchScriptPrior;

/** The collection loop with several env copies, callbacks that stop it, and a mismatched prior. */
class SoftQTrainingIT {

  private static PythonServer server;
  private static GrpcEnvClient client;
  private static TorchScriptPrior prior;

  @BeforeAll
  static void start() {
    server = PythonServer.start();
    client = server.connect();
    prior = TorchScriptPrior.load(Path.of(System.getProperty("rql4j.project.dir", "."),
        "examples/priors/cartpole-center-softdqn"));
  }

  @AfterAll
  static void stop() {
    prior.close();
    client.close();
    server.close();
  }

  @Test
  void fourCopiesCollectAndTrain() {
    ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().withTotalSteps(4000).withNumEnvs(4);
    List<OffPolicyTraining.Progress> reports = new ArrayList<>();
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("rql4j/cartpole-center-addon-v0").optNumEnvs(4).build());
        ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 4, 2)) {
      OffPolicyTraining.Progress last = OffPolicyTraining.run(learner, env, prior, reports::add, 1000);
      assertEquals(4000, last.step());
      assertFalse(last.stopped());
      assertEquals(4, reports.size());
      // epsilon is near 1 for the first ~640 steps (uniform actions end episodes in ~20 steps), so
      // every copy ends and auto-resets several episodes
      assertTrue(last.episodes() >= 8, "episodes " + last.episodes());
      assertTrue(Double.isFinite(last.loss()), "trained after learningStarts");
      assertTrue(last.recentAddonReturn() <= 0 && last.recentEnvReturn() == last.recentAddonReturn(),
          "the learner's reward is the add-on reward: " + last.line());
    }
  }

  @Test
  void aCallbackCanStopTraining() {
    ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().withTotalSteps(10_000);
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("rql4j/cartpole-center-addon-v0").build());
        ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 4, 2)) {
      OffPolicyTraining.Progress last = OffPolicyTraining.run(learner, env, prior, p -> p.step() < 2000, 500);
      assertTrue(last.stopped());
      assertEquals(2000, last.step());
    }
  }

  @Test
  void aPriorForAnotherEnvIsRefused() {
    ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().withTotalSteps(1000);
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("Acrobot-v1").build());
        ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 6, 3)) {
      PriorException e = assertThrows(PriorException.class, () -> OffPolicyTraining.run(learner, env, prior, p -> true, 500));
      assertTrue(e.getMessage().contains("Acrobot-v1"), e.getMessage());
    }
  }

  private static void assertSameArrays(List<float[]> a, List<float[]> b, String what) {
    assertEquals(a.size(), b.size(), what);
    for (int i = 0; i < a.size(); i++) {
      org.junit.jupiter.api.Assertions.assertArrayEquals(a.get(i), b.get(i), what + " " + i);
    }
  }

  @Test
  void aStoppedRunResumesWithEverythingItLearned(@TempDir Path tmp) throws Exception {
    ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().withTotalSteps(6000);
    Path dir = tmp.resolve("ckpt");
    Checkpointing ck = new Checkpointing(dir, 1000, true);
    List<float[]> online;
    List<float[]> target;
    TorchAdam.State adam;
    double firstHalfSeconds;
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("rql4j/cartpole-center-addon-v0").build());
        ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 4, 2)) {
      OffPolicyTraining.Progress last = OffPolicyTraining.run(learner, env, prior, p -> p.step() < 3000, 500, ck);
      assertTrue(last.stopped());
      firstHalfSeconds = last.trainSeconds();
      online = learner.qResidual().exportWeights();
      target = learner.qResidualTarget().exportWeights();
      adam = learner.optimizer().exportState();
    }
    assertTrue(TrainingCheckpoint.exists(dir));
    assertTrue(java.nio.file.Files.readString(dir.resolve(TrainingCheckpoint.SUMMARY)).contains("\"step\": 3000"));
    // a fresh learner restored from the checkpoint holds exactly what the stopped one had
    try (ResidualSoftQLearning restored = new ResidualSoftQLearning(cfg, 4, 2)) {
      TrainingCheckpoint.Restored r = TrainingCheckpoint.load(dir, restored, "rql4j/cartpole-center-addon-v0",
          org.rql4j.prior.PriorPackage.contentHash(prior.spec().packageDir()));
      assertSameArrays(online, restored.qResidual().exportWeights(), "online weights");
      assertSameArrays(target, restored.qResidualTarget().exportWeights(), "target weights");
      assertSameArrays(adam.m(), restored.optimizer().exportState().m(), "Adam m");
      assertSameArrays(adam.v(), restored.optimizer().exportState().v(), "Adam v");
      assertEquals(adam.step(), restored.optimizer().steps());
      assertEquals(3000, r.loop().step());
      assertEquals(3000, r.buffer().size());
    }
    // starting over the checkpoint without resume is refused; resuming finishes the run
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("rql4j/cartpole-center-addon-v0").build());
        ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 4, 2)) {
      IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> OffPolicyTraining.run(
          learner, env, prior, p -> true, 500, new Checkpointing(dir, 1000, false)));
      assertTrue(refused.getMessage().contains("already holds a checkpoint"), refused.getMessage());
      List<OffPolicyTraining.Progress> reports = new ArrayList<>();
      OffPolicyTraining.Progress last = OffPolicyTraining.run(learner, env, prior, reports::add, 500, ck);
      assertEquals(6000, last.step());
      assertEquals(3500, reports.get(0).step(), "reports continue from the checkpoint");
      // bursts of 128 gradient steps every 256 env steps after 1000, counted over the WHOLE run:
      // 20 bursts from step 1024 to 5888 (a run that forgot the first half would have 12)
      assertEquals(20 * 128, learner.optimizer().steps());
      // the training time counts both segments (checkpoints keep the wall time so far)
      assertTrue(last.trainSeconds() > firstHalfSeconds + 0.1, "train seconds " + last.trainSeconds()
          + " after a first half of " + firstHalfSeconds);
    }
    // a checkpoint of another config is refused, naming the difference
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("rql4j/cartpole-center-addon-v0").build());
        ResidualSoftQLearning other = new ResidualSoftQLearning(cfg.withAlphaHat(0.5f), 4, 2)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> OffPolicyTraining.run(other, env, prior, p -> true, 500, ck));
      assertTrue(e.getMessage().contains("alphaHat"), e.getMessage());
    }
  }

  @Test
  void aDeadEnvServerSavesTheRunAndItResumesOnANewServer(@TempDir Path tmp) {
    ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().withTotalSteps(4000);
    Checkpointing ck = new Checkpointing(tmp.resolve("ckpt"), 100_000, true);
    PythonServer doomed = PythonServer.start();
    try (GrpcEnvClient c = doomed.connect();
        GrpcVectorEnv env = c.make(EnvSpec.builder("rql4j/cartpole-center-addon-v0").build());
        ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 4, 2)) {
      TrainingException e = assertThrows(TrainingException.class,
          () -> OffPolicyTraining.run(learner, env, prior, p -> {
            if (p.step() == 2000) { // the server is killed mid-run: kill -9, no chance to say goodbye
              ProcessHandle.of(doomed.pid()).ifPresent(ProcessHandle::destroyForcibly);
              ProcessHandle.of(doomed.pid()).ifPresent(h -> h.onExit().join());
            }
            return true;
          }, 1000, ck));
      assertEquals(2000, e.step());
      assertTrue(e.getMessage().contains("saved in " + ck.dir()), e.getMessage());
      assertTrue(e.getMessage().contains("--resume"), e.getMessage());
    } finally {
      doomed.close();
    }
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("rql4j/cartpole-center-addon-v0").build());
        ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 4, 2)) {
      OffPolicyTraining.Progress last = OffPolicyTraining.run(learner, env, prior, p -> true, 1000, ck);
      assertEquals(4000, last.step());
      // 12 bursts of 128 from step 1024 to 3840, of which 4 (1024..1792) happened before the failure
      assertEquals(12 * 128, learner.optimizer().steps());
    }
  }

  @Test
  void aDeadEnvWorkerSavesTheRunAndItResumes(@TempDir Path tmp) {
    ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().toBuilder().optNumEnvs(2).build().withTotalSteps(4000);
    Checkpointing ck = new Checkpointing(tmp.resolve("ckpt"), 100_000, true);
    EnvSpec spec = EnvSpec.builder("rql4j/cartpole-center-addon-v0").optNumEnvs(2).build();
    try (PythonServer workers = PythonServer.builder().optWorkers(2).start(); GrpcEnvClient c = workers.connect()) {
      long[] killed = {-1};
      try (GrpcVectorEnv env = c.make(spec); ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 4, 2)) {
        TrainingException e = assertThrows(TrainingException.class,
            () -> OffPolicyTraining.run(learner, env, prior, p -> {
              if (p.step() == 2000) { // one of the two env worker processes dies mid-run
                ProcessHandle w = ProcessHandle.of(workers.pid()).orElseThrow().descendants()
                    .filter(h -> h.parent().map(q -> q.pid() != workers.pid()).orElse(false))
                    .findFirst().orElseThrow();
                killed[0] = w.pid();
                w.destroyForcibly();
                w.onExit().join();
              }
              return true;
            }, 1000, ck));
        assertEquals(2000, e.step());
        assertTrue(e.getMessage().contains("worker process") && e.getMessage().contains("pid " + killed[0])
            && e.getMessage().contains("saved in " + ck.dir()) && e.getMessage().contains("--resume"), e.getMessage());
      }
      try (GrpcVectorEnv env = c.make(spec); ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 4, 2)) {
        assertEquals(4000, OffPolicyTraining.run(learner, env, prior, p -> true, 1000, ck).step());
      }
    }
  }
}
