package org.rql4j.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.rql4j.bridge.EnvClient;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.PythonServer;
import org.rql4j.bridge.RemoteVectorEnv;
import org.rql4j.env.Env;
import org.rql4j.learner.ResidualPpo;
import org.rql4j.learner.ResidualPpoConfig;
import org.rql4j.policy.PriorActor;
import org.rql4j.prior.TorchScriptPrior;

/**
 * PPO end to end over the bridge on CartPole: real envs in the Python server, the learner on DJL.
 * Soft PPO on CartPole-v1's own reward learns to balance; residual PPO on cartpole-center's add-on
 * reward alone keeps the pole up only through the prior's log-prob term (the add-on reward, a
 * penalty per step, alone favours ending episodes) and centres the cart better than the prior.
 */
class PpoTrainingIT {

  /** RL Zoo's CartPole PPO schedule (8 copies, 32 steps, batch 256, 20 epochs, gamma 0.98, GAE 0.8, lr 1e-3). */
  static ResidualPpoConfig cartpole(long steps) {
    return ResidualPpoConfig.defaults().withSchedule(steps, 32, 256, 20, 8).withNetwork(new int[] {64, 64}, 1e-3f, 0f)
        .withReturns(0.98f, 0.8f);
  }

  @Test
  void softPpoBalancesCartPole() {
    ResidualPpoConfig cfg = cartpole(40_000).withSoft(0.01f, 0f);
    try (PythonServer server = PythonServer.start(); EnvClient client = server.client();
        RemoteVectorEnv env = client.make(EnvSpec.builder("CartPole-v1").optNumEnvs(8).build());
        ResidualPpo ppo = new ResidualPpo(cfg, 4, env.actionSpace())) {
      Evaluator.Summary before;
      try (Env eval = client.makeSingle("CartPole-v1", null)) {
        before = Evaluator.evaluate(eval, ppo.asPolicy(0), Evaluator.defaultSeeds(5));
      }
      OnPolicyTraining.run(env, null, ppo, p -> report("soft PPO ", p));
      Evaluator.Summary after;
      try (Env eval = client.makeSingle("CartPole-v1", null)) {
        after = Evaluator.evaluate(eval, ppo.asPolicy(0), Evaluator.defaultSeeds(10));
      }
      double b = before.mean(Evaluator.Episode::envReturn);
      double a = after.mean(Evaluator.Episode::envReturn);
      System.out.printf("soft PPO on CartPole-v1: %.1f before, %.1f after%n", b, a);
      assertTrue(a >= 300 && a > b + 200, "return " + b + " -> " + a);
    }
  }

  @Test
  void residualPpoKeepsThePoleUpThroughThePriorAndCentresTheCart() {
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    ResidualPpoConfig cfg = cartpole(40_000).withSoft(1f, 1f);
    try (PythonServer server = PythonServer.start(); EnvClient client = server.client();
        TorchScriptPrior prior = TorchScriptPrior.load(root.resolve("examples/priors/cartpole-center-softdqn"));
        RemoteVectorEnv env = client.make(EnvSpec.builder("rql4j/cartpole-center-addon-v0").optNumEnvs(8).build());
        ResidualPpo ppo = new ResidualPpo(cfg, 4, env.actionSpace())) {
      Evaluator.Summary priorRow;
      try (Env eval = client.makeSingle("rql4j/cartpole-center-total-v0", null);
          PriorActor actor = new PriorActor(prior)) {
        priorRow = Evaluator.evaluate(eval, actor, Evaluator.defaultSeeds(10));
      }
      OnPolicyTraining.run(env, prior, ppo, p -> report("residual PPO ", p));
      Evaluator.Summary after;
      try (Env eval = client.makeSingle("rql4j/cartpole-center-total-v0", null)) {
        after = Evaluator.evaluate(eval, ppo.asPolicy(0), Evaluator.defaultSeeds(10));
      }
      String table = priorRow.markdownRow("prior") + "\n" + after.markdownRow("residual PPO");
      System.out.println(table);
      assertTrue(after.mean(Evaluator.Episode::basicReturn) >= 0.9 * priorRow.mean(Evaluator.Episode::basicReturn),
          "the basic return must stay within 10% of the prior's:\n" + table);
      // seed 0: add-on -38.9 against the prior's -50.4 (2026-11-22); a learner deaf to the add-on stays near -50
      assertTrue(after.mean(Evaluator.Episode::addonReturn) >= 0.9 * priorRow.mean(Evaluator.Episode::addonReturn),
          "the add-on penalty must shrink by 10%:\n" + table);
    }
  }

  private static void report(String name, OnPolicyTraining.Progress p) {
    if (p.step() % 10_240 < 256) {
      System.out.println(name + p.line());
    }
  }
}
