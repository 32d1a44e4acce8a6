package org.rql4j.env;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.rql4j.learner.ResidualPpo;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.prior.PriorPackage;
import org.rql4j.prior.PriorSpec;

/**
 * The rules of docs/spaces.md without an env server: which observation and action spaces are read
 * and acted in, and the learners' own refusals (before any network is built). SpacesIT runs the same
 * cells through the real server and {@code Customization}.
 */
class SupportedSpacesTest {

  static Space.Box box(long... shape) {
    int n = (int) Tensor.numel(shape);
    double[] low = new double[n];
    double[] high = new double[n];
    java.util.Arrays.fill(low, -1);
    java.util.Arrays.fill(high, 1);
    return new Space.Box(shape, DType.FLOAT32, low, high);
  }

  static final Space.Discrete DISCRETE = new Space.Discrete(3, 0);
  static final Space.MultiDiscrete MULTI_DISCRETE = new Space.MultiDiscrete(new long[] {2}, new long[] {3, 2},
      new long[] {0, 0}, DType.INT64);
  static final Space.MultiBinary MULTI_BINARY = new Space.MultiBinary(new long[] {4});

  static Space.Dict dict() {
    Map<String, Space> m = new LinkedHashMap<>();
    m.put("mode", DISCRETE);
    m.put("pos", box(2));
    return new Space.Dict(m);
  }

  static final Space.Tuple TUPLE = new Space.Tuple(List.of(box(2), DISCRETE));

  @Test
  void observationsAreReadAsTheyComeWhenTheyAreABoxOrMultiBinary() {
    for (Space ok : List.of(box(4), box(2, 3), box(2, 2, 2), MULTI_BINARY)) {
      SupportedSpaces.checkObservation("ok-v0", ok);
    }
    for (Space refused : List.of(DISCRETE, new Space.Discrete(5, -2), MULTI_DISCRETE, dict(), TUPLE)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> SupportedSpaces.checkObservation("my-v0", refused));
      String m = e.getMessage();
      assertTrue(m.startsWith("env my-v0 observes " + SupportedSpaces.describe(refused) + ": "), m);
      assertTrue(m.contains("supports Box observations (any shape, C order) and MultiBinary ones")
          && m.contains("gymnasium.wrappers.FlattenObservation") && m.contains("docs/spaces.md"), m);
    }
  }

  @Test
  void actionsAreDiscreteOrAOneDimensionalBox() {
    for (Space ok : List.of(DISCRETE, new Space.Discrete(3, -1), box(2))) {
      SupportedSpaces.checkAction("ok-v0", ok);
    }
    for (Space refused : List.of(MULTI_DISCRETE, MULTI_BINARY, box(2, 2), box(), dict(), TUPLE)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> SupportedSpaces.checkAction(null, refused));
      String m = e.getMessage();
      assertTrue(m.startsWith("the env acts in " + SupportedSpaces.describe(refused) + ": "), m);
      assertTrue(m.contains("MultiDiscrete, MultiBinary, Dict, Tuple and multi-dimensional Box actions are not "
          + "supported") && m.contains("gymnasium.ActionWrapper"), m);
    }
  }

  @Test
  void boundedBoxes() {
    SupportedSpaces.checkBoundedBox("ok-v0", box(2), "residual SAC");
    SupportedSpaces.checkBoundedBox("ok-v0", DISCRETE, "PPO"); // not a Box: nothing to check
    Space.Box open = new Space.Box(new long[] {2}, DType.FLOAT32, new double[] {-1, Double.NEGATIVE_INFINITY},
        new double[] {1, Double.POSITIVE_INFINITY});
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SupportedSpaces.checkBoundedBox("my-v0", open, "residual SAC"));
    assertTrue(e.getMessage().contains("residual SAC needs finite Box action bounds")
        && e.getMessage().contains("dimension 1"), e.getMessage());
  }

  @Test
  void describesNestedSpacesAsGymnasiumPrintsThem() {
    assertEquals("Dict('mode': Discrete(3), 'pos': " + box(2) + ")", SupportedSpaces.describe(dict()));
    assertEquals("Tuple(" + box(2) + ", Discrete(3))", SupportedSpaces.describe(TUPLE));
    assertEquals("MultiDiscrete([3, 2], start=[1, 0])", SupportedSpaces.describe(new Space.MultiDiscrete(
        new long[] {2}, new long[] {3, 2}, new long[] {1, 0}, DType.INT64)));
  }

  @Test
  void theLearnersRefuseBeforeBuildingAnything() {
    IllegalArgumentException q = assertThrows(IllegalArgumentException.class,
        () -> ResidualSoftQConfig.cartpole().newLearner(dict(), DISCRETE));
    assertTrue(q.getMessage().startsWith("the env observes Dict("), q.getMessage());
    IllegalArgumentException sacObs = assertThrows(IllegalArgumentException.class,
        () -> ResidualSacConfig.mountaincar().newLearner(DISCRETE, box(2)));
    assertTrue(sacObs.getMessage().startsWith("the env observes Discrete(3)"), sacObs.getMessage());
    IllegalArgumentException sacAct = assertThrows(IllegalArgumentException.class,
        () -> ResidualSacConfig.mountaincar().newLearner(box(4), box(2, 2)));
    assertTrue(sacAct.getMessage().contains("acts in Box([2, 2]"), sacAct.getMessage());
    PriorSpec categorical = PriorPackage.parse("""
        {"format": "rql4j-prior/1", "name": "cat", "distribution": "categorical",
         "observation_space": {"type": "Box", "shape": [4], "dtype": "float32", "low": [-1, -1, -1, -1],
                               "high": [1, 1, 1, 1]},
         "action_space": {"type": "Discrete", "n": 3, "start": 0},
         "observation": {"flatten": "none", "dim": 4},
         "module": {"file": "policy.pt", "outputs": ["log_probs"]},
         "source": {"kind": "torch-module", "file": "m.pt"}, "made_by": {"command": "test"}, "versions": {}}
        """, "prior.json", null);
    IllegalArgumentException init = assertThrows(IllegalArgumentException.class,
        () -> ResidualPpo.checkInitFrom(categorical, DISCRETE));
    assertTrue(init.getMessage().contains("CATEGORICAL over Discrete(3)")
        && init.getMessage().contains("initFromPrior false"), init.getMessage());
  }
}
