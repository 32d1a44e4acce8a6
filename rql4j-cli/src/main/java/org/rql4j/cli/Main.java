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
 * The {@code rql4j} command line: {@code rql4j [--debug] <command> [options]},
 * {@code rql4j <command> --help}, {@code rql4j --version}. The commands and their options are
 * {@link Commands}' table, parsed by picocli; each command only parses, prints and writes tables
 * over the library ({@link org.rql4j.customize.Customization} and the learners).
 *
 * <p>What fails reaches the user as one line, {@code rql4j: <message>}: exit code 2 for a command
 * line or setting that does not fit ({@link IllegalArgumentException}), 1 for what went wrong
 * while running (a prior package, the env server, training, a file), and 1 with
 * {@code rql4j: internal error: ...} for anything else (a bug). {@code --debug}, before the command
 * or among its options, adds the stack trace.
 */
public final class Main {

  /** The global flag (before the command, or an option of every command) that adds stack traces to errors. */
  static final String DEBUG = "--debug";

  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /**
   * Runs the command line {@code args} and returns its exit code (0 done, 1 failed, 2 refused);
   * what fails is reported on stderr, nothing is thrown.
   */
  static int run(String[] args) {
    boolean debug = args.length > 0 && args[0].equals(DEBUG);
    if (debug) {
      args = Arrays.copyOfRange(args, 1, args.length);
    }
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
      usage();
      return 0;
    }
    if (args[0].equals("--version") || args[0].equals("-V")) {
      System.out.println("rql4j " + version());
      return 0;
    }
    if (!Commands.SPECS.containsKey(args[0])) {
      System.err.println("rql4j: unknown command '" + args[0] + "'; the commands are "
          + String.join(", ", Commands.SPECS.keySet()) + " (rql4j --help)");
      return 2;
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    // --debug among the command's options; before they parse, as given (a command line that does not parse has it too)
    debug |= Arrays.asList(rest).contains(DEBUG);
    try {
      Opts opts = Commands.parse(args[0], rest);
      if (opts.helpRequested()) {
        if (opts.has("--version")) {
          System.out.println("rql4j " + version());
        } else {
          new picocli.CommandLine(Commands.SPECS.get(args[0])).usage(System.out);
        }
        return 0;
      }
      String numerics = org.rql4j.runtime.Numerics.mismatchWarning();
      if (numerics != null) {
        System.err.println("rql4j: warning: " + numerics);
      }
      switch (args[0]) {
        case "demo" -> {
          Signals.stopTrainingOnInterrupt();
          demo(rest);
        }
        case "customize" -> Customize.run(rest);
        case "results" -> Results.run(rest);
        case "mcts" -> MctsTable.run(rest);
        case "ppo" -> PpoRun.run(rest);
        case "ppo-results" -> PpoResults.run(rest);
        case "export" -> export(opts);
        case "evaluate" -> evaluate(opts);
        case "inspect-prior" -> inspectPrior(opts);
        default -> throw new IllegalStateException("command " + args[0] + " has options but no code");
      }
      return 0;
    } catch (Exception e) {
      return failed(e, debug);
    }
  }

  /** {@code rql4j evaluate POLICY_DIR ...}: {@link org.rql4j.customize.PolicyEvaluation}. */
  private static void evaluate(Opts opts) throws java.io.IOException {
    java.nio.file.Path dir = java.nio.file.Path.of(opts.positional(0));
    org.rql4j.customize.PolicyEvaluation.Builder b = org.rql4j.customize.PolicyEvaluation.builder(dir)
        .optEpisodes((int) opts.whole("--episodes", 20));
    if (opts.has("--env-id")) {
      b.optEnvId(opts.text("--env-id", null));
    }
    if (opts.has("--addon")) {
      b.optAddon(opts.text("--addon", null));
    }
    if (opts.has("--import")) {
      opts.all("--import").forEach(b::optImport);
    }
    if (opts.has("--video")) {
      b.optVideo(java.nio.file.Path.of(opts.text("--video", null)));
    }
    org.rql4j.customize.PolicyEvaluation.Result r = b.build().run();
    System.out.println("rql4j evaluate: " + dir + " on " + r.envId() + (r.addon() == null ? "" : " + " + r.addon())
        + ", " + r.prior().episodes().size() + " episodes each (seeds 10000..), deterministic\n");
    System.out.println(r.markdown().strip());
    System.out.println();
    System.out.println(Double.isNaN(r.kl()) ? "KL(customized || prior): not computed (" + r.klReason() + ")"
        : String.format(java.util.Locale.ROOT, "KL(customized || prior), mean per step: %.4g on the customized "
            + "policy's states, %.4g on the prior's", r.kl(), r.klOnPriorStates()));
    if (r.video() != null) {
      System.out.println("wrote " + r.video() + " (prior left, customized right)");
    }
  }

