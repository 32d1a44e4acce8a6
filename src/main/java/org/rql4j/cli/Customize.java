package org.rql4j.cli;

import java.nio.file.Path;
import java.util.Locale;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.GrpcVectorEnv;
import org.rql4j.bridge.PythonServer;
import org.rql4j.env.Env;
import org.rql4j.env.Space;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.learner.ResidualSoftQLearning;
import org.rql4j.policy.CustomizedPolicy;
import org.rql4j.policy.PriorActor;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.train.Evaluator;
import org.rql4j.train.SoftQTraining;

/** {@code rql4j customize}: residual soft Q-learning of a discrete prior on a task, then evaluation. */
final class Customize {

  private Customize() {}

  static String option(String[] args, String name, String fallback) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(name)) {
        return args[i + 1];
      }
    }
    return fallback;
  }

  static void run(String[] args) {
    String task = option(args, "--task", "cartpole-center");
    String baseline = option(args, "--baseline", "residual");
    Path priorDir = Path.of(option(args, "--prior", "examples/priors/" + task + "-softdqn"));
    long steps = Main.option(args, "--steps", 100_000);
    long seed = Main.option(args, "--seed", 0);
    int evalEpisodes = (int) Main.option(args, "--eval-episodes", 20);
    float priorWeight = Float.parseFloat(option(args, "--prior-weight", "1"));
    float alphaHat = Float.parseFloat(option(args, "--alpha-hat", "1"));
    ResidualSoftQConfig base = task.startsWith("highway") ? ResidualSoftQConfig.highway() : ResidualSoftQConfig.cartpole();
    String variant;
    switch (baseline) {
      case "residual" -> variant = "addon";
      case "oracle" -> {
        variant = "total";
        priorWeight = 0;
      }
      case "addon-only" -> {
        variant = "addon";
        priorWeight = 0;
      }
      default -> throw new IllegalArgumentException("--baseline must be residual, oracle or addon-only, got " + baseline);
    }
    ResidualSoftQConfig cfg = base.withTotalSteps(steps).withSeed(seed).withPriorWeight(priorWeight).withAlphaHat(alphaHat);
    String trainEnv = "rql4j/" + task + "-" + variant + "-v0";
    String evalEnv = "rql4j/" + task + "-total-v0";
    System.out.println("rql4j customize: " + baseline + " on " + trainEnv + ", prior " + priorDir + "\n" + cfg);
    try (PythonServer server = PythonServer.start(); GrpcEnvClient client = server.connect();
        TorchScriptPrior prior = TorchScriptPrior.load(priorDir)) {
      try (Env env = client.makeSingle(evalEnv, null); PriorActor actor = new PriorActor(prior)) {
        System.out.println(Evaluator.evaluate(env, actor, Evaluator.defaultSeeds(evalEpisodes)).markdownRow("prior alone"));
      }
      try (GrpcVectorEnv env = client.make(EnvSpec.builder(trainEnv).optNumEnvs(cfg.numEnvs()).build());
          ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, (int) env.observationSpace().flatDim(),
              (int) ((Space.Discrete) env.actionSpace()).n())) {
        long t0 = System.nanoTime();
        SoftQTraining.Progress last = SoftQTraining.run(learner, env, priorWeight == 0 ? null : prior,
            p -> {
              System.out.println(p.line());
              return true;
            }, Math.max(1000, steps / 20));
        System.out.printf(Locale.ROOT, "trained in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        try (Env evalE = client.makeSingle(evalEnv, null);
            CustomizedPolicy policy = new CustomizedPolicy(learner, priorWeight == 0 ? null : prior,
                ((Space.Discrete) env.actionSpace()).start(), seed)) {
          System.out.println(Evaluator.evaluate(evalE, policy, Evaluator.defaultSeeds(evalEpisodes))
              .markdownRow(baseline));
        }
        System.out.println(last.line());
      }
    }
  }
}
