package org.rql4j.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.proto.v1.ServerInfoResponse;

/** The {@code rql4j} command line: {@code rql4j demo [--episodes N] [--seed S]}. */
public final class Main {

  private Main() {}

  /** Each command's options; {@code --resume} is the one flag, the others take a value. */
  static final java.util.Map<String, java.util.Set<String>> OPTIONS = java.util.Map.of(
      "demo", java.util.Set.of("--steps", "--seed", "--episodes"),
      "customize", java.util.Set.of("--task", "--prior", "--steps", "--seed", "--prior-weight", "--alpha-hat",
          "--warm-start", "--baseline", "--eval-episodes", "--out", "--checkpoint-dir", "--checkpoint-every",
          "--max-grad-norm", "--prior-min-std", "--resume"),
      "results", java.util.Set.of("--task", "--priors", "--seeds", "--steps", "--prior-weights", "--alpha-hats",
          "--warm-start", "--baselines", "--eval-episodes", "--parallel", "--out", "--doc", "--max-grad-norm",
          "--prior-min-std"),
      "ppo", java.util.Set.of("--task", "--baseline", "--prior", "--steps", "--seed", "--prior-weight", "--alpha-hat",
          "--beta", "--init-from-prior", "--learning-rate", "--normalize-observations", "--eval-episodes", "--out",
          "--checkpoint-dir", "--checkpoint-every", "--survival-bonus", "--resume"),
      "ppo-results", java.util.Set.of("--task", "--steps", "--seeds", "--rows", "--prior-weight", "--alpha-hat",
          "--beta", "--learning-rate", "--init-from-prior", "--eval-episodes", "--parallel", "--out", "--doc",
          "--survival-bonus"),
      "mcts", java.util.Set.of("--task", "--rows", "--episodes", "--simulations", "--horizon", "--gamma",
          "--prior-weight", "--alpha-hat", "--eps", "--seed", "--prior", "--parallel", "--transport", "--out",
          "--doc"));

  public static void main(String[] args) {
    if (args.length == 0 || Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
      usage();
      return;
    }
    try {
      if (OPTIONS.containsKey(args[0])) {
        checkOptions(args[0], Arrays.copyOfRange(args, 1, args.length));
      }
      String numerics = org.rql4j.learner.Numerics.mismatchWarning();
      if (numerics != null) {
        System.err.println("rql4j: warning: " + numerics);
      }
      switch (args[0]) {
        case "demo" -> demo(Arrays.copyOfRange(args, 1, args.length));
        case "customize" -> Customize.run(Arrays.copyOfRange(args, 1, args.length));
        case "results" -> Results.run(Arrays.copyOfRange(args, 1, args.length));
        case "mcts" -> MctsTable.run(Arrays.copyOfRange(args, 1, args.length));
        case "ppo" -> PpoRun.run(Arrays.copyOfRange(args, 1, args.length));
        case "ppo-results" -> PpoResults.run(Arrays.copyOfRange(args, 1, args.length));
        default -> {
          System.err.println("unknown command '" + args[0] + "'");
          usage();
          System.exit(2);
        }
      }
    } catch (IllegalArgumentException e) {
      System.err.println("rql4j: " + e.getMessage());
      System.exit(2);
    } catch (org.rql4j.train.OffPolicyTraining.TrainingException | java.io.UncheckedIOException e) {
      System.err.println("rql4j: " + e.getMessage());
      System.exit(1);
    } catch (java.io.IOException e) {
      System.err.println("rql4j: " + e.getMessage());
      System.exit(1);
    }
  }

