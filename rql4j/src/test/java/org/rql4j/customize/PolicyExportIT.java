package org.rql4j.customize;

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

  @Test
  void softQExportsTheWholeCustomizedPolicy() throws Exception {
    Path run = work.resolve("softq-run");
    Task task = Task.of("CartPole-v1").withAddon("mytasks:stay_left");
    try (Customization.Result r = Customization.builder(task, ROOT.resolve("examples/priors/cartpole-center-softdqn"))
        .optServer(PythonServer.builder().optWorkingDir(work)).optSteps(1500).optEvalEpisodes(3)
        .optTuning(c -> ((ResidualSoftQConfig) c).toBuilder().optPriorWeight(0.5f).optAlphaHat(0.7f).build())
        .optOutDir(run).build().run()) {
      assertTrue(r.config() instanceof ResidualSoftQConfig);
    }
    Path home = PolicyExport.builder(run, work.resolve("softq-home")).build().run();
    assertTrue(Files.isRegularFile(home.resolve("prior.json")) && Files.isRegularFile(home.resolve("policy.pt")));
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
    double diff = maxAbsDiff(javaLogProbs, exported);
    System.out.println("soft Q-learning, 1000 observations: max |log pi_hat (Java) - log pi_hat (exported)| = " + diff);
    assertTrue(diff <= 1e-5, "log-probabilities differ by " + diff);

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
    Process py = new ProcessBuilder(PythonServer.defaultPython().toString(), "-c", script, home.toString(),
        seeds.toString()).redirectErrorStream(true).start();
    String out = new String(py.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
    assertEquals(0, py.waitFor(), out);
    String last = out.substring(out.lastIndexOf('\n') + 1);
    com.google.gson.JsonArray pyReturns = com.google.gson.JsonParser.parseString(last).getAsJsonArray();
    System.out.println("[basic, add-on] returns on seeds " + seeds + ": Java " + javaReturns + ", Python " + pyReturns);
    for (int i = 0; i < seeds.size(); i++) {
      for (int k = 0; k < 2; k++) {
        assertEquals(javaReturns.get(i).get(k), pyReturns.get(i).getAsJsonArray().get(k).getAsDouble(), 1e-9,
            (k == 0 ? "basic" : "add-on") + " return of the episode of seed " + seeds.get(i));
      }
    }
  }

  @Test
  void sacExportsTheActor() throws Exception {
    Path run = work.resolve("sac-run");
    Task task = Task.of("MountainCarContinuous-v0").withAddon("mytasks:less_left");
    try (Customization.Result r = Customization.builder(task, ROOT.resolve("examples/priors/mountaincar-lessleft-sac"))
        .optServer(PythonServer.builder().optWorkingDir(work)).optSteps(1000).optEvalEpisodes(1)
        .optOutDir(run).build().run()) {
      assertTrue(r.config() instanceof ResidualSacConfig);
    }
    Path home = PolicyExport.builder(run.resolve("policy"), work.resolve("sac-home")).optOnnx(false).build().run();
    float[] obs = recordObservations("MountainCarContinuous-v0", 1000, false);
    float[][] javaGaussian;
    try (SavablePolicy p = Policies.load(run.resolve("policy"))) {
      javaGaussian = ((SacPolicy) p).learner().actorDistribution(obs);
    }
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
    Path home = PolicyExport.builder(run, work.resolve("ppo-home")).optOnnx(false).build().run();
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
