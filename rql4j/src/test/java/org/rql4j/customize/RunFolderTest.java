package org.rql4j.customize;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.env.DType;
import org.rql4j.env.Space;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.prior.Distribution;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.prior.PriorSpec;
import org.rql4j.train.Evaluator;
import org.rql4j.train.OffPolicyTraining;
import org.rql4j.train.OnPolicyTraining;

class RunFolderTest {

  private static JsonObject task(String label, String baseline, String envId, String addon) {
    JsonObject o = new JsonObject();
    o.addProperty("task", label);
    o.addProperty("baseline", baseline);
    if (envId != null) {
      o.addProperty("env_id", envId);
      o.addProperty("addon", addon);
    }
    return o;
  }

  @Test
  void aRunFolderIsNotContinuedWithAnotherTask(@TempDir Path tmp) throws Exception {
    assertDoesNotThrow(() -> RunFolder.checkSameTask(tmp, task("x", "residual", null, null)), "no config.json yet");
    JsonObject left = task("CartPole-v1 + m:stay_left", "residual", "CartPole-v1", "m:stay_left");
    Files.writeString(tmp.resolve("config.json"), left.toString());
    assertDoesNotThrow(() -> RunFolder.checkSameTask(tmp, left));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RunFolder.checkSameTask(tmp,
        task("CartPole-v1 + m:stay_right", "residual", "CartPole-v1", "m:stay_right")));
    assertTrue(e.getMessage().contains("addon m:stay_left -> m:stay_right") && e.getMessage().contains("--out"),
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> RunFolder.checkSameTask(tmp,
        task("CartPole-v1 + m:stay_left", "addon-only", "CartPole-v1", "m:stay_left")));
    assertTrue(e.getMessage().contains("baseline residual -> addon-only"), e.getMessage());
  }

  /**
   * A run that ends before its first training step and before any training episode ends (steps
   * just above learningStarts), evaluated on an env that does not report one reward part: its
   * summary holds NaN, and a rerun reads it back as the finished result.
   */
  @Test
  void aSummaryWithNaNFiguresIsWrittenAndReadBack(@TempDir Path out) throws Exception {
    ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().withTotalSteps(1010);
    PriorPolicy prior = mock(PriorPolicy.class);
    when(prior.spec()).thenReturn(new PriorSpec("p", Distribution.CATEGORICAL,
        new Space.Box(new long[] {4}, DType.FLOAT32, new double[4], new double[4]), new Space.Discrete(2, 0), 4, "none",
        null, null, Double.NaN, null, null, "{}"));
    RunFolder.start(out, "cartpole-center", "residual", 2, prior, "abc", cfg);
    assertNull(RunFolder.finishedSummary(out, cfg, "cartpole-center", "residual", 2, "abc"), "not finished yet");

    double nan = Double.NaN;
    Evaluator.Summary before = new Evaluator.Summary(List.of(new Evaluator.Episode(10000, 500, -12.5, 487.5, 500, false),
        new Evaluator.Episode(10001, 480, -3, 477, 480, true)));
    Evaluator.Summary after = new Evaluator.Summary(List.of(new Evaluator.Episode(10000, nan, nan, 21, 21, true),
        new Evaluator.Episode(10001, nan, nan, 9, 9, true)));
    OffPolicyTraining.Progress last = new OffPolicyTraining.Progress(1010, 1010, 0, nan, nan, nan, "eps", 0.9, nan,
        700, 1.1, 0.2, 0.1, 1.4, false, nan, nan);
    RunFolder.writeSummary(out, before, after, last, "residual");
    String text = Files.readString(out.resolve("summary.json"));
    assertTrue(text.contains("\"loss\": NaN") && text.contains("\"recentEnvReturn\": NaN"), text);

    JsonObject summary = RunFolder.finishedSummary(out, cfg, "cartpole-center", "residual", 2, "abc");
    assertNotNull(summary, "a finished run, NaN figures and all");
    assertEquals(before, RunFolder.episodes(summary, "prior_episodes"));
    assertEquals(after, RunFolder.episodes(summary, "learned_episodes"));
    assertEquals(List.of("basic_reward", "addon_reward"), RunFolder.episodes(summary, "learned_episodes").unreported());
    assertEquals(last, RunFolder.progress(summary, OffPolicyTraining.Progress.class));
    assertTrue(Double.isNaN(RunFolder.progress(summary, OffPolicyTraining.Progress.class).loss()));
    // a summary written before the greedy share was measured: not measured (NaN), not 0
    summary.getAsJsonObject("final_progress").remove("greedyMoved");
    assertTrue(Double.isNaN(RunFolder.progress(summary, OffPolicyTraining.Progress.class).greedyMoved()));

    // PPO's progress before its first update: no losses at all
    OnPolicyTraining.Progress ppo = new OnPolicyTraining.Progress(2048, 2048, 0, nan, nan, nan, null, 900, 2.3);
    RunFolder.writeSummary(out, before, after, ppo, "kl");
    summary = RunFolder.finishedSummary(out, cfg, "cartpole-center", "residual", 2, "abc");
    assertEquals(ppo, RunFolder.progress(summary, OnPolicyTraining.Progress.class));
    assertTrue(Double.isNaN(RunFolder.progress(summary, OnPolicyTraining.Progress.class).loss()));
  }
}
