package org.rql4j.customize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.env.Env;
import org.rql4j.env.Tensor;
import org.rql4j.learner.CustomizedPolicy;
import org.rql4j.learner.Policies;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.learner.SacPolicy;
import org.rql4j.policy.SavablePolicy;
import org.rql4j.prior.GaussianParams;
import org.rql4j.prior.TorchScriptPrior;

/**
 * A customized policy taken home: a short run of each off-policy learner, exported with
 * {@link PolicyExport} (Python composes the TorchScript module), then the exported folder loaded
 * back in Java as a prior package (DJL) and compared with the Java policy on 1000 observations
 * recorded from the env: soft Q-learning's log-probabilities at w 0.5, alphaHat 0.7 (so that a
 * composition dropping either is caught) within 1e-5, SAC's and residual PPO's Gaussians (PPO's with
 * its observation normalization) within 1e-5. Then the export's
 * bad input: a folder with no policy, an output folder in use.
 */
class PolicyExportIT {

  static final Path ROOT = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();

  @TempDir
  static Path work;

  @BeforeAll
  static void requirement() throws Exception {
    Files.writeString(work.resolve("mytasks.py"), "def stay_left(obs, action, next_obs, reward, terminated, "
        + "truncated, info):\n    return 1.0 if next_obs[0] < 0.0 else 0.0\n"
        + "def less_left(obs, action, next_obs, reward, terminated, truncated, info):\n"
        + "    return -0.1 if float(action[0]) < 0.0 else 0.0\n");
  }

  /** {@code n} observations of {@code envId} visited by uniformly random actions (seeded). */
  private static float[] recordObservations(String envId, int n, boolean discrete) throws Exception {
    return recordObservations(envId, n, discrete, 1);
  }

  /** As above with {@code actDim}-dimensional uniform actions in [-1, 1] for a Box env. */
  private static float[] recordObservations(String envId, int n, boolean discrete, int actDim) throws Exception {
    float[] out = null;
    int filled = 0;
    Random rng = new Random(0);
    try (PythonServer server = PythonServer.start(); GrpcEnvClient client = server.connect();
        Env env = client.makeSingle(envId, "{}")) {
      float[] obs = ((Tensor) env.reset(0L).observation()).toFloatArray();
      out = new float[n * obs.length];
      long episode = 1;
      while (filled < n) {
        System.arraycopy(obs, 0, out, filled * obs.length, obs.length);
        filled++;
        float[] a = new float[actDim];
        for (int i = 0; i < actDim; i++) {
          a[i] = (float) (rng.nextDouble() * 2 - 1);
        }
        Env.Step s = discrete ? env.step((long) rng.nextInt(2)) : env.step(a);
        obs = s.terminated() || s.truncated() ? ((Tensor) env.reset(episode++).observation()).toFloatArray()
            : ((Tensor) s.observation()).toFloatArray();
      }
    }
    return out;
  }

