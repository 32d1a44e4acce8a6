package org.rql4j.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.rql4j.bridge.BridgeTransport;
import org.rql4j.bridge.EnvClient;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.PythonServer;
import org.rql4j.bridge.RemoteVectorEnv;
import org.rql4j.env.Env;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.learner.ResidualSoftQLearning;
import org.rql4j.learner.CustomizedPolicy;
import org.rql4j.policy.PriorActor;
import org.rql4j.prior.TorchScriptPrior;

/**
 * A shortened CartPole customization end to end (real server, real task env, the shipped
 * PyTorch soft-DQN prior, learning on DJL): over three training seeds, the median customized
 * policy keeps the prior's basic return and cuts the add-on penalty by a margin that a learner
 * which does not learn (its customized policy is then the prior tilted by a random Q_R) or learns
 * the wrong thing cannot reach. The seeds take turns on the two transports (gRPC, Py4J), so the
 * whole loop runs over each.
 */
class CartPoleCustomizationIT {

  static final long STEPS = 30_000;
  static final int EPISODES = 10;

  @Test
  void residualLearningCentresTheCartAndKeepsThePoleUp() {
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    long[] seeds = SeedMedians.seeds(0, 1, 2);
    try (TorchScriptPrior prior = TorchScriptPrior.load(root.resolve("examples/priors/cartpole-center-softdqn"))) {
      Evaluator.Summary before;
      try (PythonServer server = PythonServer.start(); EnvClient client = server.client();
          Env env = client.makeSingle("rql4j/cartpole-center-total-v0", null); PriorActor actor = new PriorActor(prior)) {
        before = Evaluator.evaluate(env, actor, Evaluator.defaultSeeds(EPISODES));
      }
      SeedMedians runs = SeedMedians.run("customized", seeds, seed -> {
        BridgeTransport transport = BridgeTransport.values()[(int) (seed % BridgeTransport.values().length)];
        System.out.println("seed " + seed + " over " + transport);
        ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().withTotalSteps(STEPS).withSeed(seed);
        try (PythonServer server = PythonServer.builder().optTransport(transport).start();
            EnvClient client = server.client();
            RemoteVectorEnv env = client.make(EnvSpec.builder("rql4j/cartpole-center-addon-v0").build());
            ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, 4, 2)) {
          OffPolicyTraining.run(learner, env, prior, p -> true, STEPS);
          try (Env eval = client.makeSingle("rql4j/cartpole-center-total-v0", null);
              CustomizedPolicy policy = new CustomizedPolicy(learner, prior, 0, 0)) {
            return Evaluator.evaluate(eval, policy, Evaluator.defaultSeeds(EPISODES));
          }
        }
      });
      String table = before.markdownRow("prior") + "\n" + runs.table() + runs.medians();
      System.out.println(table);
      double basicBefore = before.mean(Evaluator.Episode::basicReturn);
      double addonBefore = before.mean(Evaluator.Episode::addonReturn);
      assertTrue(runs.median(Evaluator.Episode::basicReturn) >= BASIC_KEEP * basicBefore,
          "the median basic return must stay within " + BASIC_KEEP + " of the prior's:\n" + table);
      assertTrue(runs.median(Evaluator.Episode::addonReturn) >= ADDON_KEEP * addonBefore,
          "the median add-on penalty must shrink to at most " + ADDON_KEEP + " of the prior's:\n" + table);
    }
  }

  static final double BASIC_KEEP = 0.97;

  /** Fraction of the prior's add-on penalty the median customized policy may keep; a learner that does not learn keeps about 1. */
  static final double ADDON_KEEP = 0.75;
}
