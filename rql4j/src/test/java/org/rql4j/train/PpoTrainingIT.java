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
import org.rql4j.prior.PriorPolicy;
import org.rql4j.prior.TorchScriptPrior;

/**
 * PPO end to end over the bridge on CartPole: real envs in the Python server, the learner on DJL,
 * each judged on the median over three training seeds (SeedMedians; one seed's trajectory changes
 * with the CPU's math kernels, docs/reproducibility.md). Soft PPO on CartPole-v1's own reward
 * learns to balance. Residual PPO (w = alphaHat = 1) on cartpole-center's add-on reward, with the
 * shipped soft-DQN prior's log-prob in its reward, learns to balance and keeps the prior's basic
 * return.
 *
 * <p>What this test does not show (measured 2026-12-04, 40k env steps, docs/reproducibility.md):
 * that the add-on return improves on the prior's. Over five seeds it ranged from -29 to -62 (the
 * CPU's own kernels) and from -25 to -140 (pinned numerics) against the prior's -50, so an add-on
 * margin would hold for some trajectories only; the earlier version of this test asserted it on
 * seed 0 and failed on another CPU. Nor does the basic return single out a learner deaf to the
 * prior: at alphaHat = 1 the entropy bonus alone keeps the pole up (w = 0: median basic 384 over
 * three seeds). The shaped reward is checked against the PyTorch reference in
 * ResidualPpoCompatIT, and the add-on gain of residual PPO in docs/results.md (MuJoCo tables).
 */
class PpoTrainingIT {

  static final long STEPS = 40_000;

  /** RL Zoo's CartPole PPO schedule (8 copies, 32 steps, batch 256, 20 epochs, gamma 0.98, GAE 0.8, lr 1e-3). */
  static ResidualPpoConfig cartpole(long steps) {
    return ResidualPpoConfig.defaults().withSchedule(steps, 32, 256, 20, 8).withNetwork(new int[] {64, 64}, 1e-3f, 0f)
        .withReturns(0.98f, 0.8f);
  }

  @Test
  void softPpoBalancesCartPole() {
    try (PythonServer server = PythonServer.start(); EnvClient client = server.client()) {
      double untrained;
      try (Env eval = client.makeSingle("CartPole-v1", null);
          ResidualPpo ppo = new ResidualPpo(cartpole(STEPS), 4, eval.actionSpace())) {
        untrained = Evaluator.evaluate(eval, ppo.asPolicy(0), Evaluator.defaultSeeds(5)).mean(Evaluator.Episode::envReturn);
      }
      SeedMedians runs = SeedMedians.run("soft PPO", SeedMedians.seeds(0, 1, 2), seed -> trainAndEvaluate(client,
          cartpole(STEPS).withSoft(0.01f, 0f).withSeed(seed), "CartPole-v1", "CartPole-v1", null, "soft PPO"));
      double after = runs.median(Evaluator.Episode::envReturn);
      System.out.printf("soft PPO on CartPole-v1: %.1f untrained, median %.1f after%n", untrained, after);
      // an untrained policy scores ~10-30 of 500
      assertTrue(after >= 300 && after > untrained + 200,
          "median return " + after + " (untrained " + untrained + "):\n" + runs.table());
    }
  }

  @Test
  void residualPpoKeepsThePoleUpWithThePriorsTerm() {
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    try (PythonServer server = PythonServer.start(); EnvClient client = server.client();
        TorchScriptPrior prior = TorchScriptPrior.load(root.resolve("examples/priors/cartpole-center-softdqn"))) {
      Evaluator.Summary priorRow;
      try (Env eval = client.makeSingle("rql4j/cartpole-center-total-v0", null);
          PriorActor actor = new PriorActor(prior)) {
        priorRow = Evaluator.evaluate(eval, actor, Evaluator.defaultSeeds(EPISODES));
      }
      SeedMedians runs = SeedMedians.run("residual PPO", SeedMedians.seeds(0, 1, 2), seed -> trainAndEvaluate(client,
          cartpole(STEPS).withSoft(1f, 1f).withSeed(seed), "rql4j/cartpole-center-addon-v0",
          "rql4j/cartpole-center-total-v0", prior, "residual PPO"));
      String table = priorRow.markdownRow("prior") + "\n" + runs.table() + runs.medians();
      System.out.println(table);
      // an untrained policy scores ~10-30; the add-on return is printed, not asserted (see above)
      assertTrue(runs.median(Evaluator.Episode::basicReturn) >= BASIC_KEEP * priorRow.mean(Evaluator.Episode::basicReturn),
          "the median basic return must stay within " + BASIC_KEEP + " of the prior's:\n" + table);
    }
  }

  static final int EPISODES = 10;
  static final double BASIC_KEEP = 0.9;

  /** Trains on {@code trainEnv} (8 copies), then evaluates the deterministic policy on {@code evalEnv}. */
  private static Evaluator.Summary trainAndEvaluate(EnvClient client, ResidualPpoConfig cfg, String trainEnv,
      String evalEnv, PriorPolicy prior, String name) {
    try (RemoteVectorEnv env = client.make(EnvSpec.builder(trainEnv).optNumEnvs(8).build());
        ResidualPpo ppo = new ResidualPpo(cfg, 4, env.actionSpace())) {
      OnPolicyTraining.run(env, prior, ppo, p -> report(name + " seed " + cfg.seed() + " ", p));
      try (Env eval = client.makeSingle(evalEnv, null)) {
        return Evaluator.evaluate(eval, ppo.asPolicy(0), Evaluator.defaultSeeds(EPISODES));
      }
    }
  }

  private static void report(String name, OnPolicyTraining.Progress p) {
    if (p.step() % 20_480 < 256) {
      System.out.println(name + p.line());
    }
  }
}
