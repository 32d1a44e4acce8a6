package org.rql4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;

class CustomizeConfigTest {

  @Test
  void theTaskPicksTheLearnerAndItsReferenceValues() {
    assertTrue(Customize.baseConfig("cartpole-center") instanceof ResidualSoftQConfig);
    assertTrue(Customize.baseConfig("highway-rightlane") instanceof ResidualSoftQConfig);
    assertTrue(Customize.baseConfig("mountaincar-lessleft") instanceof ResidualSacConfig);
    assertTrue(Customize.baseConfig("parking-boundary") instanceof ResidualSacConfig);
    assertEquals("sac", Customize.defaultPrior("mountaincar-lessleft"));
    assertEquals("softdqn", Customize.defaultPrior("cartpole-center"));
  }

  @Test
  void aResultsTableTakesOnlyLearnerSettingsFromAFile(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws java.io.IOException {
    java.nio.file.Path ok = java.nio.file.Files.writeString(dir.resolve("two.yaml"),
        "task: highway-rightlane\nconfig:\n  numEnvs: 2\n  trainFrequency: 2\n  gradientSteps: 2\n");
    ResidualSoftQConfig cfg = Results.learnerSettings(ok, "highway-rightlane")
        .overlay((ResidualSoftQConfig) Customize.baseConfig("highway-rightlane"));
    assertEquals(2, cfg.numEnvs());
    assertEquals(2, cfg.trainFrequency());
    assertEquals(ResidualSoftQConfig.highway().learningRate(), cfg.learningRate(), "the rest stays the reference");
    IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
        () -> Results.learnerSettings(ok, "cartpole-center"));
    assertTrue(other.getMessage().contains("is for task highway-rightlane") && other.getMessage().contains(
        "--task highway-rightlane"), other.getMessage());
    java.nio.file.Path steps = java.nio.file.Files.writeString(dir.resolve("steps.yaml"),
        "steps: 500\nconfig:\n  numEnvs: 2\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Results.learnerSettings(steps, "highway-rightlane"));
    assertTrue(e.getMessage().contains("'steps'") && e.getMessage().contains(steps.toString())
        && e.getMessage().contains("under 'config'"), e.getMessage());
  }

  @Test
  void aKlBudgetIsAPositiveNumberAndNotAPriorWeight() {
    assertEquals(null, Customize.klBudget(null, true));
    assertEquals(0.05, Customize.klBudget("0.05", false).nats(), 0);
    assertEquals(1.0, Customize.klBudget("0.05", false).kappa(), 0);
    for (String bad : new String[] {"0", "-1", "abc", "Infinity", "NaN"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Customize.klBudget(bad, false));
      assertTrue(e.getMessage().contains("--kl-budget"), e.getMessage());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Customize.klBudget("0.1", true));
    assertTrue(e.getMessage().contains("does not go with a KL budget"), e.getMessage());
    assertEquals(null, Customize.klBudget("auto", false)); // the default, resolved by the action space
    assertTrue(Customize.isAuto(" auto") && !Customize.isAuto("0.1") && !Customize.isAuto(null));
    e = assertThrows(IllegalArgumentException.class, () -> Customize.klBudget("auto", true));
    assertTrue(e.getMessage().contains("does not go with a KL budget"), e.getMessage());
  }

  @Test
  void aResultsRunInAChildJvmGetsTheTablesSettingsAndWorkers() {
    Results.Job job = new Results.Job("residual", "softdqn", "residual", "1", null, 2, java.nio.file.Path.of("out/r"),
        null, null);
    java.util.List<String> args = Results.childArgs(org.rql4j.customize.Task.builtIn("highway-rightlane"),
        Customize.baseConfig("highway-rightlane"), java.nio.file.Path.of("priors/p"), java.util.List.of(), 30000, 20,
        null, job, 3000, java.nio.file.Path.of("/abs/two.yaml"), 2);
    assertEquals("customize", args.get(0));
    assertEquals("/abs/two.yaml", args.get(args.indexOf("--config") + 1));
    assertEquals("2", args.get(args.indexOf("--env-workers") + 1));
    assertEquals("30000", args.get(args.indexOf("--steps") + 1));
    assertEquals("2", args.get(args.indexOf("--seed") + 1));
    assertTrue(args.contains("--resume"));
    java.util.List<String> plain = Results.childArgs(org.rql4j.customize.Task.builtIn("highway-rightlane"),
        Customize.baseConfig("highway-rightlane"), java.nio.file.Path.of("priors/p"), java.util.List.of(), 30000, 20,
        null, job, 3000, null, 0);
    assertFalse(plain.contains("--config") || plain.contains("--env-workers"), plain.toString());
  }

  @Test
  void aGreedyShareIsAShareOfTheStates() {
    assertEquals(0.05, Customize.greedyShare(" 0.05"), 0);
    assertEquals(1.0, Customize.greedyShare("1"), 0);
    for (String bad : new String[] {"0", "-0.1", "1.5", "abc", "NaN", "5%"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Customize.greedyShare(bad));
      assertTrue(e.getMessage().contains("--greedy-share") && e.getMessage().contains("'" + bad + "'"), e.getMessage());
    }
  }

  @Test
  void ppoTakesAKlBudgetForItsRowsWithThePrior() {
    assertEquals(0.1, PpoRun.parse(new String[] {"--kl-budget", "0.1"}).klBudget().nats(), 0);
    assertEquals(null, Customize.klBudget("none", false), "none: the weights");
    assertEquals(null, PpoRun.parse(new String[] {}).klBudget());
    assertTrue(PpoRun.parse(new String[] {"--kl-budget", "auto"}).defaultKlBudget());
    assertFalse(PpoRun.parse(new String[] {}).defaultKlBudget());
    for (String[] bad : new String[][] {{"--kl-budget", "0.1", "--baseline", "oracle"},
        {"--kl-budget", "0.1", "--prior-weight", "0.5"}, {"--kl-budget", "-2"}, {"--kl-budget", "auto", "--baseline",
            "addon-only"}, {"--kl-budget", "0.1", "--baseline", "kl"}}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PpoRun.parse(bad));
      assertTrue(e.getMessage().contains("--kl-budget"), e.getMessage());
    }
  }

