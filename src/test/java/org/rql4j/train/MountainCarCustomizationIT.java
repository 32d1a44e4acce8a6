package org.rql4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.GrpcVectorEnv;
import org.rql4j.bridge.PythonServer;
import org.rql4j.env.Env;
import org.rql4j.learner.ResidualSac;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.policy.PriorActor;
import org.rql4j.policy.SacPolicy;
import org.rql4j.prior.TorchScriptPrior;

/**
 * A shortened mountaincar-lessleft customization end to end (real server, real task env, the
 * shipped SB3 SAC prior, residual SAC on DJL), stopped halfway and resumed from its checkpoint.
 * With the reference settings and a fixed seed, the customized policy learns from the prior's
 * log-prob alone (its reward is only the add-on penalty for pushing left) to drive up the hill:
 * it reaches the goal in every evaluation episode with the prior's basic return. SAC on the same
 * add-on reward without the prior, with the same budget, does not reach the goal at all: the
 * prior term (its gradient through the sampled action into the prior's log-prob) is what carries
 * the skill. Checked by mutation (2026-11-21): with the actor's prior term's sign flipped, or with
 * the sampled action detached from it (no gradient into the prior's log-prob; the critic target
 * still has the term), the customized policy never reaches the goal in 5000 steps and the test
 * fails. A learner that forgot the first half of its run fails the optimizer-step count.
 */
class MountainCarCustomizationIT {

  static final long STEPS = 5_000;
  static final int EPISODES = 10;

  @Test
  void residualSacLearnsThePriorsSkillAndResumes(@TempDir Path tmp) {
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    ResidualSacConfig cfg = ResidualSacConfig.mountaincar().withTotalSteps(STEPS).withSeed(0);
    long[] seeds = Evaluator.defaultSeeds(EPISODES);
    try (PythonServer server = PythonServer.start(); GrpcEnvClient client = server.connect();
        TorchScriptPrior prior = TorchScriptPrior.load(root.resolve("examples/priors/mountaincar-lessleft-sac"))) {
      Evaluator.Summary before;
      try (Env env = client.makeSingle("rql4j/mountaincar-lessleft-total-v0", null);
          PriorActor actor = new PriorActor(prior)) {
        before = Evaluator.evaluate(env, actor, seeds);
      }
      Evaluator.Summary residual = train(client, cfg, prior, tmp.resolve("ck"), seeds);
      Evaluator.Summary addonOnly = train(client, cfg.withPriorWeight(0f), null, null, seeds);
      String table = before.markdownRow("prior") + "\n" + residual.markdownRow("residual SAC, " + STEPS + " steps")
          + "\n" + addonOnly.markdownRow("SAC on the add-on reward, " + STEPS + " steps");
      System.out.println(table);
      double reached = residual.mean(e -> e.terminated() ? 1 : 0);
      assertEquals(1.0, reached, "the customized policy must reach the goal in every episode:\n" + table);
      assertTrue(residual.mean(Evaluator.Episode::basicReturn) >= 0.95 * before.mean(Evaluator.Episode::basicReturn),
          "basic return must stay within 5% of the prior's:\n" + table);
      assertEquals(0.0, addonOnly.mean(e -> e.terminated() ? 1 : 0),
          "without the prior, SAC on the add-on reward should not reach the goal in " + STEPS + " steps:\n" + table);
    }
  }

  /** Trains (in two halves through a checkpoint when {@code ck} is set) and evaluates on the total variant. */
  private static Evaluator.Summary train(GrpcEnvClient client, ResidualSacConfig cfg, TorchScriptPrior prior, Path ck,
      long[] seeds) {
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("rql4j/mountaincar-lessleft-addon-v0").build());
        ResidualSac learner = new ResidualSac(cfg, 2, env.actionSpace())) {
      OffPolicyTraining.Checkpointing checkpointing = ck == null ? null
          : new OffPolicyTraining.Checkpointing(ck, 1000, true);
      if (ck != null) {
        OffPolicyTraining.Progress half = OffPolicyTraining.run(learner, env, prior, p -> p.step() < STEPS / 2, 500,
            checkpointing);
        assertTrue(half.stopped() && half.step() == STEPS / 2, "stopped at " + half.step());
        try (ResidualSac resumed = new ResidualSac(cfg, 2, env.actionSpace())) {
          OffPolicyTraining.run(resumed, env, prior, p -> true, 1000, checkpointing);
          // 32 gradient steps every 32 env steps; each updates the critics and the actor (fixed alphaHat)
          assertEquals(STEPS / 32 * 32 * 2, resumed.optimizerSteps(), "optimizer steps over both halves");
          return evaluate(client, resumed, seeds);
        }
      }
      OffPolicyTraining.run(learner, env, prior, p -> true, 1000);
      return evaluate(client, learner, seeds);
    }
  }

  private static Evaluator.Summary evaluate(GrpcEnvClient client, ResidualSac learner, long[] seeds) {
    try (Env eval = client.makeSingle("rql4j/mountaincar-lessleft-total-v0", null);
        SacPolicy policy = new SacPolicy(learner, 0)) {
      return Evaluator.evaluate(eval, policy, seeds);
    }
  }
}
