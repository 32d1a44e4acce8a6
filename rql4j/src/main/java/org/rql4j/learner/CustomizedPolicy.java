package org.rql4j.learner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Random;
import org.rql4j.env.Tensor;
import org.rql4j.env.Value;
import org.rql4j.prior.PriorException;
import org.rql4j.prior.PriorPackage;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.policy.SavablePolicy;

/**
 * The customized policy {@code pi_hat(a|s) ∝ exp((Q_R(s,a) + w log pi(a|s)) / alphaHat)}: a
 * residual Q network plus the frozen prior. Deterministic acting is the argmax of
 * {@code Q_R + w log pi} (method.md). Box observations, Discrete actions. Saved as a folder
 * ({@code policy.json} + {@code residual.safetensors}, the residual Q-network under PyTorch
 * {@code state_dict} names {@code q.0.weight}, {@code q.0.bias}, {@code q.2.weight}, ...) that loads
 * on its own, without the learner; folders of the first format ({@code residual.bin}) still load.
 */
public final class CustomizedPolicy implements SavablePolicy {

  /** The saved folder's format. */
  public static final String FORMAT = "rql4j-customized-policy/2";

  /** The first format (weights in residual.bin), still read. */
  public static final String FORMAT_1 = "rql4j-customized-policy/1";

  /** The prefix of the residual Q-network's tensors in residual.safetensors. */
  public static final String Q_PREFIX = "q";

  private final NDManager manager;
  private final Mlp qResidual;
  private final boolean ownsNetwork;
  private final PriorPolicy prior;
  private final boolean ownsPrior;
  private final double alphaHat;
  private final double priorWeight;
  private final long actionStart;
  private final Random rng;
  private final ResidualSoftQConfig config;

  private CustomizedPolicy(NDManager manager, Mlp qResidual, boolean ownsNetwork, PriorPolicy prior, boolean ownsPrior,
      ResidualSoftQConfig config, long actionStart, long seed) {
    this.manager = manager;
    this.qResidual = qResidual;
    this.ownsNetwork = ownsNetwork;
    this.prior = prior;
    this.ownsPrior = ownsPrior;
    this.config = config;
    this.alphaHat = config.alphaHat();
    this.priorWeight = config.priorWeight();
    this.actionStart = actionStart;
    this.rng = new Random(seed);
    if (priorWeight != 0 && prior == null) {
      throw new IllegalArgumentException("priorWeight is " + priorWeight + " but no prior was given");
    }
  }

  /**
   * The policy of a learner (sharing its network: acting follows further training).
   *
   * @param prior the frozen prior (null when the learner's priorWeight is 0)
   * @param actionStart the Discrete action space's start
   */
  public CustomizedPolicy(ResidualSoftQLearning learner, PriorPolicy prior, long actionStart, long seed) {
    this(NDManager.newBaseManager("PyTorch"), learner.qResidual(), false, prior, false, learner.policyConfig(),
        actionStart, seed);
  }

  @Override
  public Value act(Value observation, boolean deterministic) {
    float[] obs = ((Tensor) observation).toFloatArray();
    int n = qResidual.outputDim();
    float[] logits;
    try (NDManager step = manager.newSubManager()) {
      NDArray x = step.create(obs, new Shape(1, obs.length));
      NDArray lp = priorWeight == 0 ? null : prior.logProbsAll(x);
      logits = ResidualSoftQLearning.customizedLogits(qResidual.forward(x), lp, alphaHat, priorWeight).toFloatArray();
    }
    int best = ResidualSoftQLearning.chooseAction(logits, 0, n, deterministic, rng);
    return Tensor.scalar(best + actionStart);
  }

