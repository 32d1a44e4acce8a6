package org.rql4j.customize;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One {@code python -P -m rql4j_bridge <command> ...} run to its end, for the steps that run in Python
 * ({@link PolicyExport}, {@link PolicyEvaluation}, {@link PriorInspection}): its output goes to a file (so that the timeout holds
 * even when Python hangs without writing), and a failure becomes an {@link IOException} carrying
 * Python's one-line message.
 */
final class PythonCommand {

  private PythonCommand() {}

  /**
   * Runs it and returns its output; {@code what} names the job in messages ("exporting runs/x"),
   * {@code extras} the bridge's extras it needs (for the install line of a missing module).
   */
  static String run(Path python, String command, List<String> args, Duration timeout, String what, String extras)
      throws IOException {
    return run(python, command, args, timeout, what, extras, null);
  }

  /** As above, in {@code workingDir} (null: this process's). */
  static String run(Path python, String command, List<String> args, Duration timeout, String what, String extras,
      Path workingDir) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(python.toString(), "-P", "-m", "rql4j_bridge", command));
    cmd.addAll(args);
    Path log = Files.createTempFile("rql4j-" + command, ".log");
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
      pb.environment().put("PYTHONSAFEPATH", "1");
      if (workingDir != null) {
        pb.directory(workingDir.toFile());
      }
      Process p;
      try {
        p = pb.start();
      } catch (IOException e) {
        throw new IOException("cannot start " + python + " for " + what + " (" + e.getMessage() + "); point "
            + "-Drql4j.python / RQL4J_PYTHON at a Python with rql4j-bridge[" + extras + "] installed", e);
      }
      p.getOutputStream().close();
      try {
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          p.destroyForcibly();
          throw new IOException(what + " took longer than " + timeout + " and was stopped");
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while " + what, e);
      }
      String output = Files.readString(log, StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        String why = lastLine(output, command);
        boolean missingModule = output.contains("No module named 'torch'") || output.contains("No module named 'onnx")
            || output.contains("No module named 'safetensors'") || output.contains("No module named 'imageio");
        throw new IOException(what + " failed: " + (why.isEmpty() ? "Python exited with code " + p.exitValue()
            + " and no message" : why) + (missingModule && !why.contains("pip install")
                ? " (install the bridge's extras: pip install 'rql4j-bridge[" + extras + "]')" : ""));
      }
      return output;
    } finally {
      Files.deleteIfExists(log);
    }
  }

  /** The last non-blank line of {@code text} without the command's prefix (Python's one-line error). */
  static String lastLine(String text, String command) {
    String[] lines = text.strip().split("\n");
    String last = lines.length == 0 ? "" : lines[lines.length - 1].strip();
    for (String prefix : new String[] {"rql4j-bridge " + command + ": error: ", "rql4j-bridge: "}) {
      if (last.startsWith(prefix)) {
        return last.substring(prefix.length());
      }
    }
    return last;
  }
}
