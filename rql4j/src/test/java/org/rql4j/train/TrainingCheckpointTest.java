package org.rql4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.learner.ResidualSoftQLearning;

/** Saving, loading and refusing training checkpoints (the resume path is in SoftQTrainingIT). */
class TrainingCheckpointTest {

  private static final ResidualSoftQConfig CFG = ResidualSoftQConfig.cartpole().withTotalSteps(5000);

  private static ReplayBuffer buffer(int n) {
    ReplayBuffer b = new ReplayBuffer(16, 4, 2);
    for (int i = 0; i < n; i++) {
      b.add(new float[] {i, -i, 0.5f * i, 1}, i % 2, -i, new float[] {i + 1, 0, 0, 0}, i % 3 == 0,
          new float[] {-0.1f * i, -1f});
    }
    return b;
  }

  private static TrainingCheckpoint.Loop loop(long step) {
    return new TrainingCheckpoint.Loop(step, 7, 0.25, 1, 2, 3, 6, List.of(new double[] {1, 2, 3}));
  }

  @Test
  void aCheckpointRestoresTheLearnerBufferRngAndCounters(@TempDir Path tmp) throws IOException {
    Path dir = tmp.resolve("ck");
    ReplayBuffer saved = buffer(20); // wrapped around: 16 held, next write at 4
    Random rng = new Random(5);
    rng.nextInt();
    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(CFG, 4, 2)) {
      learner.update(saved.sample(8, new Random(1)));
      TrainingCheckpoint.save(dir, learner, saved, rng, loop(1234), "env-v0", "abc");
      try (ResidualSoftQLearning fresh = new ResidualSoftQLearning(CFG.withSeed(9), 4, 2)) {
        // a learner of another seed has other weights until it loads... but another seed is another
        // config: the checkpoint refuses it
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> TrainingCheckpoint.load(dir, fresh, "env-v0", "abc"));
        assertTrue(e.getMessage().contains("seed 0 (checkpoint) vs 9 (now)"), e.getMessage());
      }
      try (ResidualSoftQLearning fresh = new ResidualSoftQLearning(CFG, 4, 2)) {
        TrainingCheckpoint.Restored r = TrainingCheckpoint.load(dir, fresh, "env-v0", "abc");
        for (int i = 0; i < learner.qResidual().exportWeights().size(); i++) {
          assertArrayEquals(learner.qResidual().exportWeights().get(i), fresh.qResidual().exportWeights().get(i));
        }
        assertEquals(1, fresh.optimizer().steps());
        for (int i = 0; i < learner.optimizer().exportState().m().size(); i++) {
          assertArrayEquals(learner.optimizer().exportState().m().get(i), fresh.optimizer().exportState().m().get(i));
          assertArrayEquals(learner.optimizer().exportState().v().get(i), fresh.optimizer().exportState().v().get(i));
        }
        // the one format: checkpoint.json, the learner section as safetensors with PyTorch names, the buffer
        assertTrue(Files.readString(dir.resolve(TrainingCheckpoint.SUMMARY)).contains("\"format\": \""
            + TrainingCheckpoint.FORMAT + "\""));
        assertTrue(Files.isRegularFile(dir.resolve(TrainingCheckpoint.BUFFER)));
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager("PyTorch")) {
          java.util.Set<String> names = org.rql4j.learner.Mlp.readSafetensors(dir.resolve(TrainingCheckpoint.LEARNER), m)
              .keySet();
          assertTrue(names.containsAll(List.of("q.0.weight", "q.0.bias", "q_target.0.weight",
              "optim.state.0.exp_avg", "optim.state.0.exp_avg_sq")), names.toString());
        }
        assertEquals(1234, r.loop().step());
        assertEquals(7, r.loop().episodes());
        assertArrayEquals(new double[] {1, 2, 3}, r.loop().recent().get(0));
        assertEquals(rng.nextLong(), r.rng().nextLong(), "the RNG continues where it was");
        int[] all = java.util.stream.IntStream.range(0, 16).toArray();
        ReplayBuffer.Batch a = saved.gather(all);
        ReplayBuffer.Batch b = r.buffer().gather(all);
        assertArrayEquals(a.observations(), b.observations());
        assertArrayEquals(a.nextObservations(), b.nextObservations());
        assertArrayEquals(a.actions(), b.actions());
        assertArrayEquals(a.rewards(), b.rewards());
        assertArrayEquals(a.notTerminated(), b.notTerminated());
        assertArrayEquals(a.nextPriorLogProbs(), b.nextPriorLogProbs());
        // the write position survives: the next transition overwrites the same slot in both
        saved.add(new float[] {9, 9, 9, 9}, 1, 9, new float[4], false, new float[2]);
        r.buffer().add(new float[] {9, 9, 9, 9}, 1, 9, new float[4], false, new float[2]);
        assertArrayEquals(saved.gather(all).observations(), r.buffer().gather(all).observations());
        IllegalArgumentException env = assertThrows(IllegalArgumentException.class,
            () -> TrainingCheckpoint.load(dir, fresh, "other-v0", "abc"));
        assertTrue(env.getMessage().contains("trained on env-v0"), env.getMessage());
        IllegalArgumentException prior = assertThrows(IllegalArgumentException.class,
            () -> TrainingCheckpoint.load(dir, fresh, "env-v0", "def"));
        assertTrue(prior.getMessage().contains("sha256 abc"), prior.getMessage());
      }
    }
  }

  @Test
  void aCrashWhileReplacingKeepsThePreviousCheckpoint(@TempDir Path tmp) throws IOException {
    Path dir = tmp.resolve("ck");
    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(CFG, 4, 2)) {
      TrainingCheckpoint.save(dir, learner, buffer(3), new Random(0), loop(100), "env-v0", null);
      TrainingCheckpoint.save(dir, learner, buffer(3), new Random(0), loop(200), "env-v0", null);
      // the state between "dir -> dir.old" and "dir.tmp -> dir": only dir.old is there
      Files.move(dir, tmp.resolve("ck.old"));
      assertTrue(TrainingCheckpoint.exists(dir));
      assertEquals(200, TrainingCheckpoint.load(dir, learner, "env-v0", null).loop().step());
    }
  }

  @Test
  void aCompleteCheckpointLeftInTmpIsSwappedInNotDiscarded(@TempDir Path tmp) throws IOException {
    Path dir = tmp.resolve("ck");
    Path pending = tmp.resolve("ck.tmp");
    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(CFG, 4, 2)) {
      TrainingCheckpoint.save(dir, learner, buffer(3), new Random(0), loop(100), "env-v0", null);
      // a stop after the newer checkpoint was written to ck.tmp, before the swap
      TrainingCheckpoint.save(tmp.resolve("newer"), learner, buffer(3), new Random(0), loop(200), "env-v0", null);
      Files.move(tmp.resolve("newer"), pending);
      assertEquals(200, TrainingCheckpoint.savedStep(dir), "the finished save is what a resume loads");
      assertTrue(Files.exists(pending), "reading the step changes nothing");
      assertEquals(200, TrainingCheckpoint.load(dir, learner, "env-v0", null).loop().step());
      assertFalse(Files.exists(pending), "the resume swapped it in");
      // an incomplete one (no learner section yet) is not a checkpoint
      Files.createDirectories(pending);
      Files.writeString(pending.resolve(TrainingCheckpoint.SUMMARY), "{\"format\": \"" + TrainingCheckpoint.FORMAT
          + "\", \"step\": 300}");
      assertEquals(200, TrainingCheckpoint.savedStep(dir));
      TrainingCheckpoint.save(dir, learner, buffer(3), new Random(0), loop(250), "env-v0", null);
      assertEquals(250, TrainingCheckpoint.savedStep(dir));
      assertFalse(Files.exists(pending), "the next save replaced it");
      // another run's complete tmp (another env) is neither loaded nor swapped in, nor is an older one of this run
      TrainingCheckpoint.save(tmp.resolve("foreign"), learner, buffer(3), new Random(0), loop(900), "other-v0", null);
      Files.move(tmp.resolve("foreign"), pending);
      assertEquals(250, TrainingCheckpoint.load(dir, learner, "env-v0", null).loop().step());
      assertTrue(Files.exists(pending));
      TrainingCheckpoint.deleteTree(pending);
      TrainingCheckpoint.save(tmp.resolve("older"), learner, buffer(3), new Random(0), loop(120), "env-v0", null);
      Files.move(tmp.resolve("older"), pending);
      assertEquals(250, TrainingCheckpoint.load(dir, learner, "env-v0", null).loop().step());
    }
  }

  @Test
  void aFileThatIsNotACheckpointIsRefused(@TempDir Path tmp) throws IOException {
    Path dir = tmp.resolve("ck");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(TrainingCheckpoint.SUMMARY), "not a checkpoint");
    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(CFG, 4, 2)) {
      IOException e = assertThrows(IOException.class, () -> TrainingCheckpoint.load(dir, learner, "env-v0", null));
      assertTrue(e.getMessage().contains("not an rql4j checkpoint"), e.getMessage());
      // a checkpoint of rql4j 0.1: refused, saying what to do
      Files.writeString(dir.resolve(TrainingCheckpoint.SUMMARY), "{\"format\": \"rql4j-training-checkpoint/3\", "
          + "\"step\": 5}");
      Files.writeString(dir.resolve("state.bin"), "old");
      e = assertThrows(IOException.class, () -> TrainingCheckpoint.load(dir, learner, "env-v0", null));
      assertTrue(e.getMessage().contains("rql4j 0.1") && e.getMessage().contains("new folder"), e.getMessage());
      IOException missing = assertThrows(IOException.class,
          () -> TrainingCheckpoint.load(tmp.resolve("none"), learner, "env-v0", null));
      assertTrue(missing.getMessage().contains("start without --resume"), missing.getMessage());
      assertFalse(TrainingCheckpoint.exists(tmp.resolve("none")));
    }
  }

  @Test
  void aFolderWithOtherFilesIsNotACheckpointFolder(@TempDir Path tmp) throws IOException {
    Files.writeString(tmp.resolve("metrics.csv"), "step\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainingCheckpoint.checkUsable(tmp));
    assertTrue(e.getMessage().contains("[metrics.csv]"), e.getMessage());
    TrainingCheckpoint.checkUsable(tmp.resolve("new")); // absent: fine
    Path ck = tmp.resolve("ck");
    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(CFG, 4, 2)) {
      TrainingCheckpoint.save(ck, learner, buffer(1), new Random(0), loop(1), "env-v0", null);
    }
    TrainingCheckpoint.checkUsable(ck); // a checkpoint's own files: fine
  }

  /**
   * A run saved before a setting existed has the same config as now when the setting is off
   * (the parking runs saved before maxGradNorm / priorMinStd), not when it is on; a changed or
   * dropped field still differs.
   */
  @Test
  void aSettingAddedLaterMatchesOnlyWhenOff() {
    com.google.gson.Gson gson = new com.google.gson.Gson();
    org.rql4j.learner.ResidualSacConfig now = org.rql4j.learner.ResidualSacConfig.parking();
    com.google.gson.JsonObject saved = gson.toJsonTree(now).getAsJsonObject();
    saved.remove("maxGradNorm");
    saved.remove("priorMinStd");
    assertTrue(TrainingCheckpoint.sameConfig(saved, gson.toJsonTree(now)));
    assertFalse(TrainingCheckpoint.sameConfig(saved, gson.toJsonTree(now.withStabilizers(10f, 0f))));
    assertFalse(TrainingCheckpoint.sameConfig(saved, gson.toJsonTree(now.withSeed(1))));
    com.google.gson.JsonObject extra = gson.toJsonTree(now).getAsJsonObject();
    extra.addProperty("removedSetting", 1);
    assertFalse(TrainingCheckpoint.sameConfig(extra, gson.toJsonTree(now)));
    assertTrue(TrainingCheckpoint.sameConfig(gson.toJsonTree(now), gson.toJsonTree(now)));
  }

  /** The PPO runs finished before survivalBonus existed are reused at bonus 0 and only then. */
  @Test
  void ppoRunsSavedBeforeTheSurvivalBonusMatchAtZero() {
    com.google.gson.Gson gson = new com.google.gson.Gson();
    org.rql4j.learner.ResidualPpoConfig now = org.rql4j.learner.ResidualPpoConfig.mujoco().klRegularized(2.5f);
    com.google.gson.JsonObject saved = gson.toJsonTree(now).getAsJsonObject();
    saved.remove("survivalBonus");
    assertTrue(TrainingCheckpoint.sameConfig(saved, gson.toJsonTree(now)));
    assertFalse(TrainingCheckpoint.sameConfig(saved, gson.toJsonTree(now.withSurvivalBonus(1f))));
    assertEquals(1f, now.withSurvivalBonus(1f).survivalBonus());
    org.rql4j.learner.ResidualPpoConfig b = now.withSurvivalBonus(1f);
    for (org.rql4j.learner.ResidualPpoConfig c : List.of(b.klRegularized(0.5f), b.softPpo(0.1f), b.withSeed(3),
        b.withSchedule(10, 5, 5, 1, 1), b.withNetwork(new int[] {8}, 1e-3f, -1f), b.withReturns(0.9f, 0.9f),
        b.withNormalization(true, false), b.withInitFromPrior(true), b.withStepSize(1e-3f, 0.1f),
        b.withTotalSteps(7))) {
      assertEquals(1f, c.survivalBonus(), "every with-method keeps the bonus: " + c);
    }
    assertThrows(IllegalArgumentException.class, () -> now.withSurvivalBonus(Float.NaN));
  }

  @Test
  void checkResumableRefusesWhatLoadWouldWithoutALearner(@TempDir Path tmp) throws IOException {
    Path dir = tmp.resolve("ck");
    assertEquals(ResidualSoftQLearning.KIND, CFG.learnerKind());
    assertEquals(org.rql4j.learner.ResidualSac.KIND, org.rql4j.learner.ResidualSacConfig.mountaincar().learnerKind());
    TrainingCheckpoint.checkResumable(dir, CFG.learnerKind(), CFG, "env-v0", "abc"); // no checkpoint: nothing to check
    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(CFG, 4, 2)) {
      assertEquals(learner.kind(), CFG.learnerKind());
      TrainingCheckpoint.save(dir, learner, buffer(4), new Random(1), loop(100), "env-v0", "abc");
    }
    TrainingCheckpoint.checkResumable(dir, CFG.learnerKind(), CFG, "env-v0", "abc");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TrainingCheckpoint.checkResumable(dir, CFG.learnerKind(), CFG.withSeed(3), "env-v0", "abc"));
    assertTrue(e.getMessage().contains("seed 0 (checkpoint) vs 3 (now)"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> TrainingCheckpoint.checkResumable(dir, org.rql4j.learner.ResidualSac.KIND, CFG, "env-v0", "abc"));
    assertTrue(e.getMessage().contains("residual-soft-q learner, not of residual-sac"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> TrainingCheckpoint.checkResumable(dir, CFG.learnerKind(), CFG, "other-v0", "abc"));
    assertTrue(e.getMessage().contains("not on other-v0"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> TrainingCheckpoint.checkResumable(dir, CFG.learnerKind(), CFG, "env-v0", null));
    assertTrue(e.getMessage().contains("this run has no prior"), e.getMessage());
  }
}
