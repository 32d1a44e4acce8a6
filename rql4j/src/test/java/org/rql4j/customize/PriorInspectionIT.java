package org.rql4j.customize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.train.Evaluator;

/**
 * {@link PriorInspection} on the real Python (the bridge's {@code inspect-prior}) with the shipped priors
 * and real Gymnasium envs: the behaviour-cloned CartPole prior is sharper than the soft-DQN one and only it
 * is warned about; the SAC MountainCar prior's spread is its Gaussian's std; a prior on an env of other
 * spaces, and an add-on returning NaN, are refused naming what is wrong; a folder that is not a package is
 * refused before Python runs.
 */
class PriorInspectionIT {

  static final Path ROOT = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();
  static final Path BC = ROOT.resolve("examples/priors/cartpole-center-bc");
  static final Path SOFTDQN = ROOT.resolve("examples/priors/cartpole-center-softdqn");
  static final String CENTER = "rql4j_bridge.tasks.classic:cartpole_center_addon";

  @TempDir
  static Path work;

  @BeforeAll
  static void requirement() throws IOException {
    Files.writeString(work.resolve("inspecttasks.py"), "def stay_left(obs, action, next_obs, reward, terminated, "
        + "truncated, info):\n    return 1.0 if next_obs[0] < 0.0 else 0.0\n"
        + "def broken(obs, action, next_obs, reward, terminated, truncated, info):\n    return float('nan')\n");
  }

  @Test
  void theBehaviourClonedPriorIsSharperAndWarnedAbout() throws IOException {
    PriorInspection.Report bc = PriorInspection.builder(BC, "CartPole-v1").optAddon(CENTER).build().run();
    PriorInspection.Report soft = PriorInspection.builder(SOFTDQN, "CartPole-v1").optAddon(CENTER).build().run();
    System.out.print(bc.text() + soft.text());
    for (PriorInspection.Report r : List.of(bc, soft)) {
      assertEquals("CartPole-v1", r.envId());
      assertEquals(CENTER, r.addon());
      assertEquals("categorical", r.distribution());
      assertTrue(r.spacesMatch());
      assertEquals("Discrete(2)", r.actionSpace());
      assertEquals(Math.log(2), r.entropy().uniform(), 1e-12);
      assertTrue(r.entropy().min() <= r.entropy().p10() && r.entropy().p10() <= r.entropy().mean());
      assertTrue(r.spread().meanStd().isEmpty());
      // the "prior alone" row: 3 deterministic episodes on seeds 10000.., both priors keep the pole up
      assertEquals(3, r.priorAlone().episodes().size());
      assertEquals(10_000L, r.priorAlone().episodes().get(0).seed());
      assertEquals(500.0, r.priorAlone().mean(Evaluator.Episode::length), 0.0);
      assertEquals(500.0, r.priorAlone().mean(Evaluator.Episode::basicReturn), 0.0);
      double addon = r.priorAlone().mean(Evaluator.Episode::addonReturn);
      assertTrue(addon < 0 && addon > -500, "add-on return " + addon);
      assertEquals(1500, r.steps());
    }
    // measured: entropy 0.074 vs 0.333 nats, log-probability gap 11.7 vs 2.6 nats, sure on 80% vs 14% of states
    assertTrue(bc.entropy().mean() < soft.entropy().mean() / 2, bc.entropy() + " vs " + soft.entropy());
    assertTrue(bc.spread().meanLogProbGap() > 3 * soft.spread().meanLogProbGap(), bc.spread() + " vs " + soft.spread());
    assertTrue(bc.spread().sureShare() > 0.5 && soft.spread().sureShare() < 0.5);
    assertTrue(bc.nearlyDeterministic());
    assertFalse(soft.nearlyDeterministic());
    assertEquals(1, bc.warnings().size(), bc.warnings().toString());
    assertTrue(bc.warnings().get(0).contains("nearly deterministic") && bc.warnings().get(0).contains("--prior-weight"),
        bc.warnings().get(0));
    assertEquals(List.of(), soft.warnings());
    assertTrue(bc.text().contains("warning: the prior is nearly deterministic"), bc.text());
  }

  @Test
  void aGaussianPriorsSpreadIsItsStd() throws IOException {
    PriorInspection.Report r = PriorInspection.builder(ROOT.resolve("examples/priors/mountaincar-lessleft-sac"),
        "MountainCarContinuous-v0").optAddon("rql4j_bridge.tasks.classic:mountaincar_lessleft_addon").optEpisodes(2)
        .build().run();
    assertEquals("squashed_gaussian", r.distribution());
    assertTrue(Double.isNaN(r.entropy().uniform()) && Double.isNaN(r.spread().meanMaxProbability()));
    assertEquals(1, r.spread().meanStd().size());
    // measured: mean pre-tanh std 0.56, entropy 0.81 nats per dimension
    assertTrue(r.spread().meanStd().get(0) > 0.3, r.spread().toString());
    assertEquals(0.5 * Math.log(2 * Math.PI * Math.E) + Math.log(r.spread().meanStd().get(0)), r.entropy().mean(), 0.1);
    assertFalse(r.nearlyDeterministic());
    assertTrue(r.priorAlone().mean(Evaluator.Episode::basicReturn) > 90, r.text());
  }

  @Test
  void whatDoesNotFitIsRefusedNamingIt() throws IOException {
    IOException mismatch = assertThrows(IOException.class,
        () -> PriorInspection.builder(BC, "Acrobot-v1").build().run());
    assertTrue(mismatch.getMessage().contains("Acrobot-v1") && mismatch.getMessage().contains("Discrete(2)")
        && mismatch.getMessage().contains("Discrete(3)"), mismatch.getMessage());
    // the add-on's module is found in the working directory, and its NaN is named with its step
    IOException nan = assertThrows(IOException.class, () -> PriorInspection.builder(SOFTDQN, "CartPole-v1")
        .optAddon("inspecttasks:broken").optWorkingDir(work).build().run());
    assertTrue(nan.getMessage().contains("the add-on inspecttasks:broken returned nan (float) at step 1"),
        nan.getMessage());
    PriorInspection.Report ok = PriorInspection.builder(SOFTDQN, "CartPole-v1").optAddon("inspecttasks:stay_left")
        .optEpisodes(1).optWorkingDir(work).build().run();
    assertEquals("inspecttasks:stay_left", ok.addon());
    IllegalArgumentException notAPackage = assertThrows(IllegalArgumentException.class,
        () -> PriorInspection.builder(work, "CartPole-v1").build());
    assertTrue(notAPackage.getMessage().contains("not a prior package"), notAPackage.getMessage());
    assertThrows(IllegalArgumentException.class, () -> PriorInspection.builder(BC, "CartPole-v1").optAddon("nocolon")
        .build());
  }
}
