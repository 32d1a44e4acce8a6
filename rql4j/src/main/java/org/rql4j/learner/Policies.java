package org.rql4j.learner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.rql4j.policy.SavablePolicy;

/** Saved policies of every learner. */
public final class Policies {

  private Policies() {}

  /**
   * Loads a saved policy of any kind (a customized soft-Q policy with its prior, a SAC or a PPO policy),
   * as its {@code policy.json}'s {@code format} says (docs/run-folder.md, "policy/").
   *
   * @throws IOException if {@code dir} holds no policy.json or one of an unknown format
   */
  public static SavablePolicy load(Path dir) throws IOException {
    JsonObject json = readPolicyJson(dir, "policy", CustomizedPolicy.FORMAT, CustomizedPolicy.FORMAT_1,
        SacPolicy.FORMAT, SacPolicy.FORMAT_1, PpoPolicy.FORMAT);
    return switch (json.get("format").getAsString()) {
      case CustomizedPolicy.FORMAT, CustomizedPolicy.FORMAT_1 -> CustomizedPolicy.load(dir, null);
      case SacPolicy.FORMAT, SacPolicy.FORMAT_1 -> SacPolicy.load(dir);
      default -> PpoPolicy.load(dir);
    };
  }

  /**
   * A saved policy's {@code policy.json}, of one of {@code formats}; an IOException naming the file
   * when it is missing, not JSON, or of another format ({@code what}: the kind of policy, for messages).
   */
  static JsonObject readPolicyJson(Path dir, String what, String... formats) throws IOException {
    Path file = dir.resolve("policy.json");
    if (!Files.isRegularFile(file)) {
      throw new IOException(dir + " holds no saved " + what + " (no policy.json): pass the policy/ folder of a run");
    }
    JsonObject json;
    try {
      json = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
    } catch (RuntimeException e) {
      throw new IOException(file + " is not a JSON object: " + e.getMessage(), e);
    }
    String format = json.has("format") ? json.get("format").getAsString() : "";
    if (!java.util.Arrays.asList(formats).contains(format)) {
      throw new IOException(file + ": field 'format' is '" + format + "'; this version reads "
          + String.join(", ", formats) + " here");
    }
    return json;
  }
}
