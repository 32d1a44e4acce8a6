package org.rql4j.policy;

import java.io.IOException;
import java.nio.file.Path;

/** A learned policy that saves itself to a folder that loads without the learner. */
public interface SavablePolicy extends Policy {

  void save(Path dir) throws IOException;

  /**
   * Loads a saved policy of any kind (a customized soft-Q policy with its prior, or a SAC policy),
   * as its {@code policy.json}'s {@code format} says.
   *
   * @throws IOException if {@code dir} holds no policy.json or one of an unknown format
   */
  static SavablePolicy load(Path dir) throws IOException {
    Path file = dir.resolve("policy.json");
    if (!java.nio.file.Files.isRegularFile(file)) {
      throw new IOException(dir + " holds no saved policy (no policy.json): pass the policy/ folder of a run");
    }
    com.google.gson.JsonObject json;
    try {
      json = com.google.gson.JsonParser.parseString(java.nio.file.Files.readString(file)).getAsJsonObject();
    } catch (RuntimeException e) {
      throw new IOException(file + " is not a JSON object: " + e.getMessage(), e);
    }
    String format = json.has("format") ? json.get("format").getAsString() : "";
    return switch (format) {
      case CustomizedPolicy.FORMAT -> CustomizedPolicy.load(dir, null);
      case SacPolicy.FORMAT -> SacPolicy.load(dir);
      default -> throw new IOException(file + ": field 'format' is '" + format + "'; this version reads "
          + CustomizedPolicy.FORMAT + " and " + SacPolicy.FORMAT);
    };
  }

  /**
   * The policy of a trained learner (sharing its networks).
   *
   * @param prior the frozen prior (null when the learner does not use one)
   */
  static SavablePolicy of(org.rql4j.learner.OffPolicyLearner learner, org.rql4j.prior.PriorPolicy prior,
      org.rql4j.env.Space actionSpace, long seed) {
    if (learner instanceof org.rql4j.learner.ResidualSoftQLearning q) {
      return new CustomizedPolicy(q, learner.usesPrior() ? prior : null,
          ((org.rql4j.env.Space.Discrete) actionSpace).start(), seed);
    }
    if (learner instanceof org.rql4j.learner.ResidualSac sac) {
      return new SacPolicy(sac, seed);
    }
    throw new IllegalArgumentException("no policy for a " + learner.kind() + " learner");
  }
}
