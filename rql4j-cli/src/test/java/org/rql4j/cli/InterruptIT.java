package org.rql4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ctrl-C as a terminal sends it: SIGINT to the whole process group of {@code bin/rql4j customize}
 * (the JVM and, unless it has its own group, the env server) at a random moment of training, five
 * times. Each leaves a checkpoint, says how to resume, and the resumed run reaches the full step
 * count.
 */
class InterruptIT {

  private static final Path ROOT = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();
  private static final long STEPS = 6000;

  @Test
  void sigintToTheProcessGroupAlwaysLeavesAResumableCheckpoint(@TempDir Path tmp) throws Exception {
    Random random = new Random(18);
    int interrupted = 0;
    for (int trial = 0; trial < 5; trial++) {
      Path out = tmp.resolve("run" + trial);
      List<String> args = List.of("customize", "--task", "cartpole-center", "--steps", Long.toString(STEPS),
          "--eval-episodes", "1", "--checkpoint-every", "1000", "--out", out.toString());
      long delayMs = random.nextInt(2500);
      // setsid: the run leads a process group of its own, as a terminal's foreground job does
      List<String> cmd = new ArrayList<>(List.of("setsid", ROOT.resolve("bin/rql4j").toString()));
      cmd.addAll(args);
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      StringBuilder output = new StringBuilder();
      CompletableFuture<Void> training = new CompletableFuture<>();
      Thread reader = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) {
            synchronized (output) {
              output.append(line).append('\n');
            }
            if (line.startsWith("step ") && line.contains("/" + STEPS)) { // training is under way
              training.complete(null);
            }
          }
        } catch (java.io.IOException e) {
          // the process ended
        }
      });
      reader.start();
      training.get(120, TimeUnit.SECONDS);
      Thread.sleep(delayMs);
      assertEquals(0, new ProcessBuilder("kill", "-INT", "--", "-" + p.pid()).start().waitFor(), "kill -INT -PGID");
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the interrupted run stops");
      reader.join(10_000);
      String text;
      synchronized (output) {
        text = output.toString();
      }
      String where = "trial " + trial + " (SIGINT " + delayMs + " ms into training):\n" + text;
      if (p.exitValue() != 0) {
        interrupted++;
        assertEquals(130, p.exitValue(), where);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("interrupted at env step (\\d+): everything "
            + "learned up to there is saved in").matcher(text);
        assertTrue(m.find() && text.contains("--resume"), where);
        assertTrue(Files.isRegularFile(out.resolve("checkpoint/checkpoint.json")), where);
        long at = Long.parseLong(m.group(1));
        assertTrue(at > 0 && at < STEPS, where);
        assertEquals(at, JsonParser.parseString(Files.readString(out.resolve("checkpoint/checkpoint.json")))
            .getAsJsonObject().get("step").getAsLong(), "the checkpoint is the interruption's, not an older one: "
            + where);
        System.out.printf("InterruptIT trial %d: SIGINT %d ms after the first progress line: stopped at env step %d, "
            + "exit 130, checkpoint at %d%n", trial, delayMs, at, at);
        assertTrue(!Files.exists(out.resolve("summary.json")), where);
      } // else: it had finished before the signal came (then it must be complete)
      Path ckJson = out.resolve("checkpoint/checkpoint.json");
      long saved = JsonParser.parseString(Files.readString(ckJson)).getAsJsonObject().get("step").getAsLong();
      assertTrue(saved > 0 || p.exitValue() != 0, where);

      List<String> resume = new ArrayList<>(List.of(ROOT.resolve("bin/rql4j").toString()));
      resume.addAll(args);
      resume.add("--resume");
      Process again = new ProcessBuilder(resume).redirectErrorStream(true).start();
      String resumed = new String(again.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(again.waitFor(300, TimeUnit.SECONDS));
      assertEquals(0, again.exitValue(), where + "\nresumed:\n" + resumed);
      long finalStep = JsonParser.parseString(Files.readString(out.resolve("summary.json"))).getAsJsonObject()
          .getAsJsonObject("final_progress").get("step").getAsLong();
      assertEquals(STEPS, finalStep, where + "\nresumed:\n" + resumed);
      System.out.printf("InterruptIT trial %d: resumed to env step %d%n", trial, finalStep);
      assertNotEquals(-1, resumed.indexOf("|"), resumed); // the before/after table
    }
    assertTrue(interrupted >= 4, interrupted + " of 5 runs were interrupted; the others finished first: a test "
        + "of nothing (make the runs longer)");
  }
}
