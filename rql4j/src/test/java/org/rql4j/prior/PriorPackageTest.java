package org.rql4j.prior;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rql4j.env.Space;

class PriorPackageTest {

  static final String CATEGORICAL = """
      {"format": "rql4j-prior/1", "name": "cp", "distribution": "categorical",
       "observation_space": {"type": "Box", "shape": [4], "dtype": "float32",
                             "low": [-4.8, "-inf", -0.42, "-inf"], "high": [4.8, "inf", 0.42, "inf"]},
       "action_space": {"type": "Discrete", "n": 2, "start": 0},
       "observation": {"flatten": "none", "dim": 4},
       "action_scaling": null, "temperature": 1.0,
       "module": {"file": "policy.pt", "outputs": ["log_probs"]},
       "source": {"kind": "soft-dqn", "file": "softdqn.pt", "sha256": "ab12"},
       "made_by": {"command": "test", "seed": 0, "date": "2026-11-21T00:00:00Z"},
       "versions": {"torch": "2.13.0"}}
      """;

  static final String SQUASHED = """
      {"format": "rql4j-prior/1", "name": "mc", "distribution": "squashed_gaussian",
       "observation_space": {"type": "Dict", "spaces": {
           "achieved": {"type": "Box", "shape": [2], "dtype": "float64", "low": [-1, -1], "high": [1, 1]},
           "mode": {"type": "Discrete", "n": 3}}},
       "action_space": {"type": "Box", "shape": [1], "dtype": "float32", "low": [-1], "high": [1]},
       "observation": {"flatten": "gymnasium", "dim": 5},
       "action_scaling": {"kind": "tanh_to_box", "low": [-1], "high": [1]},
       "module": {"file": "policy.pt", "outputs": ["mean", "log_std"]},
       "source": {"kind": "sb3-sac", "file": "sac.zip", "sha256": "cd34"},
       "made_by": {}, "versions": {}}
      """;

  @Test
  void parsesAValidSidecar() {
    PriorSpec spec = PriorPackage.parse(CATEGORICAL, "prior.json", null);
    assertEquals(Distribution.CATEGORICAL, spec.distribution());
    assertEquals(new Space.Discrete(2, 0), spec.actionSpace());
    assertEquals(Double.NEGATIVE_INFINITY, ((Space.Box) spec.observationSpace()).low()[1]);
    assertEquals(4, spec.obsDim());
    assertEquals(2, spec.actionDim());
    PriorSpec sq = PriorPackage.parse(SQUASHED, "prior.json", null);
    assertEquals(5, sq.obsDim());
    assertTrue(sq.observationSpace() instanceof Space.Dict);
  }

  @ParameterizedTest
  @ValueSource(strings = {"format", "name", "distribution", "observation_space", "action_space", "observation",
      "module", "source", "made_by", "versions"})
  void missingFieldsAreNamed(String field) {
    JsonObject o = JsonParser.parseString(CATEGORICAL).getAsJsonObject();
    o.remove(field);
    PriorException e = assertThrows(PriorException.class, () -> PriorPackage.parse(o.toString(), "/x/prior.json", null));
    assertTrue(e.getMessage().contains("/x/prior.json") && e.getMessage().contains("'" + field + "'"), e.getMessage());
  }

  @Test
  void inconsistentSidecarsAreRefusedWithTheField() {
    assertRefused(CATEGORICAL.replace("rql4j-prior/1", "rql4j-prior/9"), "'format'");
    assertRefused(CATEGORICAL.replace("\"categorical\"", "\"deterministic\""), "deterministic policy has no log-probability");
    assertRefused(CATEGORICAL.replace("\"dim\": 4", "\"dim\": 5"), "'observation.dim'");
    assertRefused(CATEGORICAL.replace("\"dim\": 4", "\"dim\": \"4\""), "'observation.dim'");
    assertRefused(CATEGORICAL.replace("{\"type\": \"Discrete\", \"n\": 2, \"start\": 0}",
        "{\"type\": \"Box\", \"shape\": [1], \"dtype\": \"float32\", \"low\": [-1], \"high\": [1]}"), "needs a Discrete");
    assertRefused(SQUASHED.replace("tanh_to_box", "clip_to_box"), "'action_scaling.kind'");
    assertRefused(SQUASHED.replace("\"gymnasium\"", "\"none\""), "'observation.flatten'"); // as the Python side
    assertRefused(SQUASHED.replace("\"outputs\": [\"mean\", \"log_std\"]", "\"outputs\": [\"mean\"]"), "'module.outputs'");
    assertRefused(CATEGORICAL.replace("\"type\": \"Box\"", "\"type\": \"Text\""), "'observation_space.type'");
    assertRefused("[1, 2]", "not a JSON object");
    assertRefused("{not json", "not valid JSON");
  }

  private static void assertRefused(String json, String expected) {
    PriorException e = assertThrows(PriorException.class, () -> PriorPackage.parse(json, "p/prior.json", null));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }

  @Test
  void spacesMustMatchTheEnv() {
    PriorSpec spec = PriorPackage.parse(CATEGORICAL, "prior.json", null);
    Space.Box cartObs = (Space.Box) spec.observationSpace();
    spec.checkCompatible("CartPole-v1", cartObs, new Space.Discrete(2, 0));
    PriorException actions = assertThrows(PriorException.class,
        () -> spec.checkCompatible("Acrobot-v1", cartObs, new Space.Discrete(3, 0)));
    assertTrue(actions.getMessage().contains("Discrete(2)") && actions.getMessage().contains("Discrete(3)"),
        actions.getMessage());
    Space.Box wide = new Space.Box(new long[] {6}, org.rql4j.env.DType.FLOAT32, new double[6], new double[6]);
    PriorException obs = assertThrows(PriorException.class,
        () -> spec.checkCompatible("Other-v0", wide, new Space.Discrete(2, 0)));
    assertTrue(obs.getMessage().contains("width 4") && obs.getMessage().contains("width 6"), obs.getMessage());
  }

  @Test
  void readingAFolderChecksTheSidecarAndModuleFile(@TempDir Path dir) throws Exception {
    PriorException notPackage = assertThrows(PriorException.class, () -> PriorPackage.read(dir));
    assertTrue(notPackage.getMessage().contains("prior.json is missing"), notPackage.getMessage());
    Files.writeString(dir.resolve("prior.json"), CATEGORICAL);
    PriorException noModule = assertThrows(PriorException.class, () -> PriorPackage.read(dir));
    assertTrue(noModule.getMessage().contains("'module.file'") && noModule.getMessage().contains("is not a file"),
        noModule.getMessage());
    Files.write(dir.resolve("policy.pt"), new byte[] {1, 2, 3});
    assertEquals("cp", PriorPackage.read(dir).name());
    PriorException garbage = assertThrows(PriorException.class, () -> TorchScriptPrior.load(dir));
    assertTrue(garbage.getMessage().contains("cannot load the TorchScript module"), garbage.getMessage());
  }

  /**
   * The package-folder rule of {@code module.file}, on the cases that Python's
   * tests/test_prior_package.py reads too (src/test/resources/org/rql4j/prior/module-file-cases.json).
   */
  @Test
  void moduleFilesOutsideThePackageAreRefusedAsInPython(@TempDir Path root) throws Exception {
    JsonObject fixture;
    try (InputStream in = PriorPackageTest.class.getResourceAsStream("module-file-cases.json")) {
      fixture = JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
    }
    List<String> failures = new ArrayList<>();
    int i = 0;
    for (JsonElement c : fixture.getAsJsonArray("cases")) {
      JsonObject kase = c.getAsJsonObject();
      Path caseRoot = Files.createDirectory(root.resolve("case" + i++));
      Path pkg = Files.createDirectories(caseRoot.resolve("pkg").resolve("sub"));
      pkg = pkg.getParent();
      Files.write(caseRoot.resolve("outside.pt"), new byte[] {9});
      Files.write(pkg.resolve("policy.pt"), new byte[] {1});
      Files.write(pkg.resolve("sub").resolve("inner.pt"), new byte[] {2});
      if (kase.has("links")) {
        for (Map.Entry<String, JsonElement> link : kase.getAsJsonObject("links").entrySet()) {
          Files.createSymbolicLink(pkg.resolve(link.getKey()), Path.of(fill(link.getValue().getAsString(), caseRoot)));
        }
      }
      String file = fill(kase.get("file").getAsString(), caseRoot);
      JsonObject sidecar = JsonParser.parseString(CATEGORICAL).getAsJsonObject();
      sidecar.getAsJsonObject("module").addProperty("file", file);
      Files.writeString(pkg.resolve("prior.json"), sidecar.toString());
      boolean refused = kase.get("refused").getAsBoolean();
      try {
        PriorSpec spec = PriorPackage.read(pkg);
        Path module = PriorPackage.moduleFile(spec);
        if (refused) {
          failures.add("'" + file + "' was accepted (" + module + "), expected: " + kase.get("rule").getAsString());
        } else if (!Files.isSameFile(module, pkg.resolve(file))) {
          failures.add("'" + file + "' resolved to " + module);
        }
      } catch (PriorException e) {
        String m = e.getMessage();
        if (!refused) {
          failures.add("'" + file + "' was refused: " + m);
        } else if (!m.contains(kase.get("rule").getAsString()) || !m.contains(pkg.resolve("prior.json").toString())
            || !m.contains("'module.file'") || !m.contains("'" + file + "'")) {
          failures.add("'" + file + "': the message does not name the sidecar, the field, the value and '"
              + kase.get("rule").getAsString() + "': " + m);
        }
      }
    }
    assertTrue(failures.isEmpty(), String.join("\n", failures));
    assertEquals(19, i, "the shared fixture's cases");
  }

  private static String fill(String value, Path caseRoot) {
    return value.replace("{package}", caseRoot.resolve("pkg").toString())
        .replace("{outside}", caseRoot.resolve("outside.pt").toString());
  }
}