  @Test
  void alphaHatIsFixedLearnedOrRefused() {
    ResidualSacConfig fixed = (ResidualSacConfig) Customize.config("mountaincar-lessleft", 1000, 3, 0.1f, "0.05");
    assertEquals(0.05f, fixed.alphaHat());
    assertFalse(fixed.learnAlpha());
    assertEquals(3, fixed.seed());
    ResidualSacConfig learned = (ResidualSacConfig) Customize.config("mountaincar-lessleft", 1000, 0, 0.1f, "auto");
    assertTrue(learned.learnAlpha());
    assertEquals(1f, learned.alphaHat());
    ResidualSacConfig from = (ResidualSacConfig) Customize.config("parking-boundary", 1000, 0, 0.1f, "auto_0.5");
    assertTrue(from.learnAlpha() && from.alphaHat() == 0.5f);
    assertEquals(ResidualSacConfig.mountaincar().withTotalSteps(1000).withSeed(0).withPriorWeight(0.1f),
        Customize.config("mountaincar-lessleft", 1000, 0, 0.1f, "reference"));
    for (String bad : new String[] {"autox", "auto_", "-1", "zero", "0"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Customize.config("mountaincar-lessleft", 1000, 0, 0.1f, bad), bad);
      assertTrue(e.getMessage().contains("--alpha-hat") && e.getMessage().contains(bad), e.getMessage());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Customize.config("cartpole-center", 1000, 0, 1f, "auto"));
    assertTrue(e.getMessage().contains("soft Q-learning"), e.getMessage());
    assertEquals(0.5f, ((ResidualSoftQConfig) Customize.config("cartpole-center", 1000, 0, 1f, "0.5")).alphaHat());
  }

  @Test
  void warmStartStepsAreReadStrictlyAndOnlyForSac() {
    ResidualSacConfig ref = (ResidualSacConfig) Customize.config("parking-boundary", 100_000, 0, 0.01f, null, null);
    assertEquals(100_000L, ref.warmStartSteps());
    ResidualSacConfig shorter = (ResidualSacConfig) Customize.config("parking-boundary", 100_000, 0, 0.01f, null,
        "12500");
    assertEquals(12_500L, shorter.warmStartSteps());
    assertEquals(ref.warmStartMultiplier(), shorter.warmStartMultiplier());
    assertEquals(0.1, shorter.priorWeightAt(12_499), 1e-6);
    assertEquals(0.01, shorter.priorWeightAt(12_500), 1e-6);
    assertEquals(ref, Customize.config("parking-boundary", 100_000, 0, 0.01f, null, "reference"));
    for (String bad : new String[] {"-1", "1e5", "many"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Customize.config("parking-boundary", 1000, 0, 0.01f, null, bad), bad);
      assertTrue(e.getMessage().contains("--warm-start") && e.getMessage().contains(bad), e.getMessage());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Customize.config("cartpole-center", 1000, 0, 1f, null, "100"));
    assertTrue(e.getMessage().contains("--warm-start") && e.getMessage().contains("soft Q-learning"), e.getMessage());
  }

  @Test
  void weightsReadAndPrintAsUsersWriteThem() {
    assertEquals("1", Customize.number(1f));
    assertEquals("0.1", Customize.number(0.1f));
    assertEquals("0.0097", Customize.number(0.0097f));
    assertEquals(0.1f, Customize.parseWeight(" 0.1", "--prior-weight"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Customize.parseWeight("-2", "--prior-weights"));
    assertTrue(e.getMessage().contains("--prior-weights"), e.getMessage());
  }

  @Test
  void stabilizersAreReadStrictlyAndOnlyForSac() {
    ResidualSacConfig base = (ResidualSacConfig) Customize.config("parking-boundary", 1000, 0, 0.1f, null);
    assertEquals(0f, base.maxGradNorm());
    assertEquals(0f, base.priorMinStd());
    assertEquals(base, Customize.stabilized(base, "parking-boundary", null, "reference"));
    ResidualSacConfig s = (ResidualSacConfig) Customize.stabilized(base, "parking-boundary", "10", "0.25");
    assertEquals(10f, s.maxGradNorm());
    assertEquals(0.25f, s.priorMinStd());
    assertTrue(s.toString().contains("maxGradNorm=10.0") && s.toString().contains("priorMinStd=0.25"), s.toString());
    assertEquals(0.25f, ((ResidualSacConfig) Customize.stabilized(base, "parking-boundary", null, "0.25"))
        .priorMinStd());
    for (String bad : new String[] {"-1", "x", "inf", "NaN"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Customize.stabilized(base, "parking-boundary", bad, null), bad);
      assertTrue(e.getMessage().contains("--max-grad-norm") && e.getMessage().contains(bad), e.getMessage());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Customize.stabilized(
        Customize.config("cartpole-center", 1000, 0, 1f, null), "cartpole-center", "10", null));
    assertTrue(e.getMessage().contains("apply to SAC"), e.getMessage());
  }
}
