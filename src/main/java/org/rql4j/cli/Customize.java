package org.rql4j.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;
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
import org.rql4j.prior.PriorPolicy;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.train.Evaluator;
import org.rql4j.train.SoftQTraining;

/** {@code rql4j customize}: residual soft Q-learning of a discrete prior on a task, then evaluation. */
final class Customize {

  private Customize() {}

  /** The rows of a before/after table. */
  record Result(Evaluator.Summary prior, Evaluator.Summary learned, SoftQTraining.Progress training, double seconds) {}

  static String option(String[] args, String name, String fallback) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(name)) {
        return args[i + 1];
      }
    }
    return fallback;
  }

  /**
   * Trains one row: {@code residual} (add-on variant, with the prior), {@code oracle} (total
   * variant, no prior) or {@code addon-only} (add-on variant, no prior); evaluates the prior and
   * the learned policy on the total variant.
   */
  static Result customize(GrpcEnvClient client, PriorPolicy prior, String task, String baseline,
      ResidualSoftQConfig cfg, int evalEpisodes, Consumer<SoftQTraining.Progress> progress) {
    String variant = baseline.equals("oracle") ? "total" : "addon";
    String trainEnv = "rql4j/" + task + "-" + variant + "-v0";
    String evalEnv = "rql4j/" + task + "-total-v0";
    long[] seeds = Evaluator.defaultSeeds(evalEpisodes);
    Evaluator.Summary before;
    try (Env env = client.makeSingle(evalEnv, null); PriorActor actor = new PriorActor(prior)) {
      before = Evaluator.evaluate(env, actor, seeds);
    }
    try (GrpcVectorEnv env = client.make(EnvSpec.builder(trainEnv).optNumEnvs(cfg.numEnvs()).build());
        ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, (int) env.observationSpace().flatDim(),
            (int) ((Space.Discrete) env.actionSpace()).n())) {
      PriorPolicy used = cfg.priorWeight() == 0 ? null : prior;
      long t0 = System.nanoTime();
      SoftQTraining.Progress last = SoftQTraining.run(learner, env, used, p -> {
        progress.accept(p);
        return true;
      }, Math.max(1000, cfg.totalSteps() / 10));
      double secs = (System.nanoTime() - t0) / 1e9;
      try (Env eval = client.makeSingle(evalEnv, null);
          CustomizedPolicy policy = new CustomizedPolicy(learner, used, ((Space.Discrete) env.actionSpace()).start(),
              cfg.seed())) {
        return new Result(before, Evaluator.evaluate(eval, policy, seeds), last, secs);
      }
    }
  }

  static void run(String[] args) {
    String task = option(args, "--task", "cartpole-center");
    String baseline = option(args, "--baseline", "residual");
    if (!baseline.equals("residual") && !baseline.equals("oracle") && !baseline.equals("addon-only")) {
      throw new IllegalArgumentException("--baseline must be residual, oracle or addon-only, got " + baseline);
    }
    Path priorDir = Path.of(option(args, "--prior", "examples/priors/" + task + "-softdqn"));
    long steps = Main.option(args, "--steps", 100_000);
    long seed = Main.option(args, "--seed", 0);
    int evalEpisodes = (int) Main.option(args, "--eval-episodes", 20);
    float priorWeight = baseline.equals("residual") ? Float.parseFloat(option(args, "--prior-weight", "1")) : 0f;
    float alphaHat = Float.parseFloat(option(args, "--alpha-hat", "1"));
    ResidualSoftQConfig base = task.startsWith("highway") ? ResidualSoftQConfig.highway() : ResidualSoftQConfig.cartpole();
    ResidualSoftQConfig cfg = base.withTotalSteps(steps).withSeed(seed).withPriorWeight(priorWeight).withAlphaHat(alphaHat);
    System.out.println("rql4j customize: " + baseline + " on " + task + ", prior " + priorDir + "\n" + cfg);
    try (PythonServer server = PythonServer.start(); GrpcEnvClient client = server.connect();
        TorchScriptPrior prior = TorchScriptPrior.load(priorDir)) {
      Result r = customize(client, prior, task, baseline, cfg, evalEpisodes, p -> System.out.println(p.line()));
      System.out.printf(Locale.ROOT, "%ntrained %d env steps in %.1f s; %d evaluation episodes (seeds 10000..)%n%n",
          steps, r.seconds(), evalEpisodes);
      printTable(r, baseline);
    }
  }

  static void printTable(Result r, String baseline) {
    System.out.println("| policy | basic return | add-on return | length |");
    System.out.println("|---|---|---|---|");
    System.out.println(r.prior().markdownRow("prior alone"));
    System.out.println(r.learned().markdownRow(baseline.equals("residual") ? "customized (residual)" : baseline));
  }
}