  /**
   * {@code log pi_hat(.|s)} for {@code [n, obsDim]} observations: {@code [n, nActions]} row-major,
   * {@code log_softmax((Q_R + w log pi) / alphaHat)} (what an exported policy's {@code forward}
   * returns, docs/prior-package.md).
   */
  public float[] logProbs(float[] observations) {
    org.rql4j.runtime.DjlRuntime.noGradOnThisThread();
    int obsDim = qResidual.inputDim();
    int n = observations.length / obsDim;
    try (NDManager step = manager.newSubManager()) {
      NDArray x = step.create(observations, new Shape(n, obsDim));
      NDArray lp = priorWeight == 0 ? null : prior.logProbsAll(x);
      return ResidualSoftQLearning.customizedLogits(qResidual.forward(x), lp, alphaHat, priorWeight).logSoftmax(1)
          .toFloatArray();
    }
  }

  /**
   * Saves the policy to {@code dir}: {@code policy.json} (settings, the prior package's path and
   * the sha256 of its sidecar and module) and {@code residual.safetensors} (the residual Q weights).
   */
  @Override
  public void save(Path dir) throws IOException {
    Files.createDirectories(dir);
    JsonObject json = new JsonObject();
    json.addProperty("format", FORMAT);
    json.addProperty("created", Instant.now().toString());
    json.addProperty("obs_dim", qResidual.inputDim());
    json.addProperty("n_actions", qResidual.outputDim());
    json.addProperty("action_start", actionStart);
    json.add("config", new Gson().toJsonTree(config));
    if (prior != null && prior.spec().packageDir() != null) {
      Path pkg = prior.spec().packageDir().toAbsolutePath().normalize();
      json.addProperty("prior_package", pkg.toString());
      json.addProperty("prior_sha256", PriorPackage.contentHash(pkg));
    }
    Files.writeString(dir.resolve("policy.json"), new GsonBuilder().setPrettyPrinting().create().toJson(json));
    qResidual.saveSafetensors(dir.resolve("residual.safetensors"), Q_PREFIX);
  }

  /**
   * Loads a saved policy with its prior (from the recorded package path, or {@code priorOverride}
   * when given); refuses a prior whose files changed since the policy was saved.
   */
  public static CustomizedPolicy load(Path dir, Path priorOverride) throws IOException {
    JsonObject json = Policies.readPolicyJson(dir, "customized policy", FORMAT, FORMAT_1);
    Path file = dir.resolve("policy.json");
    String format = json.get("format").getAsString();
    ResidualSoftQConfig config = new Gson().fromJson(json.get("config"), ResidualSoftQConfig.class);
    int obsDim = json.get("obs_dim").getAsInt();
    int nActions = json.get("n_actions").getAsInt();
    PriorPolicy prior = null;
    if (config.priorWeight() != 0) {
      Path pkg = priorOverride != null ? priorOverride
          : json.has("prior_package") ? Path.of(json.get("prior_package").getAsString()) : null;
      if (pkg == null) {
        throw new IOException(file + " names no prior package; pass its folder explicitly");
      }
      String expected = json.has("prior_sha256") ? json.get("prior_sha256").getAsString() : null;
      if (expected != null && !expected.equals(PriorPackage.contentHash(pkg))) {
        throw new PriorException("the prior package " + pkg + " is not the one " + dir + " was trained with (its files "
            + "changed); a residual Q-function is only meaningful with its own prior");
      }
      prior = TorchScriptPrior.load(pkg);
    }
    NDManager manager = NDManager.newBaseManager("PyTorch");
    Mlp net = new Mlp(manager, obsDim, config.hidden(), nActions, 0);
    try {
      if (FORMAT.equals(format)) {
        net.loadSafetensors(dir.resolve("residual.safetensors"), Q_PREFIX);
      } else {
        try (DataInputStream in = new DataInputStream(Files.newInputStream(dir.resolve("residual.bin")))) {
          net.importWeights(Mlp.readWeights(in));
        }
      }
    } catch (IOException | RuntimeException e) {
      manager.close();
      if (prior != null) {
        prior.close();
      }
      throw e;
    }
    return new CustomizedPolicy(manager, net, true, prior, true, config, json.get("action_start").getAsLong(),
        config.seed());
  }

  @Override
  public void close() {
    if (ownsNetwork) {
      qResidual.close();
    }
    if (ownsPrior && prior != null) {
      prior.close();
    }
    manager.close();
  }
}
