package org.rql4j.learner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
    Path file = dir.resolve("policy.json");
    if (!Files.isRegularFile(file)) {
      throw new IOException(dir + " holds no saved policy (no policy.json): pass the policy/ folder of a run");
    }
    com.google.gson.JsonObject json;
    try {
      json = com.google.gson.JsonParser.parseString(Files.readString(file)).getAsJsonObject();
    } catch (RuntimeException e) {
      throw new IOException(file + " is not a JSON object: " + e.getMessage(), e);
    }
    String format = json.has("format") ? json.get("format").getAsString() : "";
    return switch (format) {
      case CustomizedPolicy.FORMAT, CustomizedPolicy.FORMAT_1 -> CustomizedPolicy.load(dir, null);
      case SacPolicy.FORMAT, SacPolicy.FORMAT_1 -> SacPolicy.load(dir);
      case PpoPolicy.FORMAT -> PpoPolicy.load(dir);
      default -> throw new IOException(file + ": field 'format' is '" + format + "'; this version reads "
          + CustomizedPolicy.FORMAT + ", " + SacPolicy.FORMAT + " and " + PpoPolicy.FORMAT);
    };
  }
}
