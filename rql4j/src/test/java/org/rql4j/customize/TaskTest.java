package org.rql4j.customize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.RewardVariant;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;

class TaskTest {

  @Test
  void aBuiltInTaskTrainsOnItsAddonVariantAndIsEvaluatedOnItsTotal() {
    Task t = Task.builtIn("cartpole-center");
    assertEquals("rql4j/cartpole-center-addon-v0", t.trainEnv(Baseline.RESIDUAL).build().envId());
    assertEquals("rql4j/cartpole-center-addon-v0", t.trainEnv(Baseline.ADDON_ONLY).build().envId());
    assertEquals("rql4j/cartpole-center-total-v0", t.trainEnv(Baseline.ORACLE).build().envId());
    assertEquals("rql4j/cartpole-center-total-v0", t.evalEnv().build().envId());
    assertNull(t.evalEnv().build().addonReward());
    assertTrue(t.referenceConfig().orElseThrow() instanceof ResidualSoftQConfig);
    assertTrue(Task.builtIn("parking-boundary").referenceConfig().orElseThrow() instanceof ResidualSacConfig);
    assertTrue(Task.builtIn("hopper-height").referenceConfig().isEmpty(), "on-policy: PPO's own config");
    assertEquals(List.of(), t.modules());
  }

  @Test
  void anUnknownTaskIsRefusedWithTheBuiltInOnes() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Task.builtIn("cartpole-centre"));
    assertTrue(e.getMessage().contains("'cartpole-centre'") && e.getMessage().contains(Task.BUILT_IN.toString())
        && e.getMessage().contains("--env-id"), e.getMessage());
  }

  @Test
  void anEnvWithAnAddonAsksTheServerForTheVariant() {
    Task t = Task.of("Pendulum-v1").withAddon("mytasks.rewards:gentle");
    EnvSpec train = t.trainEnv(Baseline.RESIDUAL).optNumEnvs(4).build();
    assertEquals("Pendulum-v1", train.envId());
    assertEquals("mytasks.rewards:gentle", train.addonReward());
    assertEquals(RewardVariant.ADDON, train.rewardVariant());
    assertEquals(4, train.numEnvs());
    assertEquals(RewardVariant.TOTAL, t.trainEnv(Baseline.ORACLE).build().rewardVariant());
    assertEquals(RewardVariant.TOTAL, t.evalEnv().build().rewardVariant());
    assertEquals(List.of("mytasks.rewards"), t.modules());
    assertEquals("Pendulum-v1 + mytasks.rewards:gentle", t.label());
    for (String bad : new String[] {"gentle", "a:b:c", "1mod:f", "mod:", " mod:f"}) {
      assertThrows(IllegalArgumentException.class, () -> Task.of("Pendulum-v1").withAddon(bad), bad);
    }
  }

  @Test
  void registeredIdsNeedTheirTotalVariantForTheOracle() {
    Task t = Task.of("mytask-addon-v0");
    assertEquals("mytask-addon-v0", t.evalEnv().build().envId());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.trainEnv(Baseline.ORACLE));
    assertTrue(e.getMessage().contains("--eval-env-id"), e.getMessage());
    Task both = t.withEvalEnvId("mytask-total-v0");
    assertEquals("mytask-total-v0", both.trainEnv(Baseline.ORACLE).build().envId());
    assertEquals("mytask-total-v0", both.evalEnv().build().envId());
    assertThrows(IllegalArgumentException.class, () -> Task.builtIn("cartpole-center").withAddon("m:f"));
    assertThrows(IllegalArgumentException.class, () -> Task.of("has space"));
  }

  @Test
  void theKlBaselineIsPposAndTrainsWithThePriorOnTheAddon() {
    Task t = Task.builtIn("cartpole-center");
    assertEquals("rql4j/cartpole-center-addon-v0", t.trainEnv(Baseline.KL).build().envId());
    assertTrue(Baseline.KL.usesPrior() && Baseline.RESIDUAL.usesPrior() && !Baseline.ORACLE.usesPrior());
    assertEquals(Baseline.KL, Baseline.of("kl"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Customization.builder(t,
        java.nio.file.Path.of("no-prior")).optBaseline(Baseline.KL).optAlgorithm(Customization.Algorithm.SOFT_Q)
        .build());
    assertTrue(e.getMessage().contains("baseline of PPO"), e.getMessage());
    org.rql4j.learner.ResidualPpoConfig kl = Customization.defaultPpoConfig(Baseline.KL);
    assertEquals(kl.priorWeight(), kl.alphaHat(), "KL-regularized: w = alphaHat = beta");
    assertTrue(kl.initFromPrior());
  }
}
