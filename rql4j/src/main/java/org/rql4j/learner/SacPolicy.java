package org.rql4j.learner;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Random;
import org.rql4j.env.DType;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.env.Value;
import org.rql4j.policy.SavablePolicy;

/**
 * The customized policy of residual SAC: its actor {@code pi_hat} alone (the prior shaped it
 * during training and is not needed to act). Deterministic acting is {@code tanh(mean)}, rescaled
 * to the env's Box bounds. Saved as a folder ({@code policy.json} + {@code actor.safetensors}) that loads
 * on its own.
 */
public final class SacPolicy implements SavablePolicy {

  /** The saved folder's format. */
  public static final String FORMAT = "rql4j-sac-policy/2";

  /** The first format (weights in actor.bin), still read. */
  public static final String FORMAT_1 = "rql4j-sac-policy/1";

  /**
   * The prefix of the actor's tensors in actor.safetensors ({@code actor.0.weight}, ...): an
   * {@code nn.Sequential} of Linear and ReLU layers whose last output is the Gaussian's mean then
   * its log-std (clamped to [-20, 2]), one per action dimension; actions are tanh of a sample, scaled
   * to the Box bounds.
   */
  public static final String ACTOR_PREFIX = "actor";

  private final ResidualSac sac;
  private final boolean owns;
  private final Random rng;

  /** The policy of a learner (sharing its actor: acting follows further training). */
  public SacPolicy(ResidualSac sac, long seed) {
    this(sac, false, seed);
  }

  private SacPolicy(ResidualSac sac, boolean owns, long seed) {
    this.sac = sac;
    this.owns = owns;
    this.rng = new Random(seed);
  }

  @Override
  public Value act(Value observation, boolean deterministic) {
    float[] obs = ((Tensor) observation).toFloatArray();
    return Tensor.ofFloats(sac.toBounds(sac.act(obs, deterministic, rng)));
  }

  /** The learner behind this policy (its actor's distribution: {@link ResidualSac#actorDistribution}). */
  public ResidualSac learner() {
    return sac;
  }

  @Override
  public void save(Path dir) throws IOException {
    Files.createDirectories(dir);
    JsonObject json = new JsonObject();
    json.addProperty("format", FORMAT);
    json.addProperty("created", Instant.now().toString());
    json.addProperty("obs_dim", sac.actor().inputDim());
    json.add("action_low", new Gson().toJsonTree(sac.actionLow()));
    json.add("action_high", new Gson().toJsonTree(sac.actionHigh()));
    json.add("config", new Gson().toJsonTree(sac.config()));
    // the temperature at the end of training (the config's alphaHat is where a learned one started)
    json.addProperty("alpha_hat", sac.alphaHat());
    sac.actor().saveSafetensors(dir.resolve("actor.safetensors"), ACTOR_PREFIX);
    Files.writeString(dir.resolve("policy.json"), new GsonBuilder().setPrettyPrinting().create().toJson(json));
  }

  /** Loads a folder written by {@link #save}. */
  public static SacPolicy load(Path dir) throws IOException {
    JsonObject json = Policies.readPolicyJson(dir, "SAC policy", FORMAT, FORMAT_1);
    String format = json.get("format").getAsString();
    ResidualSacConfig config = new Gson().fromJson(json.get("config"), ResidualSacConfig.class);
    double[] low = new Gson().fromJson(json.get("action_low"), double[].class);
    double[] high = new Gson().fromJson(json.get("action_high"), double[].class);
    ResidualSac sac = new ResidualSac(config, json.get("obs_dim").getAsInt(),
        new Space.Box(new long[] {low.length}, DType.FLOAT32, low, high));
    try {
      if (FORMAT.equals(format)) {
        sac.actor().loadSafetensors(dir.resolve("actor.safetensors"), ACTOR_PREFIX);
      } else {
        try (DataInputStream in = new DataInputStream(Files.newInputStream(dir.resolve("actor.bin")))) {
          sac.actor().importWeights(Mlp.readWeights(in));
        }
      }
    } catch (IOException | RuntimeException e) {
      sac.close();
      throw e;
    }
    return new SacPolicy(sac, true, config.seed());
  }

  @Override
  public void close() {
    if (owns) {
      sac.close();
    }
  }
}
