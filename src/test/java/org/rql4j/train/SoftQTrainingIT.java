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
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.GrpcVectorEnv;
import org.rql4j.bridge.PythonServer;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.learner.ResidualSoftQLearning;
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
    List<SoftQTraining.Progress> reports = new ArrayList<>();
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("rql4j/cartpole-center-addon-v0").optNumEnvs(4).build());
        ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 4, 2)) {
      SoftQTraining.Progress last = SoftQTraining.run(learner, env, prior, reports::add, 1000);
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
      SoftQTraining.Progress last = SoftQTraining.run(learner, env, prior, p -> p.step() < 2000, 500);
      assertTrue(last.stopped());
      assertEquals(2000, last.step());
    }
  }

  @Test
  void aPriorForAnotherEnvIsRefused() {
    ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().withTotalSteps(1000);
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("Acrobot-v1").build());
        ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 6, 3)) {
      PriorException e = assertThrows(PriorException.class, () -> SoftQTraining.run(learner, env, prior, p -> true, 500));
      assertTrue(e.getMessage().contains("Acrobot-v1"), e.getMessage());
    }
  }
}
