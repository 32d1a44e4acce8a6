package org.rql4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * The shaded command line, {@code rql4j-cli/target/rql4j-cli-VERSION.jar} (made in the package phase,
 * before this runs), works alone from another directory: {@code --version}, {@code customize --help},
 * and a real customization (DJL's engine found through the merged ServiceLoader files, its natives
 * from inside the jar, offline).
 */
class RunnableJarIT {

  static final Path ROOT = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();

  private static Path jar() throws Exception {
    try (var files = Files.list(ROOT.resolve("rql4j-cli/target"))) {
      return files.filter(f -> f.getFileName().toString().matches("rql4j-cli-[0-9.]+(-SNAPSHOT)?\\.jar")).findFirst()
          .orElseThrow(() -> new AssertionError("no rql4j-cli-VERSION.jar in rql4j-cli/target (mvn package makes it)"));
    }
  }

  private static String run(Path dir, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-jar",
        jar().toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().put("RQL4J_PYTHON", ROOT.resolve(".venv/bin/python").toString());
    pb.environment().put("PYTHONWARNINGS", "ignore");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), "finished");
    assertEquals(0, p.exitValue(), cmd + ":\n" + out);
    return out;
  }

  @Test
  void theJarRunsAloneFromAnotherDirectory(@TempDir Path dir) throws Exception {
    String version = new String(getClass().getResourceAsStream("/org/rql4j/version.properties").readAllBytes(),
        StandardCharsets.UTF_8).replaceAll("(?s).*version=([^\\s]+).*", "$1");
    assertEquals("rql4j " + version, run(dir, "--version").strip());
    assertTrue(run(dir, "customize", "--help").contains("Usage: rql4j customize"));

    Files.writeString(dir.resolve("mytasks.py"), "def stay_left(obs, action, next_obs, reward, terminated, truncated,"
        + " info):\n    return 1.0 if next_obs[0] < 0.0 else 0.0\n");
    String out = run(dir, "customize", "--env-id", "CartPole-v1", "--addon", "mytasks:stay_left", "--prior",
        ROOT.resolve("examples/priors/cartpole-center-softdqn").toString(), "--steps", "1100", "--eval-episodes", "1",
        "--out", "run");
    assertTrue(out.contains("| customized (residual) |"), out);
    assertTrue(Files.isRegularFile(dir.resolve("run/policy/policy.json")));
    assertTrue(Files.isRegularFile(dir.resolve("run/summary.json")));
  }
}
