package org.rql4j.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.nio.file.Path;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.GrpcVectorEnv;
import org.rql4j.bridge.PythonServer;
import org.rql4j.env.Env;
import org.rql4j.env.Tensor;
import org.rql4j.env.VectorStep;
import org.rql4j.policy.PriorActor;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.proto.v1.ServerInfoResponse;
import org.rql4j.train.Evaluator;

/** The {@code rql4j} command line: {@code rql4j demo [--episodes N] [--seed S]}. */
public final class Main {

  private Main() {}

  public static void main(String[] args) {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
      usage();
      return;
    }
    try {
      switch (args[0]) {
        case "demo" -> demo(Arrays.copyOfRange(args, 1, args.length));
        case "customize" -> Customize.run(Arrays.copyOfRange(args, 1, args.length));
        default -> {
          System.err.println("unknown command '" + args[0] + "'");
          usage();
          System.exit(2);
        }
      }
    } catch (IllegalArgumentException e) {
      System.err.println("rql4j: " + e.getMessage());
      System.exit(2);
    }
  }

  private static void usage() {
    System.out.println("""
        usage: rql4j <command> [options]

        commands:
          demo [--episodes N] [--seed S] [--num-envs K]
              Start the Python env server, step CartPole-v1 through the gRPC bridge with two
              simple policies, then evaluate the shipped PyTorch priors (examples/priors) on the
              cartpole-center task from Java.
          customize --task T --prior DIR [--steps N] [--seed S] [--prior-weight W] [--alpha-hat A]
                    [--baseline residual|oracle|addon-only] [--eval-episodes E]
              Customize a prior for a task's add-on reward with residual soft Q-learning, then
              evaluate it on the task's total variant (basic and add-on returns).
        """);
  }

  /** Options of the form --name value. */
  static long option(String[] args, String name, long fallback) {
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals(name)) {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(name + " needs a value");
        }
        try {
          return Long.parseLong(args[i + 1]);
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(name + " needs a whole number, got '" + args[i + 1] + "'");
        }
      }
    }
    return fallback;
  }

  private static void demo(String[] args) {
    int episodes = (int) option(args, "--episodes", 20);
    long seed = option(args, "--seed", 0);
    int numEnvs = (int) option(args, "--num-envs", 4);
    Path priors = Path.of(System.getProperty("rql4j.project.dir", ".")).resolve("examples/priors");
    System.out.println("Starting the Python env server (python-bridge)...");
    try (PythonServer server = PythonServer.start(); GrpcEnvClient client = server.connect()) {
      ServerInfoResponse info = client.serverInfo();
      System.out.printf("Connected: %s on %s:%d (bridge %s, Python %s, Gymnasium %s)%n%n",
          info.getProtocol(), server.host(), server.port(), info.getBridgeVersion(),
          info.getPythonVersion(), info.getGymnasiumVersion());
      try (GrpcVectorEnv env = client.make(EnvSpec.builder("CartPole-v1").optNumEnvs(numEnvs).build())) {
        System.out.printf("CartPole-v1 x%d through the bridge: observation %s, action %s%n",
            env.numEnvs(), env.observationSpace(), env.actionSpace());
        System.out.printf("%-16s %9s %16s %12s %14s%n", "policy", "episodes", "return", "length", "env steps/s");
        run(env, "random", 10, seed, new Random(seed), false);
        run(env, "pole rule", 10, seed, new Random(seed), true);
      }
      System.out.printf("%nShipped PyTorch priors on cartpole-center (add-on requirement: keep the cart centred),%n"
          + "run in Java (DJL) through the bridge: %d episodes, seeds 10000.., deterministic policy%n%n", episodes);
      System.out.println("| policy | basic return | add-on return | length |");
      System.out.println("|---|---|---|---|");
      long[] seeds = Evaluator.defaultSeeds(episodes);
      for (String name : new String[] {"cartpole-center-softdqn", "cartpole-center-bc"}) {
        try (TorchScriptPrior prior = TorchScriptPrior.load(priors.resolve(name));
            PriorActor actor = new PriorActor(prior);
            Env env = client.makeSingle("rql4j/cartpole-center-total-v0", null)) {
          prior.spec().checkCompatible("rql4j/cartpole-center-total-v0", env.observationSpace(), env.actionSpace());
          System.out.println(Evaluator.evaluate(env, actor, seeds).markdownRow("prior alone: " + name));
        }
      }
    }
    System.out.println("\n(the customized rows arrive with the residual soft Q-learning learner)");
  }

  /** Runs {@code episodes} episodes over the batch and prints one table row. */
  private static void run(GrpcVectorEnv env, String name, int episodes, long seed, Random rng, boolean rule) {
    int n = env.numEnvs();
    float[] obs = ((Tensor) env.reset(seed).observations()).toFloatArray();
    double[] ret = new double[n];
    int[] len = new int[n];
    List<double[]> done = new ArrayList<>();
    long steps = 0;
    long t0 = System.nanoTime();
    while (done.size() < episodes) {
      long[] actions = new long[n];
      for (int i = 0; i < n; i++) {
        // pole rule: push towards the side the pole is falling to (angle + angular velocity)
        actions[i] = rule ? (obs[4 * i + 2] + 0.5f * obs[4 * i + 3] > 0 ? 1 : 0) : rng.nextInt(2);
      }
      VectorStep s = env.step(actions);
      steps += n;
      for (int i = 0; i < n; i++) {
        ret[i] += s.rewards()[i];
        len[i]++;
        if (s.done(i)) {
          done.add(new double[] {ret[i], len[i]});
          ret[i] = 0;
          len[i] = 0;
        }
      }
      obs = ((Tensor) s.observations()).toFloatArray();
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    double[] returns = done.stream().limit(episodes).mapToDouble(e -> e[0]).toArray();
    double meanLen = done.stream().limit(episodes).mapToDouble(e -> e[1]).average().orElse(0);
    double mean = Arrays.stream(returns).average().orElse(0);
    double std = Math.sqrt(Arrays.stream(returns).map(r -> (r - mean) * (r - mean)).average().orElse(0));
    System.out.println(String.format(Locale.ROOT, "%-16s %9d %16s %12.1f %14.0f",
        name, returns.length, String.format(Locale.ROOT, "%.1f +- %.1f", mean, std), meanLen, steps / secs));
  }
}