  private static void usage() {
    System.out.println("""
        usage: rql4j <command> [options]

        commands:
          demo [--steps N] [--seed S] [--episodes E]
              Customize the shipped PyTorch soft-DQN prior on cartpole-center (keep the cart
              centred) with residual soft Q-learning and print the before/after table.
          customize --task T [--prior DIR] [--steps N] [--seed S] [--prior-weight W] [--alpha-hat A]
                    [--warm-start K] [--baseline residual|oracle|addon-only] [--eval-episodes E] [--out DIR]
                    [--max-grad-norm G] [--prior-min-std S]
                    [--checkpoint-dir DIR] [--checkpoint-every N] [--resume]
              Customize a prior for a task's add-on reward, then evaluate it on the task's total
              variant (basic and add-on returns): residual soft Q-learning for Discrete actions
              (cartpole-center, highway-rightlane; prior examples/priors/T-softdqn), residual SAC
              for Box actions (mountaincar-lessleft, parking-boundary; prior examples/priors/T-sac).
              Defaults are docs/tasks.md's reference values. For SAC, --alpha-hat A fixes the
              temperature, --alpha-hat auto (or auto_A) learns it (from 1, or A); --warm-start K
              applies the reference warm-start multiple of W to the first K env steps (parking's
              reference: x10 for 1e5 of 8e5 steps; 0: none). SAC's stabilizers beyond the reference
              (off by default): --max-grad-norm G clips each network's gradient norm to G,
              --prior-min-std S floors the prior's pre-tanh std at S in its log-prob. With --out,
              checkpoints go to DIR/checkpoint (every N/10 steps by default); --resume continues
              a stopped or failed run from its last checkpoint.
          results --task T [--priors softdqn,bc|sac] [--seeds 0,1,2] [--steps N] [--prior-weights W1,W2]
                  [--alpha-hats A1,A2] [--warm-start K] [--max-grad-norm G] [--prior-min-std S]
                  [--baselines yes|no] [--eval-episodes E] [--parallel P] [--out DIR] [--doc FILE]
              Run the task's results table (prior / customized / oracle / add-on only over seeds;
              one residual row per prior and prior weight, with its own alphaHat if given; the
              stabilizers apply to the residual rows, the baselines stay reference SAC),
              P runs at a time (each with its own env server), and write its section of
              docs/results.md (or FILE). Each run keeps its folder under DIR (default
              target/results/<task>-<steps>): rerunning the same command reuses finished runs
              and resumes the others from their checkpoints.
          ppo --task T [--baseline residual|kl|oracle|addon-only] [--prior DIR] [--steps N] [--seed S]
              [--prior-weight W] [--alpha-hat A] [--beta B] [--init-from-prior yes|no] [--learning-rate L]
              [--normalize-observations yes|no] [--survival-bonus BONUS] [--eval-episodes E]
              [--out DIR] [--checkpoint-dir DIR] [--checkpoint-every N] [--resume]
              Residual policy gradient (PPO) on a MuJoCo task (halfcheetah-speedcap, hopper-height,
              ant-energy; prior examples/priors/T-ppo): residual PPO (reward r_addon + W log pi -
              A log pi_theta, defaults W 0.5, A 0.25), KL-regularized PPO (W = A = B, default 0.5),
              both starting from a copy of the prior's network (learning rate 1e-4) unless
              --init-from-prior no; or PPO from scratch on the total (oracle) or the add-on
              reward. Then the prior and the learned policy on the task's total variant.
              --survival-bonus BONUS (>= 0, residual and kl rows only) adds BONUS to every step's
              shaped reward (default 0; for envs that end episodes early, where the shaped reward
              is negative and falling pays: docs/results.md, hopper-height). Checkpoints between
              rollouts in --out/checkpoint; --resume continues one.
          ppo-results --task T [--steps N] [--seeds 0,1,2] [--rows residual,kl,oracle,addon-only]
                      [--prior-weight W] [--alpha-hat A] [--beta B] [--learning-rate L] [--init-from-prior yes|no]
                      [--survival-bonus BONUS] [--eval-episodes E] [--parallel P] [--out DIR] [--doc FILE]
              The residual policy-gradient table of a MuJoCo task: each row's runs (child JVMs of
              'ppo', P at a time; --learning-rate and --survival-bonus apply to the residual and kl
              rows only), pooled evaluations, its section of docs/results.md. Rerunning reuses
              finished runs.
          mcts --task highway-rightlane [--rows prior,plain,residual] [--episodes E] [--simulations S]
               [--horizon H] [--gamma G] [--prior-weight W] [--alpha-hat A] [--eps X] [--seed S]
               [--prior DIR] [--parallel P] [--transport grpc|py4j] [--out DIR] [--doc FILE]
              Zero-shot customization by residual max-ent tree search (no training): the prior
              alone / plain max-ent MCTS (uniform prior, total reward) / residual MCTS (prior,
              add-on reward) over E seeded episodes, with returns, crash rate and decision
              latency; writes its section of docs/results.md. Defaults: method.md's (150
              simulations, horizon 6, gamma 0.8, w = alphaHat = eps = 1), 10 episodes. Finished
              episodes are kept under DIR (default target/results/<task>-mcts-s<S>-h<H>):
              rerunning the same command continues.
        """);
  }

  /**
   * Refuses an option the command does not know, or a stray value, so that a typo (say
   * {@code --prior-wieght 0.3}) stops the run instead of silently training with the default.
   */
  static void checkOptions(String command, String[] args) {
    java.util.Set<String> known = OPTIONS.get(command);
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument '" + a + "' for '" + command
            + "': options are --name value (see rql4j --help)");
      }
      if (!known.contains(a)) {
        throw new IllegalArgumentException("unknown option " + a + " for '" + command + "'; its options are "
            + new java.util.TreeSet<>(known) + " (see rql4j --help)");
      }
      if (!a.equals("--resume")) {
        i++; // its value (a missing one is named by the option's own parser)
      }
    }
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
    long steps = option(args, "--steps", 100_000);
    Path prior = Path.of(System.getProperty("rql4j.project.dir", "."))
        .resolve("examples/priors/cartpole-center-softdqn");
    System.out.println("rql4j demo: customize a shipped PyTorch prior (soft DQN trained on CartPole's basic reward,");
    System.out.println("stay upright) for a requirement it never saw (keep the cart centred), without its reward.");
    System.out.println("Starting the Python env server (python-bridge)...");
    try (PythonServer server = PythonServer.start(); GrpcEnvClient client = server.connect();
        TorchScriptPrior soft = TorchScriptPrior.load(prior)) {
      ServerInfoResponse info = client.serverInfo();
      System.out.printf("Connected: %s on %s:%d (bridge %s, Python %s, Gymnasium %s)%n", info.getProtocol(),
          server.host(), server.port(), info.getBridgeVersion(), info.getPythonVersion(), info.getGymnasiumVersion());
      System.out.printf("Residual soft Q-learning on DJL, %d env steps of rql4j/cartpole-center-addon-v0 "
          + "(the add-on reward only), seed %d:%n", steps, seed);
      ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().withTotalSteps(steps).withSeed(seed);
      Customize.Result r = Customize.customize(client, soft, "cartpole-center", "residual", cfg, episodes,
          p -> System.out.println("  " + p.line()));
      System.out.printf(Locale.ROOT, "%nBefore / after on rql4j/cartpole-center-total-v0: %d episodes (seeds 10000..), "
          + "deterministic policies; trained in %.0f s%n%n", episodes, r.seconds());
      Customize.printTable(r, "residual");
    }
  }
}