  private static double maxAbsDiff(float[] a, float[] b) {
    assertEquals(a.length, b.length, "same size");
    double worst = 0;
    for (int i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]));
    }
    return worst;
  }

  /** The deterministic actions of {@code policy} (Java) on each of the {@code dim}-wide observations. */
  private static float[] javaActions(org.rql4j.policy.Policy policy, float[] obs, int dim) {
    java.util.List<Float> out = new java.util.ArrayList<>();
    for (int i = 0; i < obs.length / dim; i++) {
      Tensor a = (Tensor) policy.act(Tensor.ofFloats(java.util.Arrays.copyOfRange(obs, i * dim, (i + 1) * dim), dim),
          true);
      for (int k = 0; k < a.numel(); k++) {
        out.add((float) a.getDouble(k));
      }
    }
    float[] f = new float[out.size()];
    for (int i = 0; i < f.length; i++) {
      f[i] = out.get(i);
    }
    return f;
  }

  /**
   * The exported {@code policy.onnx} run by onnxruntime (Python) on the observations, against Java's
   * outputs ({@code names}: forward's outputs in order) and deterministic actions: the largest relative
   * difference {@code |onnx - java| / max(1, |java|)} of each output, the largest action difference, and
   * the indices of the observations whose actions differ by more than 1e-5.
   */
  private static com.google.gson.JsonObject onnxAgainstJava(Path home, float[] obs, int dim, String[] names,
      float[][] outputs, float[] actions) throws Exception {
    Path files = Files.createTempDirectory(work, "onnx");
    Files.write(files.resolve("obs.f32"), littleEndian(obs));
    for (int i = 0; i < names.length; i++) {
      Files.write(files.resolve(names[i] + ".f32"), littleEndian(outputs[i]));
    }
    Files.write(files.resolve("action.f32"), littleEndian(actions));
    String script = """
        import json, sys
        import numpy as np, onnxruntime as ort
        home, files, dim, names = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
        obs = np.fromfile(files + "/obs.f32", dtype="<f4").reshape(-1, dim)
        session = ort.InferenceSession(home + "/policy.onnx", providers=["CPUExecutionProvider"])
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"obs": obs})))
        result = {}
        for name in names:
            want = np.fromfile(f"{files}/{name}.f32", dtype="<f4").astype(np.float64)
            diff = np.abs(got[name].astype(np.float64).ravel() - want)
            result[name] = float(diff.max())
            result[name + "_relative"] = float((diff / np.maximum(1.0, np.abs(want))).max())
            if name == "log_probs":  # the probabilities themselves
                result["probs"] = float(np.abs(np.exp(got[name].astype(np.float64).ravel()) - np.exp(want)).max())
        want = np.fromfile(files + "/action.f32", dtype="<f4").astype(np.float64).reshape(obs.shape[0], -1)
        diff = np.abs(got["action"].astype(np.float64).reshape(obs.shape[0], -1) - want).max(axis=1)
        result["action"] = float(diff.max())
        result["action_mismatch"] = [int(i) for i in np.nonzero(diff > 1e-5)[0]]
        print(json.dumps(result))
        """;
    return python(script, home.toString(), files.toString(), String.valueOf(dim), String.join(",", names))
        .getAsJsonObject();
  }

  /**
   * Runs {@code script} with {@code args} in the project's Python and returns its last line, read as JSON;
   * fails the test when it exits non-zero or takes more than 5 minutes (its output in the message).
   */
  private static com.google.gson.JsonElement python(String script, String... args) throws Exception {
    Path log = Files.createTempFile(work, "python", ".log");
    java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(PythonServer.defaultPython().toString(), "-c",
        script));
    cmd.addAll(java.util.List.of(args));
    Process py = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    boolean done = py.waitFor(5, java.util.concurrent.TimeUnit.MINUTES);
    if (!done) {
      py.destroyForcibly();
    }
    String out = Files.readString(log).strip();
    assertTrue(done, "Python did not finish in 5 minutes: " + out);
    assertEquals(0, py.exitValue(), out);
    return com.google.gson.JsonParser.parseString(out.substring(out.lastIndexOf('\n') + 1));
  }

  private static byte[] littleEndian(float[] values) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * values.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    return b.array();
  }

  @Test
  void softQExportsTheWholeCustomizedPolicy() throws Exception {
    Path run = work.resolve("softq-run");
    Task task = Task.of("CartPole-v1").withAddon("mytasks:stay_left");
    try (Customization.Result r = Customization.builder(task, ROOT.resolve("examples/priors/cartpole-center-softdqn"))
        .optServer(PythonServer.builder().optWorkingDir(work)).optSteps(1500).optEvalEpisodes(3)
        .optTuning(c -> ((ResidualSoftQConfig) c).toBuilder().optPriorWeight(0.5f).optAlphaHat(0.7f).build())
        .optOutDir(run).build().run()) {
      assertTrue(r.config() instanceof ResidualSoftQConfig);
      // a finished run exports itself
      assertEquals(run.resolve(Customization.EXPORT_DIR), r.exportDir());
    }
    Path home = run.resolve(Customization.EXPORT_DIR);
    assertTrue(Files.isRegularFile(home.resolve("prior.json")) && Files.isRegularFile(home.resolve("policy.pt")));
    // ... and rql4j export writes the same policy again (compared below)
    Path again = PolicyExport.builder(run, work.resolve("softq-home")).optOnnx(false).build().run();
    assertFalse(Files.readString(home.resolve("prior.json")).contains(ROOT.toString()), "no absolute paths");

    float[] obs = recordObservations("CartPole-v1", 1000, true);
    float[] javaLogProbs;
    try (SavablePolicy p = Policies.load(run.resolve("policy"))) {
      javaLogProbs = ((CustomizedPolicy) p).logProbs(obs);
    }
    float[] exported;
    try (TorchScriptPrior prior = TorchScriptPrior.load(home); NDManager m = NDManager.newBaseManager("PyTorch")) {
      exported = prior.logProbsAll(m.create(obs, new Shape(1000, 4))).toFloatArray();
    }
    try (TorchScriptPrior prior = TorchScriptPrior.load(again); NDManager m = NDManager.newBaseManager("PyTorch")) {
      assertArrayEquals(exported, prior.logProbsAll(m.create(obs, new Shape(1000, 4))).toFloatArray());
    }
    double diff = maxAbsDiff(javaLogProbs, exported);
    System.out.println("soft Q-learning, 1000 observations: max |log pi_hat (Java) - log pi_hat (exported)| = " + diff);
    assertTrue(diff <= 1e-5, "log-probabilities differ by " + diff);
    // policy.onnx in onnxruntime: the same argmax except at exact ties, and probabilities within 1e-5 (measured
    // 7e-6). The log-probabilities of unlikely actions (down to -45 here) differ by up to 1.6e-5 relative:
    // onnxruntime's float32 kernels round the logits differently from libtorch's (docs/export.md). Dropping w or
    // alphaHat moves the probabilities by whole tenths.
    float[] javaArgmax = new float[1000];
    for (int i = 0; i < 1000; i++) {
      javaArgmax[i] = javaLogProbs[2 * i + 1] > javaLogProbs[2 * i] ? 1 : 0;
    }
    com.google.gson.JsonObject onnx = onnxAgainstJava(home, obs, 4, new String[] {"log_probs"},
        new float[][] {javaLogProbs}, javaArgmax);
    System.out.println("soft Q-learning, 1000 observations, ONNX vs Java: " + onnx);
    assertTrue(onnx.get("probs").getAsDouble() <= 1e-5, onnx.toString());
    for (var i : onnx.getAsJsonArray("action_mismatch")) {
      int k = i.getAsInt();
      assertEquals(javaLogProbs[2 * k], javaLogProbs[2 * k + 1], 1e-5f, "an action differs away from a tie: " + k);
    }

    // the same episodes in Python, without Java: load_policy + predict on the evaluation seeds
    String script = """
        import json, sys
        import gymnasium as gym
        from rql4j_bridge import load_policy
        policy = load_policy(sys.argv[1])
        env = gym.make("CartPole-v1")
        returns = []
        for seed in json.loads(sys.argv[2]):
            obs, _ = env.reset(seed=seed)
            total, addon, done = 0.0, 0.0, False
            while not done:
                action, _ = policy.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, _ = env.step(int(action))
                total += reward
                addon += 1.0 if obs[0] < 0.0 else 0.0  # mytasks.stay_left
                done = terminated or truncated
            returns.append([total, addon])
        print(json.dumps(returns))
        """;
    com.google.gson.JsonArray episodes = com.google.gson.JsonParser.parseString(Files.readString(
        run.resolve("summary.json"))).getAsJsonObject().getAsJsonArray("learned_episodes");
    java.util.List<Long> seeds = new java.util.ArrayList<>();
    java.util.List<java.util.List<Double>> javaReturns = new java.util.ArrayList<>();
    for (var e : episodes) {
      seeds.add(e.getAsJsonObject().get("seed").getAsLong());
      javaReturns.add(java.util.List.of(e.getAsJsonObject().get("basicReturn").getAsDouble(),
          e.getAsJsonObject().get("addonReturn").getAsDouble()));
    }
    com.google.gson.JsonArray pyReturns = python(script, home.toString(), seeds.toString()).getAsJsonArray();
    System.out.println("[basic, add-on] returns on seeds " + seeds + ": Java " + javaReturns + ", Python " + pyReturns);
    for (int i = 0; i < seeds.size(); i++) {
      for (int k = 0; k < 2; k++) {
        assertEquals(javaReturns.get(i).get(k), pyReturns.get(i).getAsJsonArray().get(k).getAsDouble(), 1e-9,
            (k == 0 ? "basic" : "add-on") + " return of the episode of seed " + seeds.get(i));
      }
    }
  }

  @Test
  void evaluateRunsBothPoliciesOnTheRunsSeedsAndRecordsThem() throws Exception {
    Path run = work.resolve("eval-run");
    Task task = Task.of("CartPole-v1").withAddon("mytasks:stay_left");
    try (Customization.Result r = Customization.builder(task, ROOT.resolve("examples/priors/cartpole-center-softdqn"))
        .optServer(PythonServer.builder().optWorkingDir(work)).optSteps(2000).optEvalEpisodes(3)
        .optOutDir(run).build().run()) {
      assertTrue(r.exportDir() != null);
    }
    Path video = work.resolve("side-by-side.gif");
    // the env and add-on come from the folder's record (CartPole-v1 + mytasks:stay_left)
    PolicyEvaluation.Result r = PolicyEvaluation.builder(run.resolve(Customization.EXPORT_DIR)).optEpisodes(3)
        .optVideo(video).optWorkingDir(work).build().run();
    assertEquals("CartPole-v1", r.envId());
    assertEquals("mytasks:stay_left", r.addon());
    // the exported policy in Python gives the Java run's own evaluation, episode by episode, and so does the prior
    com.google.gson.JsonObject summary = com.google.gson.JsonParser.parseString(Files.readString(
        run.resolve("summary.json"))).getAsJsonObject();
    for (String[] side : new String[][] {{"prior_episodes", "prior"}, {"learned_episodes", "customized"}}) {
      com.google.gson.JsonArray javaEpisodes = summary.getAsJsonArray(side[0]);
      org.rql4j.train.Evaluator.Summary py = side[1].equals("prior") ? r.prior() : r.customized();
      assertEquals(javaEpisodes.size(), py.episodes().size());
      for (int i = 0; i < javaEpisodes.size(); i++) {
        com.google.gson.JsonObject e = javaEpisodes.get(i).getAsJsonObject();
        assertEquals(e.get("seed").getAsLong(), py.episodes().get(i).seed());
        assertEquals(e.get("basicReturn").getAsDouble(), py.episodes().get(i).basicReturn(), 1e-9, side[1]);
        assertEquals(e.get("addonReturn").getAsDouble(), py.episodes().get(i).addonReturn(), 1e-9, side[1]);
      }
    }
    System.out.println(r.markdown() + "\nKL " + r.kl() + " (prior's states " + r.klOnPriorStates() + ")");
    assertTrue(r.kl() > 0 && r.kl() < 10, "KL " + r.kl());
    // the recording: frames of both episodes side by side (a CartPole frame is 600 wide)
    javax.imageio.ImageReader gif = javax.imageio.ImageIO.getImageReadersByFormatName("gif").next();
    try (javax.imageio.stream.ImageInputStream in = javax.imageio.ImageIO.createImageInputStream(video.toFile())) {
      gif.setInput(in);
      assertTrue(gif.getNumImages(true) > 10, "frames: " + gif.getNumImages(true));
      assertEquals(1200, gif.getWidth(0));
    }
    // a second recording to the same file is refused before anything runs; the file is kept
    long size = Files.size(video);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PolicyEvaluation.builder(run.resolve(Customization.EXPORT_DIR)).optVideo(video).build());
    assertTrue(e.getMessage().contains("already exists"), e.getMessage());
    assertEquals(size, Files.size(video));
    // a run folder is not an exported policy
    e = assertThrows(IllegalArgumentException.class, () -> PolicyEvaluation.builder(run).build());
    assertTrue(e.getMessage().contains("not an exported policy") && e.getMessage().contains(run.toString()),
        e.getMessage());
  }

  @Test
  void sacExportsTheActor() throws Exception {
    Path run = work.resolve("sac-run");
    Task task = Task.of("MountainCarContinuous-v0").withAddon("mytasks:less_left");
    try (Customization.Result r = Customization.builder(task, ROOT.resolve("examples/priors/mountaincar-lessleft-sac"))
        .optServer(PythonServer.builder().optWorkingDir(work)).optSteps(1000).optEvalEpisodes(2)
        .optOutDir(run).build().run()) {
      assertTrue(r.config() instanceof ResidualSacConfig);
    }
    // the exported policy evaluated in Python (torch 2.13) against the run's own evaluation (libtorch 2.7.1):
    // continuous actions have no ties, so a difference would be rounding carried through the episode
    PolicyEvaluation.Result ev = PolicyEvaluation.builder(run.resolve(Customization.EXPORT_DIR)).optEpisodes(2)
        .optWorkingDir(work).build().run();
    com.google.gson.JsonArray javaEpisodes = com.google.gson.JsonParser.parseString(Files.readString(
        run.resolve("summary.json"))).getAsJsonObject().getAsJsonArray("learned_episodes");
    for (int i = 0; i < 2; i++) {
      com.google.gson.JsonObject e = javaEpisodes.get(i).getAsJsonObject();
      org.rql4j.train.Evaluator.Episode py = ev.customized().episodes().get(i);
      System.out.printf(java.util.Locale.ROOT, "SAC, seed %d: basic / add-on return Java %.6f / %.6f, Python %.6f / "
          + "%.6f%n", py.seed(), e.get("basicReturn").getAsDouble(), e.get("addonReturn").getAsDouble(),
          py.basicReturn(), py.addonReturn());
      assertEquals(e.get("seed").getAsLong(), py.seed());
      assertEquals(e.get("basicReturn").getAsDouble(), py.basicReturn(), 1e-4, "basic return, seed " + py.seed());
      assertEquals(e.get("addonReturn").getAsDouble(), py.addonReturn(), 1e-4, "add-on return, seed " + py.seed());
    }
    Path home = run.resolve(Customization.EXPORT_DIR);
    float[] obs = recordObservations("MountainCarContinuous-v0", 1000, false);
    float[][] javaGaussian;
    float[] javaAct;
    try (SavablePolicy p = Policies.load(run.resolve("policy"))) {
      javaGaussian = ((SacPolicy) p).learner().actorDistribution(obs);
      javaAct = javaActions(p, obs, 2);
    }
    com.google.gson.JsonObject onnx = onnxAgainstJava(home, obs, 2, new String[] {"mean", "log_std"}, javaGaussian,
        javaAct);
    System.out.println("SAC, 1000 observations, ONNX vs Java: " + onnx);
    assertTrue(onnx.get("mean").getAsDouble() <= 1e-5 && onnx.get("log_std").getAsDouble() <= 1e-5
        && onnx.get("action").getAsDouble() <= 1e-5, onnx.toString()); // absolute
    try (TorchScriptPrior prior = TorchScriptPrior.load(home); NDManager m = NDManager.newBaseManager("PyTorch")) {
      GaussianParams g = prior.distribution(m.create(obs, new Shape(1000, 2)));
      double mean = maxAbsDiff(javaGaussian[0], g.mean().toFloatArray());
      double logStd = maxAbsDiff(javaGaussian[1], g.logStd().toFloatArray());
      System.out.println("SAC, 1000 observations: max |mean diff| = " + mean + ", max |log-std diff| = " + logStd);
      assertTrue(mean <= 1e-5 && logStd <= 1e-5, "mean " + mean + ", log-std " + logStd);
    }
  }

  @Test
  void ppoExportsTheGaussianWithItsNormalization() throws Exception {
    Path run = work.resolve("ppo-run");
    try (Customization.Result r = Customization.builder(Task.builtIn("hopper-height"),
            ROOT.resolve("examples/priors/hopper-height-ppo"))
        .optAlgorithm(Customization.Algorithm.PPO).optSteps(4096).optEvalEpisodes(1).optOutDir(run).build().run()) {
      assertTrue(r.policyDir() != null);
    }
    Path home = run.resolve(Customization.EXPORT_DIR);
    float[] obs = recordObservations("Hopper-v5", 1000, false, 3);
    try (SavablePolicy p = Policies.load(run.resolve("policy"));
        TorchScriptPrior prior = TorchScriptPrior.load(home); NDManager m = NDManager.newBaseManager("PyTorch")) {
      org.rql4j.learner.ResidualPpo ppo = ((org.rql4j.learner.PpoPolicy) p).learner();
      float[] javaMean = ppo.actOnInput(ppo.networkInput(obs), true, new Random(0)).actions();
      GaussianParams g = prior.distribution(m.create(obs, new Shape(1000, 11)));
      double mean = maxAbsDiff(javaMean, g.mean().toFloatArray());
      float[] logStd = g.logStd().toFloatArray();
      float[] javaLogStd = new float[logStd.length];
      for (int i = 0; i < javaLogStd.length; i++) {
        javaLogStd[i] = ppo.logStd()[i % 3];
      }
      double ls = maxAbsDiff(javaLogStd, logStd);
      System.out.println("PPO, 1000 observations: max |mean diff| = " + mean + ", max |log-std diff| = " + ls);
      assertTrue(mean <= 1e-5 && ls <= 1e-5, "mean " + mean + ", log-std " + ls);
      com.google.gson.JsonObject onnx = onnxAgainstJava(home, obs, 11, new String[] {"mean", "log_std"},
          new float[][] {javaMean, javaLogStd}, javaActions(p, obs, 11));
      System.out.println("PPO, 1000 observations, ONNX vs Java: " + onnx);
      assertTrue(onnx.get("mean").getAsDouble() <= 1e-5 && onnx.get("log_std").getAsDouble() <= 1e-5
          && onnx.get("action").getAsDouble() <= 1e-5, onnx.toString());
    }
  }

  @Test
  void badInputIsNamedAndNothingIsWritten() throws Exception {
    Path empty = Files.createDirectories(work.resolve("not-a-run"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PolicyExport.builder(empty, work.resolve("x")).build());
    assertTrue(e.getMessage().contains("holds no saved policy"), e.getMessage());
    assertFalse(Files.exists(work.resolve("x")));

    Path used = Files.createDirectories(work.resolve("used"));
    Files.writeString(used.resolve("keep.txt"), "mine");
    Files.createDirectories(work.resolve("fake-run/policy"));
    Files.writeString(work.resolve("fake-run/policy/policy.json"), "{}");
    e = assertThrows(IllegalArgumentException.class, () -> PolicyExport.builder(work.resolve("fake-run"), used).build());
    assertTrue(e.getMessage().contains("already exists and is not empty"), e.getMessage());
    assertEquals("mine", Files.readString(used.resolve("keep.txt")));

    // a policy folder Python does not recognize: its message comes through, nothing is written
    java.io.IOException io = assertThrows(java.io.IOException.class,
        () -> PolicyExport.builder(work.resolve("fake-run"), work.resolve("y")).build().run());
    assertTrue(io.getMessage().contains("fake-run"), io.getMessage());
    assertFalse(Files.exists(work.resolve("y")), "nothing written");
  }
}
