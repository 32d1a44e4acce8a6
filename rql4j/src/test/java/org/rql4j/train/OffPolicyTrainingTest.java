package org.rql4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.DType;
import org.rql4j.env.ResetRequest;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.env.Value;
import org.rql4j.env.VectorEnv;
import org.rql4j.env.VectorReset;
import org.rql4j.env.VectorStep;
import org.rql4j.learner.ResidualSac;
import org.rql4j.learner.ResidualSacConfig;

/** The shared loop with a mocked env (the real-env paths are in the ITs). */
class OffPolicyTrainingTest {

  private static final Space.Box BOX = new Space.Box(new long[] {1}, DType.FLOAT32, new double[] {-1},
      new double[] {1});

  /** A NaN reward stops the run with an error naming it, after saving what was learned. */
  @Test
  void aNanRewardStopsTheRunAndSavesIt(@TempDir Path tmp) throws Exception {
    VectorEnv env = mock(VectorEnv.class);
    when(env.envId()).thenReturn("test/nan-v0");
    when(env.numEnvs()).thenReturn(1);
    when(env.autoresetMode()).thenReturn(AutoresetMode.SAME_STEP);
    when(env.observationSpace()).thenReturn(new Space.Box(new long[] {2}, DType.FLOAT32, new double[] {-9, -9},
        new double[] {9, 9}));
    when(env.actionSpace()).thenReturn(BOX);
    Value obs = Tensor.ofFloats(new float[] {0.1f, 0.2f}, 1, 2);
    when(env.reset(any(ResetRequest.class))).thenReturn(new VectorReset(obs, Map.of()));
    when(env.reset(org.mockito.ArgumentMatchers.anyLong())).thenReturn(new VectorReset(obs, Map.of()));
    int[] calls = {0};
    when(env.step(any(Value.class))).thenAnswer(inv -> new VectorStep(obs,
        new double[] {++calls[0] > 300 ? Double.NaN : -0.1}, new boolean[] {false}, new boolean[] {false}, Map.of(),
        null));
    ResidualSacConfig cfg = ResidualSacConfig.mountaincar().withTotalSteps(1000).withPriorWeight(0f)
        .withSchedule(32, 32, 1, 0);
    Path dir = tmp.resolve("ck");
    try (ResidualSac sac = new ResidualSac(cfg, 2, BOX)) {
      TrainingException e = assertThrows(TrainingException.class,
          () -> OffPolicyTraining.run(sac, env, null, p -> true, 100,
              new Checkpointing(dir, 10_000, false)));
      assertTrue(e.getMessage().contains("test/nan-v0") && e.getMessage().contains("reward NaN")
          && e.getMessage().contains("saved in " + dir), e.getMessage());
      assertEquals(300, e.step());
      assertEquals(300, TrainingCheckpoint.savedStep(dir), "the 300 good steps are saved");
    }
  }
}
