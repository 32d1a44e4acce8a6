package org.rql4j.learner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
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
import org.rql4j.runtime.DjlRuntime;

/**
 * The policy {@code pi_theta} of residual PPO (or any PPO row): deterministic actions are the
 * Gaussian's mean clipped to the Box bounds, or the most likely of Discrete actions. Saved as a folder
 * ({@code policy.json} + {@code policy.safetensors}: the policy network under PyTorch {@code state_dict}
 * names {@code policy.0.weight}, {@code policy.0.bias}, {@code policy.2.weight}, ... with tanh between
 * the layers, and for Box actions the state-independent {@code log_std}) that loads on its own. With
 * observation normalization, policy.json holds the running mean and variance the network's inputs
 * are normalized with ({@code (obs - mean) / sqrt(var + 1e-8)}, clipped to +-10).
 */
public final class PpoPolicy implements SavablePolicy {

  /** The saved folder's format. */
  public static final String FORMAT = "rql4j-ppo-policy/1";

  /** The prefix of the policy network's tensors in policy.safetensors. */
  public static final String PREFIX = "policy";

  /** The name of the Gaussian's state-independent log-std in policy.safetensors (Box actions). */
  public static final String LOG_STD = "log_std";

  private final ResidualPpo ppo;
  private final boolean owns;
  private final Random rng;

  PpoPolicy(ResidualPpo ppo, boolean owns, long seed) {
    this.ppo = ppo;
    this.owns = owns;
    this.rng = new Random(seed);
  }

  @Override
  public Value act(Value observation, boolean deterministic) {
    float[] o = ((Tensor) observation).toFloatArray();
    ResidualPpo.Decision d = ppo.act(o, deterministic, rng);
    return ppo.actionSpace() instanceof Space.Discrete ? Tensor.scalar((long) d.envActions()[0])
        : Tensor.ofFloats(d.envActions());
  }

  /** The learner behind this policy (its network input, {@link ResidualPpo#networkInput}, and log-std). */
  public ResidualPpo learner() {
    return ppo;
  }

  @Override
  public void save(Path dir) throws IOException {
    Files.createDirectories(dir);
    Gson gson = new Gson();
    JsonObject json = new JsonObject();
    json.addProperty("format", FORMAT);
    json.addProperty("created", Instant.now().toString());
    json.addProperty("obs_dim", ppo.observationDim());
    Space space = ppo.actionSpace();
    JsonObject action = new JsonObject();
    if (space instanceof Space.Discrete d) {
      action.addProperty("type", "discrete");
      action.addProperty("n", d.n());
      action.addProperty("start", d.start());
    } else {
      Space.Box b = (Space.Box) space;
      action.addProperty("type", "box");
      action.add("low", gson.toJsonTree(b.low()));
      action.add("high", gson.toJsonTree(b.high()));
    }
    json.add("action_space", action);
    json.add("config", gson.toJsonTree(ppo.config()));
    RunningMeanStd stats = ppo.observationStats();
    if (stats != null) {
      double[] mean = new double[stats.dim()];
      double[] var = new double[stats.dim()];
      for (int i = 0; i < mean.length; i++) {
        mean[i] = stats.mean(i);
        var[i] = stats.var(i);
      }
      JsonObject norm = new JsonObject();
      norm.add("mean", gson.toJsonTree(mean));
      norm.add("var", gson.toJsonTree(var));
      norm.addProperty("count", stats.count());
      json.add("observation_normalization", norm);
    }
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDList tensors = ppo.policy().namedTensors(PREFIX, m);
      if (ppo.logStdArray() != null) {
        NDArray ls = m.create(ppo.logStdArray().toFloatArray());
        ls.setName(LOG_STD);
        tensors.add(ls);
      }
      Mlp.writeSafetensors(dir.resolve("policy.safetensors"), tensors);
    }
    Files.writeString(dir.resolve("policy.json"), new GsonBuilder().setPrettyPrinting().create().toJson(json));
  }

  /** Loads a folder written by {@link #save}. */
  public static PpoPolicy load(Path dir) throws IOException {
    JsonObject json = Policies.readPolicyJson(dir, "PPO policy", FORMAT);
    Path file = dir.resolve("policy.json");
    Gson gson = new Gson();
    ResidualPpoConfig config = gson.fromJson(json.get("config"), ResidualPpoConfig.class);
    JsonObject action = json.getAsJsonObject("action_space");
    Space space = action.get("type").getAsString().equals("discrete")
        ? new Space.Discrete(action.get("n").getAsLong(), action.get("start").getAsLong())
        : boxOf(gson.fromJson(action.get("low"), double[].class), gson.fromJson(action.get("high"), double[].class));
    ResidualPpo ppo = new ResidualPpo(config, json.get("obs_dim").getAsInt(), space);
    try {
      DjlRuntime.noGradOnThisThread();
      Path weights = dir.resolve("policy.safetensors");
      try (NDManager m = NDManager.newBaseManager("PyTorch")) {
        java.util.Map<String, NDArray> byName = Mlp.readSafetensors(weights, m);
        ppo.policy().setFrom(byName, PREFIX, weights);
        if (ppo.logStdArray() != null) {
          NDArray ls = byName.get(LOG_STD);
          if (ls == null || ls.size() != ppo.logStdArray().size()) {
            throw new IOException(weights + " needs a tensor '" + LOG_STD + "' of " + ppo.logStdArray().size()
                + " values, one per action dimension");
          }
          InPlace.copy(ppo.logStdArray(), ls.toFloatArray());
        }
      }
      if (json.has("observation_normalization")) {
        JsonObject norm = json.getAsJsonObject("observation_normalization");
        if (ppo.observationStats() == null) {
          throw new IOException(file + " has observation statistics but its config does not normalize observations");
        }
        ppo.observationStats().set(gson.fromJson(norm.get("mean"), double[].class),
            gson.fromJson(norm.get("var"), double[].class), norm.get("count").getAsDouble());
      }
    } catch (IOException | RuntimeException e) {
      ppo.close();
      throw e;
    }
    return new PpoPolicy(ppo, true, config.seed());
  }

  private static Space.Box boxOf(double[] low, double[] high) {
    return new Space.Box(new long[] {low.length}, DType.FLOAT32, low, high);
  }

  @Override
  public void close() {
    if (owns) {
      ppo.close();
    }
  }
}
