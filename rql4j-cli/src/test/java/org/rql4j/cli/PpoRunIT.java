package org.rql4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rql4j ppo} end to end on halfcheetah-speedcap (a real MuJoCo env through the bridge, the
 * shipped PPO prior), tiny: its folder, the summary with no finished training episode (NaN
 * returns), and what a second identical or different command does with the finished folder.
 */
class PpoRunIT {

  @Test
  void aFinishedRunIsReusedAndADifferentOneRefusedWithoutTouchingIt(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("run");
    String[] args = {"--task", "halfcheetah-speedcap", "--baseline", "kl", "--steps", "2048", "--eval-episodes", "1",
        "--out", out.toString(), "--resume"};
    PpoRun.run(args);
    for (String f : new String[] {"config.json", "metrics.csv", "summary.json", "checkpoint/checkpoint.json", "checkpoint/learner.safetensors",
        "policy/policy.json", "policy/policy.safetensors"}) {
      assertTrue(Files.isRegularFile(out.resolve(f)), f);
    }
    try (org.rql4j.policy.SavablePolicy policy = org.rql4j.learner.Policies.load(out.resolve("policy"))) {
      org.rql4j.env.Tensor action = (org.rql4j.env.Tensor) policy.act(org.rql4j.env.Tensor.ofFloats(new float[17]), true);
      assertEquals(6, action.toFloatArray().length, "HalfCheetah's 6 motors");
    }
    String summary = Files.readString(out.resolve("summary.json"));
    assertTrue(summary.contains("NaN"), "no episode ended in 2048 steps of 4 copies: NaN recent returns");
    Customize.Result done = PpoRun.finishedWith(args);
    assertNotNull(done);
    assertEquals(1, done.learned().episodes().size());
    assertEquals(2048, done.training().step());
    assertTrue(Double.isNaN(done.training().recentEnvReturn()));
    assertEquals(2, Files.readAllLines(out.resolve("metrics.csv")).size(), "header and one rollout");

    long before = Files.getLastModifiedTime(out.resolve("summary.json")).toMillis();
    PpoRun.run(args); // the same command: the finished result, nothing retrained or rewritten
    assertEquals(before, Files.getLastModifiedTime(out.resolve("summary.json")).toMillis());
    assertEquals(summary, Files.readString(out.resolve("summary.json")));

    String[] other = args.clone();
    other[3] = "residual";
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PpoRun.run(other));
    assertTrue(e.getMessage().contains("other settings"), e.getMessage());
    assertEquals(summary, Files.readString(out.resolve("summary.json")), "the refused command left the run alone");
  }

  @Test
  void badOptionsNameTheOptionBeforeAnythingStarts() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PpoRun.parse(new String[] {"--baseline", "kl", "--prior-weight", "0.3"}));
    assertTrue(e.getMessage().contains("--prior-weight") && e.getMessage().contains("--beta"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> PpoRun.parse(new String[] {"--baseline", "residual", "--normalize-observations", "yes"}));
    assertTrue(e.getMessage().contains("--init-from-prior no"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> PpoRun.parse(new String[] {"--baseline", "sac"}));
    assertTrue(e.getMessage().contains("--baseline"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> PpoResults.run(new String[] {"--seeds", "0,1,0", "--out", "/nonexistent/x"}));
    assertTrue(e.getMessage().contains("twice"), e.getMessage());
    assertEquals(0.5f, PpoRun.parse(new String[] {"--baseline", "kl"}).cfg().priorWeight());
    assertEquals(1e-4f, PpoRun.parse(new String[] {"--baseline", "kl"}).cfg().learningRate());
    assertEquals(3e-4f, PpoRun.parse(new String[] {"--baseline", "oracle"}).cfg().learningRate());
    e = assertThrows(IllegalArgumentException.class,
        () -> PpoRun.parse(new String[] {"--baseline", "oracle", "--survival-bonus", "1"}));
    assertTrue(e.getMessage().contains("--survival-bonus") && e.getMessage().contains("oracle"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> PpoRun.parse(new String[] {"--baseline", "kl", "--survival-bonus", "-1"}));
    assertTrue(e.getMessage().contains("--survival-bonus"), e.getMessage());
    assertEquals(0f, PpoRun.parse(new String[] {"--baseline", "kl"}).cfg().survivalBonus());
    assertEquals(1.5f, PpoRun.parse(new String[] {"--baseline", "residual", "--survival-bonus", "1.5"}).cfg()
        .survivalBonus());
  }
}
