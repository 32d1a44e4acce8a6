package org.rql4j.customize;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
}
