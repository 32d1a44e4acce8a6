package org.rql4j.customize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;

class ConfigFileTest {

  @Test
  void yamlAndJsonSetTheRunAndTheLearnersFields(@TempDir Path tmp) throws Exception {
    Path yaml = Files.writeString(tmp.resolve("run.yml"), """
        env_id: Pendulum-v1
        addon: mytasks:gentle
        imports: [a, b]
        steps: 5000
        config:
          learningRate: 0.001
          hidden: [32, 32]
          learnAlpha: true
        """);
    ConfigFile f = ConfigFile.read(yaml);
    assertEquals("Pendulum-v1", f.text("env_id"));
    assertEquals(5000L, f.whole("steps"));
    assertEquals(List.of("a", "b"), f.texts("imports"));
    ResidualSacConfig sac = (ResidualSacConfig) f.overlay(ResidualSacConfig.mountaincar());
    assertEquals(0.001f, sac.learningRate());
    assertEquals(List.of(32, 32), java.util.Arrays.stream(sac.hidden()).boxed().toList());
    assertTrue(sac.learnAlpha());
    assertEquals(ResidualSacConfig.mountaincar().gamma(), sac.gamma(), "fields left out keep the base's");

    ResidualSoftQConfig q = ResidualSoftQConfig.cartpole().withSeed(9);
    Path json = Files.writeString(tmp.resolve("config.json"),
        "{\"task\": \"cartpole-center\", \"config\": " + new com.google.gson.Gson().toJson(q) + "}");
    assertEquals(q.toString(), ConfigFile.read(json).overlay(ResidualSoftQConfig.cartpole()).toString(),
        "a config.json gives its config back");
    assertSame(q, ConfigFile.EMPTY.overlay(q));
  }

  @Test
  void aWrongFileNamesTheFileAndTheSetting(@TempDir Path tmp) throws Exception {
    String[][] cases = {
        {"a.yaml", "envid: X\n", "unknown setting 'envid'"},
        {"b.yaml", "config:\n  learningRat: 1\n", "'config.learningRat' is not a field of ResidualSoftQConfig"},
        {"c.yaml", "config:\n  hidden: 64\n", "'config.hidden' must be like [256,256], got 64"},
        {"d.yaml", "config:\n  gamma: high\n", "'config.gamma' must be like 0.99, got \"high\""},
        {"e.yaml", "config:\n  gamma: 2\n", "ResidualSoftQConfig.gamma (in [0, 1]) is out of range: 2.0"},
        {"f.yaml", "env_id: [X\n", "is not valid YAML"},
        {"g.json", "{\"env_id\": ", "is not valid JSON"},
        {"h.yaml", "- a\n- b\n", "must hold a mapping of settings"},
        {"i.yaml", "steps: 1.5\n", "'steps' must be a whole number"},
        {"j.yaml", "config:\n  totalSteps: 1000.7\n", "'config.totalSteps' must be like 100000, got 1000.7"},
        {"k.yaml", "config:\n  hidden: [64, 1.5]\n", "'config.hidden' must be like [256,256]"},
    };
    for (String[] c : cases) {
      Path file = Files.writeString(tmp.resolve(c[0]), c[1]);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
        ConfigFile f = ConfigFile.read(file);
        f.whole("steps");
        f.overlay(ResidualSoftQConfig.cartpole());
      }, c[0]);
      assertTrue(e.getMessage().contains(c[2]) && e.getMessage().contains(c[0]), c[0] + ": " + e.getMessage());
    }
  }
}
