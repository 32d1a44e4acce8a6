package org.rql4j.customize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.policy.SavablePolicy;

/**
 * The README's "Customize your own policy" section, as written: its Python module, its command
 * line and its Java program are taken from README.md (the fenced blocks after the
 * {@code <!-- readme-snippet: ... -->} markers), then the command runs and the program is compiled and
 * run, in a folder of their own (with the checkout's {@code examples/} linked in), so the section
 * cannot drift from the API.
 */
class ReadmeSnippetIT {

  static final Path ROOT = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();

  @Test
  void theReadmeSectionRunsAsWritten(@TempDir Path work) throws Exception {
    String readme = Files.readString(ROOT.resolve("README.md"));
    Files.writeString(work.resolve("mytasks.py"), snippet(readme, "mytasks.py"));
    Files.createSymbolicLink(work.resolve("examples"), ROOT.resolve("examples"));

    String cli = snippet(readme, "cli").replace("\\\n", " ").trim();
    assertTrue(cli.startsWith("bin/rql4j customize "), cli);
    List<String> command = new ArrayList<>(List.of(ROOT.resolve("bin/rql4j").toString()));
    command.addAll(List.of(cli.substring("bin/rql4j ".length()).trim().split("\\s+")));
    checkTable(run(command, work));
    try (SavablePolicy policy = org.rql4j.learner.Policies.load(work.resolve("runs/stay-left/policy"))) {
      assertTrue(policy != null);
    }

    String java = snippet(readme, "Java");
    Matcher cls = Pattern.compile("public class (\\w+)").matcher(java);
    assertTrue(cls.find(), "the Java snippet declares a public class");
    Files.writeString(work.resolve(cls.group(1) + ".java"), java);
    // the library alone (rql4j/target/classes and its runtime dependencies), as a Java service would have it
    String classpath = ROOT.resolve("rql4j/target/classes") + ":"
        + Files.readString(ROOT.resolve("rql4j/target/classpath.txt")).trim();
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertEquals(0, javac.run(null, null, null, "-cp", classpath, "-d", work.toString(),
        work.resolve(cls.group(1) + ".java").toString()), "the Java snippet compiles");
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    checkTable(run(List.of(javaBin, "-Drql4j.python=" + ROOT.resolve(".venv/bin/python"), "-cp",
        work + ":" + classpath, cls.group(1)), work));
    assertTrue(Files.isRegularFile(work.resolve("runs/stay-left-java/policy/policy.json")));
  }

  private static void checkTable(String output) {
    Matcher row = Pattern.compile("\\| prior alone \\| (-?[\\d.]+) ± [\\d.]+ \\| (-?[\\d.]+) ± [\\d.]+ \\|")
        .matcher(output);
    assertTrue(row.find(), "a prior row with both returns:\n" + output);
    assertTrue(Pattern.compile("\\| customized[^|]*\\| -?[\\d.]+ ± [\\d.]+ \\| -?[\\d.]+ ± [\\d.]+ \\|")
        .matcher(output).find(), "a customized row with both returns:\n" + output);
  }

  /** The fenced block after {@code <!-- readme-snippet: name -->}. */
  static String snippet(String readme, String name) {
    String marker = "<!-- readme-snippet: " + name + " -->";
    int at = readme.indexOf(marker);
    assertTrue(at >= 0, "README.md has no " + marker);
    int open = readme.indexOf("```", at);
    int start = readme.indexOf('\n', open) + 1;
    int end = readme.indexOf("```", start);
    return readme.substring(start, end);
  }

  private static String run(List<String> command, Path dir) throws Exception {
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    byte[] out;
    try (var in = p.getInputStream()) {
      out = in.readAllBytes();
    }
    assertTrue(p.waitFor(600, TimeUnit.SECONDS), command + " finished");
    String text = new String(out, StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), command + ":\n" + text);
    return text;
  }
}