  /** {@code rql4j inspect-prior PRIOR_DIR --env-id ID ...}: {@link org.rql4j.customize.PriorInspection}. */
  private static void inspectPrior(Opts opts) throws java.io.IOException {
    String envId = opts.text("--env-id", null);
    if (envId == null) {
      throw new IllegalArgumentException("--env-id ID is needed: the Gymnasium id you mean to customize the prior on");
    }
    java.nio.file.Path dir = java.nio.file.Path.of(opts.positional(0));
    org.rql4j.customize.PriorInspection.Builder b = org.rql4j.customize.PriorInspection.builder(dir, envId)
        .optEpisodes((int) opts.whole("--episodes", 3)).optSeed(opts.whole("--seed", 0));
    b.optMaxSteps((int) opts.whole("--max-steps", 2000));
    if (opts.has("--addon")) {
      b.optAddon(opts.text("--addon", null));
    }
    if (opts.has("--import")) {
      opts.all("--import").forEach(b::optImport);
    }
    org.rql4j.customize.PriorInspection.Report r = b.build().run();
    System.out.print(r.text());
  }

  /** {@code rql4j export RUN_DIR --out DIR}: {@link org.rql4j.customize.PolicyExport}. */
  private static void export(Opts opts) throws java.io.IOException {
    String out = opts.text("--out", null);
    if (out == null) {
      throw new IllegalArgumentException("--out DIR is needed: the folder to write the exported policy to");
    }
    java.nio.file.Path run = java.nio.file.Path.of(opts.positional(0));
    java.nio.file.Path written = org.rql4j.customize.PolicyExport.builder(run, java.nio.file.Path.of(out))
        .optOnnx(!opts.has("--no-onnx")).build().run();
    System.out.println("exported " + run + " to " + written + " (load it in Python with rql4j_bridge.load_policy, or "
        + "customize it again with --prior " + written + ")");
  }

  /**
   * Reports a command's failure on stderr and returns its exit code: {@code rql4j: <message>} and
   * 2 for input that does not fit ({@link IllegalArgumentException}); {@code rql4j: <message>}
   * and 1 for the library's failures ({@link org.rql4j.prior.PriorException},
   * {@link org.rql4j.bridge.BridgeException}, {@link org.rql4j.train.TrainingException}, I/O);
   * {@code rql4j: internal error: <class>: <message>} and 1 for anything else. With
   * {@code debug} the stack trace follows.
   */
  static int failed(Exception e, boolean debug) {
    if (e instanceof org.rql4j.train.TrainingException && org.rql4j.train.Interruption.requested()) {
      return report(e, 130, false, debug); // stopped by Ctrl-C / SIGTERM, as a shell reports a SIGINT
    }
    if (e instanceof IllegalArgumentException) {
      return report(e, 2, false, debug);
    }
    boolean expected = e instanceof org.rql4j.train.TrainingException || e instanceof java.io.UncheckedIOException
        || e instanceof org.rql4j.bridge.BridgeException || e instanceof org.rql4j.prior.PriorException
        || e instanceof CommandException || e instanceof java.io.IOException;
    return report(e, 1, !expected, debug);
  }

  private static int report(Exception e, int code, boolean internal, boolean debug) {
    if (internal) {
      System.err.println("rql4j: internal error: " + e.getClass().getName() + ": " + e.getMessage()
          + (debug ? "" : " (rerun with --debug for the stack trace)"));
    } else {
      System.err.println("rql4j: " + message(e));
    }
    if (debug) {
      e.printStackTrace(System.err);
    }
    return code;
  }

  /**
   * What the user reads of an expected failure: its message, and its cause's where the message
   * does not already hold it (an exception made from a cause alone reads as the cause).
   */
  static String message(Throwable e) {
    Throwable cause = e.getCause();
    String m = e.getMessage();
    if (cause != null && m != null && m.equals(cause.toString())) {
      return message(cause); // new UncheckedIOException(ioException): "java.io.IOException: ..."
    }
    if (m == null || m.isBlank()) {
      m = e.getClass().getSimpleName();
    }
    String c = cause == null ? null : cause.getMessage();
    if (c != null && !c.isBlank() && !m.contains(c)) {
      m += " (" + c + ")";
    }
    return m;
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
    System.out.println("usage: rql4j [--debug] <command> [options]    (rql4j <command> --help for its options; "
        + "rql4j --version)\n");
    System.out.println("commands:");
    Commands.SPECS.forEach((name, spec) -> {
      String first = spec.usageMessage().description()[0];
      int dot = first.indexOf(". ");
      System.out.printf("  %-12s %s%n", name, dot < 0 ? first : first.substring(0, dot + 1));
    });
    System.out.println("""

        Customize your own policy: rql4j customize --env-id ID --addon MODULE:FUNCTION --prior DIR
        (README, "Customize your own policy"; docs/tasks.md, "Your own task").

        Errors are one line, "rql4j: <what went wrong>"; exit code 2 for options or settings that do not fit,
        1 for a failure while running. --debug (before the command, or among its options) adds the stack trace.""");
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
