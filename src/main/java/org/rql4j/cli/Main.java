package org.rql4j.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.proto.v1.ServerInfoResponse;

/**
 * The {@code rql4j} command line: {@code rql4j <command> [options]}, {@code rql4j <command> --help},
 * {@code rql4j --version}. The commands and their options are {@link Commands}' table, parsed by
 * picocli; each command only parses, prints and writes tables over the library
 * ({@link org.rql4j.customize.Customization} and the learners).
 */
public final class Main {

  private Main() {}

  public static void main(String[] args) {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
      usage();
      return;
    }
    if (args[0].equals("--version") || args[0].equals("-V")) {
      System.out.println("rql4j " + version());
      return;
    }
    if (!Commands.SPECS.containsKey(args[0])) {
      System.err.println("rql4j: unknown command '" + args[0] + "'; the commands are "
          + String.join(", ", Commands.SPECS.keySet()) + " (rql4j --help)");
      System.exit(2);
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    try {
      Opts opts = Commands.parse(args[0], rest);
      if (opts.helpRequested()) {
        if (opts.has("--version")) {
          System.out.println("rql4j " + version());
        } else {
          new picocli.CommandLine(Commands.SPECS.get(args[0])).usage(System.out);
        }
        return;
      }
      String numerics = org.rql4j.runtime.Numerics.mismatchWarning();
      if (numerics != null) {
        System.err.println("rql4j: warning: " + numerics);
      }
      switch (args[0]) {
        case "demo" -> demo(rest);
        case "customize" -> Customize.run(rest);
        case "results" -> Results.run(rest);
        case "mcts" -> MctsTable.run(rest);
        case "ppo" -> PpoRun.run(rest);
        case "ppo-results" -> PpoResults.run(rest);
        default -> throw new IllegalStateException("command " + args[0] + " has options but no code");
      }
    } catch (IllegalArgumentException e) {
      System.err.println("rql4j: " + e.getMessage());
      System.exit(2);
    } catch (org.rql4j.train.TrainingException | java.io.UncheckedIOException
        | org.rql4j.bridge.BridgeException | org.rql4j.prior.PriorException e) {
      System.err.println("rql4j: " + e.getMessage());
      System.exit(1);
    } catch (java.io.IOException e) {
      System.err.println("rql4j: " + e.getMessage());
      System.exit(1);
    }
  }

  /** This build's version (the Maven project's). */
  static String version() {
    try (java.io.InputStream in = Main.class.getResourceAsStream("/org/rql4j/version.properties")) {
      java.util.Properties p = new java.util.Properties();
      if (in != null) {
        p.load(in);
      }
      return p.getProperty("version", "unknown");
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }

  private static void usage() {
    System.out.println("usage: rql4j <command> [options]    (rql4j <command> --help for its options; rql4j --version)\n");
    System.out.println("commands:");
    Commands.SPECS.forEach((name, spec) -> {
      String first = spec.usageMessage().description()[0];
      int dot = first.indexOf(". ");
      System.out.printf("  %-12s %s%n", name, dot < 0 ? first : first.substring(0, dot + 1));
    });
    System.out.println("""

        Customize your own policy: rql4j customize --env-id ID --addon MODULE:FUNCTION --prior DIR
        (README, "Customize your own policy"; docs/tasks.md, "Your own task").""");
  }

  private static void demo(String[] args) {
    Opts o = Commands.parse("demo", args);
    int episodes = (int) o.whole("--episodes", 20);
    long seed = o.whole("--seed", 0);
    long steps = o.whole("--steps", 100_000);
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
      Customize.Result r = Customize.customize(client, soft, org.rql4j.customize.Task.builtIn("cartpole-center"),
          "residual", cfg, episodes,
          p -> System.out.println("  " + p.line()));
      System.out.printf(Locale.ROOT, "%nBefore / after on rql4j/cartpole-center-total-v0: %d episodes (seeds 10000..), "
          + "deterministic policies; trained in %.0f s%n%n", episodes, r.seconds());
      Customize.printTable(r, "residual");
    }
  }
}
