package org.rql4j.learner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ConfigBuilderTest {

  @Test
  void everyConfigIsBuiltFieldByFieldFromAPreset() {
    int[] hidden = {64, 32};
    ResidualSoftQConfig q = ResidualSoftQConfig.builder().optGamma(0.95f).optLearningRate(1e-3f).optHidden(hidden)
        .optTotalSteps(5000).build();
    hidden[0] = 1; // the builder kept its own copy
    assertEquals(0.95f, q.gamma());
    assertEquals(1e-3f, q.learningRate());
    assertArrayEquals(new int[] {64, 32}, q.hidden());
    assertEquals(ResidualSoftQConfig.cartpole().batchSize(), q.batchSize(), "the rest from the preset");
    assertEquals(ResidualSoftQConfig.highway().toString(), ResidualSoftQConfig.highway().toBuilder().build().toString());

    ResidualSacConfig sac = ResidualSacConfig.parking().toBuilder().optTau(0.01f).optLearnAlpha(false).build();
    assertEquals(0.01f, sac.tau());
    assertTrue(!sac.learnAlpha());
    assertEquals(ResidualSacConfig.parking().warmStartSteps(), sac.warmStartSteps());

    ResidualPpoConfig ppo = ResidualPpoConfig.builder().optNSteps(256).optGaeLambda(0.9f).build();
    assertEquals(256, ppo.nSteps());
    assertEquals(0.9f, ppo.gaeLambda());

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ResidualSoftQConfig.builder().optGamma(1.5f).build());
    assertTrue(e.getMessage().contains("gamma"), e.getMessage());
  }
}
