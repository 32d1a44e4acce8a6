package org.rql4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/rql4j} as a user runs it (needs {@code make setup}): RQL4J_PYTHON
 * chooses the env server's Python, errors are one line with the exit code of their kind, and
 * {@code --debug} adds the stack trace.
 */
class LauncherIT {

  static final Path ROOT = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();

  record Run(int code, String output) {}

  private static Run rql4j(Path dir, String python, String... args) throws Exception {
    return rql4j(dir, python, java.util.Map.of(), args);
  }

  private static Run rql4j(Path dir, String python, java.util.Map<String, String> env, String... args)
      throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ROOT.resolve("bin/rql4j").toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().remove("RQL4J_BRIDGE_TOKEN");
    pb.environment().putAll(env);
    if (python == null) {
      pb.environment().remove("RQL4J_PYTHON");
    } else {
      pb.environment().put("RQL4J_PYTHON", python);
    }
    Process p = pb.start();
    byte[] out;
    try (var in = p.getInputStream()) {
      out = in.readAllBytes();
    }
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(cmd + " did not finish in 120 s");
    }
    return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }

  @Test
  void rql4jPythonChoosesTheServersPythonAndItsFailureIsOneLine(@TempDir Path tmp) throws Exception {
    String python = tmp.resolve("no-such-python").toString();
    String[] args = {"customize", "--task", "cartpole-center", "--steps", "2000", "--eval-episodes", "1", "--out",
        "run"};
    Run r = rql4j(tmp, python, args);
    assertEquals(1, r.code(), r.output());
    assertTrue(r.output().contains("rql4j: could not start the Python env server with '" + python + "'"), r.output());
    assertFalse(r.output().contains("\tat "), "no stack trace without --debug:\n" + r.output());
    assertFalse(Files.exists(tmp.resolve("run")), "nothing written");

    List<String> debug = new ArrayList<>(List.of("--debug"));
    debug.addAll(List.of(args));
    r = rql4j(tmp, python, debug.toArray(String[]::new));
    assertEquals(1, r.code(), r.output());
    assertTrue(r.output().contains("org.rql4j.bridge.BridgeException") && r.output().contains("\tat "),
        "the stack trace with --debug:\n" + r.output());
  }

  @Test
  void theCommandLinesClasspathHoldsNoTestLibraries() throws Exception {
    java.nio.file.Path cp = ROOT.resolve("rql4j-cli/target/classpath.txt");
    org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isRegularFile(cp), "made by make setup");
    for (String jar : java.nio.file.Files.readString(cp).trim().split(java.io.File.pathSeparator)) {
      String name = java.nio.file.Path.of(jar).getFileName().toString();
      org.junit.jupiter.api.Assertions.assertFalse(name.matches("(junit|mockito|archunit|byte-buddy|grpc-inprocess"
          + "|opentest4j|objenesis).*") || name.equals("test-classes"), "bin/rql4j's classpath holds the test library "
          + jar);
    }
  }

  @Test
  void aNumberOutOfRangeExitsWith2(@TempDir Path tmp) throws Exception {
    Run r = rql4j(tmp, null, "customize", "--task", "cartpole-center", "--eval-episodes", "0");
    assertEquals(2, r.code(), r.output());
    assertEquals("rql4j: --eval-episodes must be a whole number in 1..100000, got 0; see rql4j customize --help",
        r.output().strip());
  }

  @Test
  void customizeUsesAServerItDidNotStartWithItsSecret(@TempDir Path tmp) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(ROOT.resolve(".venv/bin/python").toString(), "-m", "rql4j_bridge", "serve",
        "--workers", "2", "--exit-on-stdin-eof").redirectError(ProcessBuilder.Redirect.DISCARD);
    pb.environment().put("RQL4J_BRIDGE_TOKEN", "the-secret-of-this-test");
    Process server = pb.start();
    try {
      String line = new java.io.BufferedReader(new java.io.InputStreamReader(server.getInputStream(),
          StandardCharsets.UTF_8)).readLine();
      assertTrue(line != null && line.startsWith("RQL4J_BRIDGE_PORT="), String.valueOf(line));
      String address = "127.0.0.1:" + line.substring("RQL4J_BRIDGE_PORT=".length()).trim();
      String[] args = {"customize", "--task", "cartpole-center", "--server", address, "--steps", "2000",
          "--eval-episodes", "1", "--out", "run"};
      Run wrong = rql4j(tmp, null, java.util.Map.of("RQL4J_BRIDGE_TOKEN", "another"), args);
      assertTrue(wrong.code() != 0 && wrong.output().contains("--server " + address), wrong.output());
      assertFalse(Files.exists(tmp.resolve("run")), "nothing written");
      Run none = rql4j(tmp, null, args);
      assertTrue(none.code() != 0 && none.output().contains("RQL4J_BRIDGE_TOKEN"), none.output());
      Run right = rql4j(tmp, null, java.util.Map.of("RQL4J_BRIDGE_TOKEN", "the-secret-of-this-test"), args);
      assertEquals(0, right.code(), right.output());
      assertTrue(right.output().contains("| customized (residual) |"), right.output());
      assertTrue(server.isAlive(), "the run must not stop a server it did not start");
    } finally {
      server.destroy();
      server.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
