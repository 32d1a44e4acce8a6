package org.rql4j.cli;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rql4j.bridge.BridgeException;
import org.rql4j.customize.Customization;
import org.rql4j.customize.Task;
import org.rql4j.prior.PriorException;
import org.rql4j.train.TrainingException;

class MainOptionsTest {

  @Test
  void knownOptionsPass() {
    assertDoesNotThrow(() -> Commands.parse("customize", new String[] {"--task", "parking-boundary",
        "--prior-weight", "0.1", "--resume", "--out", "x"}));
    assertDoesNotThrow(() -> Commands.parse("mcts", new String[] {"--simulations", "20", "--transport", "py4j"}));
    assertDoesNotThrow(() -> Commands.parse("demo", new String[] {}));
  }

  @Test
  void aTypoOrAnotherCommandsOptionIsNamed() {
    IllegalArgumentException typo = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("customize", new String[] {"--prior-wieght", "0.3"}));
    assertTrue(typo.getMessage().contains("--prior-wieght") && typo.getMessage().contains("--prior-weight")
        && typo.getMessage().contains("rql4j customize --help"),
        typo.getMessage());
    IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("results", new String[] {"--simulations", "20"}));
    assertTrue(other.getMessage().contains("--simulations") && other.getMessage().contains("rql4j results --help"),
        other.getMessage());
  }

  @Test
  void aStrayValueIsNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("customize", new String[] {"--steps", "1000", "2000"}));
    assertTrue(e.getMessage().contains("2000"), e.getMessage());
  }

  @Test
  void aMissingValueOrARepeatedOptionIsNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("customize", new String[] {"--prior", "--steps", "1000"}));
    assertTrue(e.getMessage().contains("--prior"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("customize", new String[] {"--steps", "1000", "--out"}));
    assertTrue(e.getMessage().contains("Missing required parameter for option '--out'"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("customize", new String[] {"--seed", "1", "--seed", "2"}));
    assertTrue(e.getMessage().contains("--seed") && e.getMessage().contains("should be specified only once"),
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("customize", new String[] {"--steps", "many"}));
    assertTrue(e.getMessage().contains("--steps") && e.getMessage().contains("many"), e.getMessage());
    assertDoesNotThrow(() -> Commands.parse("customize", new String[] {"--env-id", "E-v0", "--import", "a",
        "--import", "b", "--alpha-hat", "-1"}));
  }

  /** The tuning options' forms are checked before any process starts (whether they apply, once the learner is known). */
  @Test
  void tuningValuesOfTheWrongFormAreRefusedBeforeAnythingStarts() {
    Customize.checkValues("0.5", "auto_0.5", "2000", "10", "reference");
    Customize.checkValues(null, "auto", null, null, null);
    for (String[] bad : new String[][] {{"-1", null, null, null, null}, {null, "-1", null, null, null},
        {null, "auto_x", null, null, null}, {null, null, "1e3", null, null}, {null, null, null, "NaN", null},
        {null, null, null, null, "-0.1"}}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Customize.checkValues(bad[0], bad[1], bad[2], bad[3], bad[4]));
      assertTrue(e.getMessage().startsWith("--"), e.getMessage());
    }
  }

  /** Every numeric option's range, checked as the command line is parsed: before anything starts. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "customize   | --eval-episodes | -3         | 1..100000",
      "customize   | --eval-episodes | 0          | 1..100000",
      "customize   | --eval-episodes | 3000000000 | 1..100000",
      "customize   | --eval-episodes | 100001     | 1..100000",
      "customize   | --seed          | -1         | 0..4294967295",
      "customize   | --seed          | 4294967296 | 0..4294967295",
      "customize   | --steps         | 0          | 1..1000000000000",
      "customize   | --checkpoint-every | 0       | 1..1000000000000",
      "demo        | --episodes      | 0          | 1..100000",
      "demo        | --seed          | -5         | 0..4294967295",
      "demo        | --steps         | -100       | 1..1000000000000",
      "results     | --eval-episodes | 0          | 1..100000",
      "results     | --parallel      | 0          | 1..256",
      "results     | --steps         | 0          | 1..1000000000000",
      "ppo         | --seed          | -1         | 0..4294967295",
      "ppo         | --eval-episodes | -3         | 1..100000",
      "ppo         | --checkpoint-every | -1      | 1..1000000000000",
      "ppo-results | --parallel      | 1000       | 1..256",
      "ppo-results | --eval-episodes | 0          | 1..100000",
      "mcts        | --episodes      | 0          | 1..100000",
      "mcts        | --simulations   | 0          | 1..1000000",
      "mcts        | --horizon       | 0          | 1..1000",
      "mcts        | --horizon       | 1001       | 1..1000",
      "mcts        | --seed          | -1         | 0..4294967295",
      "mcts        | --parallel      | -2         | 1..256",
  })
  void aNumberOutOfRangeIsRefusedNamingTheOptionValueAndRange(String command, String option, String value,
      String range) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse(command, new String[] {option, value}));
    assertEquals(option + " must be a whole number in " + range + ", got " + value + "; see rql4j " + command
        + " --help", e.getMessage());
  }

  @Test
  void theRangesEndsAreAccepted() {
    assertDoesNotThrow(() -> Commands.parse("customize", new String[] {"--eval-episodes", "1", "--seed", "0",
        "--steps", "1", "--checkpoint-every", "1"}));
    assertDoesNotThrow(() -> Commands.parse("customize", new String[] {"--eval-episodes", "100000", "--seed",
        "4294967295"}));
    assertDoesNotThrow(() -> Commands.parse("mcts", new String[] {"--horizon", "1000", "--simulations", "1",
        "--parallel", "256"}));
    assertEquals(20, Commands.parse("customize", new String[] {}).whole("--eval-episodes", 20), "a default");
  }

  @Test
  void everySeedOfAListIsInRange() {
    assertDoesNotThrow(() -> Commands.parse("results", new String[] {"--seeds", "0, 1,2"}));
    for (String command : new String[] {"results", "ppo-results"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Commands.parse(command, new String[] {"--seeds", "0,-1,2"}));
      assertEquals("--seeds (in '0,-1,2') must be a whole number in 0..4294967295, got -1; see rql4j " + command
          + " --help", e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> Commands.parse(command, new String[] {"--seeds", "0,a"}));
      assertTrue(e.getMessage().contains("--seeds") && e.getMessage().contains("'a'")
          && e.getMessage().contains("0..4294967295"), e.getMessage());
    }
  }

  @Test
  void theHelpShowsTheRanges() {
    Run r = main("customize", "--help");
    assertEquals(0, r.code());
    assertTrue(r.out().contains("[1..100000]") && r.out().contains("[0..4294967295]") && r.out().contains("--debug"),
        r.out());
    assertTrue(main("--help").out().contains("--debug"));
  }

  @Test
  void theLibraryRefusesANegativeSeed() {
    Customization.Builder b = Customization.builder(Task.builtIn("cartpole-center"), Path.of("p"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.optSeed(-1));
    assertTrue(e.getMessage().contains("seed") && e.getMessage().contains("-1"), e.getMessage());
    assertDoesNotThrow(() -> b.optSeed(0));
  }

  @Test
  void aBadOptionExitsWith2AndOneLineBeforeAnythingStarts() {
    Run r = main("customize", "--eval-episodes", "-3");
    assertEquals(2, r.code());
    assertEquals("rql4j: --eval-episodes must be a whole number in 1..100000, got -3; see rql4j customize --help",
        r.err().strip());
    r = main("nosuch");
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("rql4j: unknown command 'nosuch'"), r.err());
  }

  @Test
  void debugBeforeOrAfterTheCommandAddsTheStackTrace() {
    for (String[] args : new String[][] {{"--debug", "customize", "--seed", "-1"},
        {"customize", "--seed", "-1", "--debug"}}) {
      Run r = main(args);
      assertEquals(2, r.code(), r.err());
      assertTrue(r.err().startsWith("rql4j: --seed must be a whole number in 0..4294967295, got -1"), r.err());
      assertTrue(r.err().contains("java.lang.IllegalArgumentException") && r.err().contains("\tat org.rql4j.cli.Opts"),
          "the stack trace with --debug:\n" + r.err());
    }
    assertFalse(main("customize", "--seed", "-1").err().contains("\tat "), "no stack trace without --debug");
  }

  @Test
  void aBadPriorPackageIsOneLineAndExit1(@TempDir Path tmp) throws IOException {
    Path prior = Files.createDirectories(tmp.resolve("not-a-prior"));
    Run r = main("customize", "--task", "cartpole-center", "--prior", prior.toString(), "--steps", "2000");
    assertEquals(1, r.code(), r.err());
    assertEquals("rql4j: " + prior.resolve("prior.json") + " is missing: " + prior + " is not a prior package. Make "
        + "one with `rql4j-bridge export --kind ... --checkpoint ... --out " + prior + "`", r.err().strip());
    r = main("--debug", "customize", "--task", "cartpole-center", "--prior", prior.toString(), "--steps", "2000");
    assertEquals(1, r.code(), r.err());
    assertTrue(r.err().contains("org.rql4j.prior.PriorException") && r.err().contains("\tat "), r.err());
  }

  @Test
  void libraryFailuresAreTheirMessageAndBugsAnInternalError() {
    String[] expected = {
        err(() -> Main.failed(new PriorException("prior 'p' is broken"), false), 1),
        err(() -> Main.failed(new BridgeException("the env server died"), false), 1),
        err(() -> Main.failed(new TrainingException("training on X stopped", 10, null), false), 1),
        err(() -> Main.failed(new IOException("disk full"), false), 1),
        err(() -> Main.failed(new UncheckedIOException(new IOException("no such file: x")), false), 1),
        err(() -> Main.failed(new UncheckedIOException("cannot save to d", new IOException("read-only")), false), 1),
        err(() -> Main.failed(new CommandException("run r exited with code 3", null), false), 1),
        err(() -> Main.failed(new IllegalArgumentException("--algo must be softq, sac or ppo"), false), 2),
    };
    assertEquals(java.util.List.of("rql4j: prior 'p' is broken", "rql4j: the env server died",
        "rql4j: training on X stopped", "rql4j: disk full", "rql4j: no such file: x",
        "rql4j: cannot save to d (read-only)", "rql4j: run r exited with code 3",
        "rql4j: --algo must be softq, sac or ppo"), java.util.List.of(expected));
    assertEquals("rql4j: internal error: java.lang.NullPointerException: x is null (rerun with --debug for the stack "
        + "trace)", err(() -> Main.failed(new NullPointerException("x is null"), false), 1));
    String debug = err(() -> Main.failed(new IllegalStateException("bad state"), true), 1);
    assertTrue(debug.startsWith("rql4j: internal error: java.lang.IllegalStateException: bad state\n")
        && debug.contains("\tat org.rql4j.cli.MainOptionsTest"), debug);
  }

  /**
   * A run's config.json records its budget's prior temperature (a sure prior flattened by the default);
   * one that is not a number > 0 is refused, naming the file and the key, before anything starts.
   */
  @Test
  void aConfigFilesPriorTemperatureIsAPositiveNumber(@TempDir Path dir) throws IOException {
    Path config = dir.resolve("config.json");
    Files.writeString(config, "{\"task\": \"cartpole-center\", \"kl_budget\": 0.1, \"kl_budget_kappa\": 1.0, "
        + "\"kl_budget_prior_temperature\": -4.1}");
    Run run = main("customize", "--config", config.toString(), "--out", dir.resolve("out").toString());
    assertEquals(2, run.code(), run.err());
    assertTrue(run.err().contains(config.toString()) && run.err().contains("kl_budget_prior_temperature must be a "
        + "number > 0, got '-4.1'"), run.err());
    assertFalse(Files.exists(dir.resolve("out")), "nothing written");
  }

  record Run(int code, String out, String err) {}

  /** {@link Main#run} in this JVM, its stdout and stderr captured. */
  private static synchronized Run main(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    int code;
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      code = Main.run(args);
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /** What {@code call} prints on stderr (stripped), checking the exit code it returns. */
  private static synchronized String err(java.util.function.IntSupplier call, int code) {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream old = System.err;
    try {
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      assertEquals(code, call.getAsInt());
    } finally {
      System.setErr(old);
    }
    return err.toString(StandardCharsets.UTF_8).strip();
  }
}
