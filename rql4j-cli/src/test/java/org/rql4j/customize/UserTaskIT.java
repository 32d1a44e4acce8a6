package org.rql4j.customize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.bridge.PythonServer;
import org.rql4j.env.Env;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.policy.SavablePolicy;
import org.rql4j.train.Evaluator;

/**
 * A user's own env, requirement and prior, as a new user brings them: a Python module with add-on
 * rewards and SB3 policies trained and exported by a script, both written into a temporary folder
 * outside the package, customized (a) through {@link Customization} and (b) through
 * {@code bin/rql4j customize --env-id ... --addon ... --prior ... --out ...} run in that folder with
 * relative paths; Box (Pendulum-v1, SB3 SAC prior) and Discrete (Acrobot-v1, SB3 DQN prior). Small
 * budgets: this proves the path works end to end (runs finish, policies reload alone, both reward
 * columns are reported), not that it learns (docs/results.md does, at a real budget). Bad input
 * stops the command with a message naming it and nothing written.
 */
class UserTaskIT {

  static final String MODULE = """
      import numpy as np

      def gentle(obs, action, next_obs, reward, terminated, truncated, info):
          # Pendulum: a torque penalty, the requirement the prior never saw
          return -0.5 * float(np.asarray(action).reshape(-1)[0]) ** 2

      def no_push_right(obs, action, next_obs, reward, terminated, truncated, info):
          # Acrobot: actions 0, 1, 2 apply torque -1, 0, +1; the requirement: never +1
          return -1.0 if int(action) == 2 else 0.0

      def wordy(obs, action, next_obs, reward, terminated, truncated, info):
          return "a lot"

      def stay_left(obs, action, next_obs, reward, terminated, truncated, info):
          return 1.0 if next_obs[0] < 0.0 else 0.0
      """;

  static final String MAKE_PRIORS = """
      import subprocess, sys
      import gymnasium
      from stable_baselines3 import DQN, PPO, SAC

      SAC("MlpPolicy", gymnasium.make("Pendulum-v1"), learning_starts=100, seed=0, device="cpu",
          policy_kwargs={"net_arch": [32, 32]}).learn(600).save("pendulum-sac.zip")
      DQN("MlpPolicy", gymnasium.make("Acrobot-v1"), learning_starts=200, seed=0, device="cpu",
          policy_kwargs={"net_arch": [32, 32]}).learn(1000).save("acrobot-dqn.zip")
      PPO("MlpPolicy", gymnasium.make("Pendulum-v1"), n_steps=256, seed=0, device="cpu").learn(512).save("pendulum-ppo.zip")
      for kind, zip_, env_id, extra in [("sb3-sac", "pendulum-sac.zip", "Pendulum-v1", []),
                                        ("sb3-ppo", "pendulum-ppo.zip", "Pendulum-v1", []),
                                        ("sb3-dqn", "acrobot-dqn.zip", "Acrobot-v1", ["--temperature", "1"])]:
          subprocess.run([sys.executable, "-m", "rql4j_bridge", "export", "--kind", kind, "--checkpoint", zip_,
                          "--out", zip_[:-4] + "-prior", "--env-id", env_id, *extra], check=True)
      """;

  @TempDir
  static Path work;

  static Path root = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath();

  @BeforeAll
  static void userFiles() throws Exception {
    Files.writeString(work.resolve("mytasks.py"), MODULE);
    Files.writeString(work.resolve("make_priors.py"), MAKE_PRIORS);
    Run made = run(List.of(PythonServer.defaultPython().toString(), "make_priors.py"), 600);
    assertEquals(0, made.code(), made.output());
  }

  @Test
  void boxThroughTheJavaFacade() throws Exception {
    Path out = work.resolve("facade-pendulum");
    Task task = Task.of("Pendulum-v1").withAddon("mytasks:gentle");
    try (Customization.Result r = Customization.builder(task, work.resolve("pendulum-sac-prior"))
        .optServer(PythonServer.builder().optWorkingDir(work))
        .optSteps(1000).optEvalEpisodes(2).optOutDir(out).build().run()) {
      assertTrue(r.config() instanceof ResidualSacConfig, "Box actions: SAC");
      checkFinished(r, out, -2.0 * 200); // a torque penalty of -0.5 a^2, |a| <= 2: >= -2 a step, 200 steps
    }
  }

  @Test
  void discreteThroughTheJavaFacade() throws Exception {
    Path out = work.resolve("facade-acrobot");
    Task task = Task.of("Acrobot-v1").withAddon("mytasks:no_push_right");
    try (Customization.Result r = Customization.builder(task, work.resolve("acrobot-dqn-prior"))
        .optServer(PythonServer.builder().optWorkingDir(work))
        .optSteps(2000).optEvalEpisodes(2).optOutDir(out).build().run()) {
      assertTrue(r.config() instanceof ResidualSoftQConfig, "Discrete actions: soft Q-learning");
      checkFinished(r, out, -500);
    }
    // without a run folder nothing is written, and the result still holds a policy that acts
    try (Customization.Result r = Customization.builder(task, work.resolve("acrobot-dqn-prior"))
        .optServer(PythonServer.builder().optWorkingDir(work)).optSteps(1200).optEvalEpisodes(1).build().run()) {
      assertNull(r.policyDir());
      assertNotNull(r.policy().act(org.rql4j.env.Tensor.ofFloats(new float[6]), true));
    }
  }

  @Test
  void boxAndDiscreteThroughTheCommandLine() throws Exception {
    for (String[] c : new String[][] {{"Pendulum-v1", "mytasks:gentle", "pendulum-sac-prior", "cli-pendulum", "1000"},
        {"Acrobot-v1", "mytasks:no_push_right", "acrobot-dqn-prior", "cli-acrobot", "2000"}}) {
      Run r = rql4j("customize", "--env-id", c[0], "--addon", c[1], "--prior", c[2], "--steps", c[4],
          "--eval-episodes", "2", "--out", c[3]);
      assertEquals(0, r.code(), r.output());
      assertTrue(r.output().contains("| prior alone |") && r.output().contains("| customized (residual) |"),
          r.output());
      assertFalse(r.output().contains("not reported"), "both reward columns are reported:\n" + r.output());
      assertTrue(Files.isRegularFile(work.resolve(c[3]).resolve("export/policy.pt")), "exported:\n" + r.output());
      try (SavablePolicy policy = org.rql4j.learner.Policies.load(work.resolve(c[3]).resolve("policy"))) {
        assertNotNull(policy);
      }
    }
  }

  @Test
  void residualPpoFromAnSb3PpoPriorThroughTheCommandLine() throws Exception {
    Run r = rql4j("customize", "--env-id", "Pendulum-v1", "--addon", "mytasks:gentle", "--prior", "pendulum-ppo-prior",
        "--algo", "ppo", "--steps", "4096", "--eval-episodes", "2", "--out", "cli-pendulum-ppo");
    assertEquals(0, r.code(), r.output());
    assertTrue(r.output().contains("pi_theta starts as a copy of the prior's network"), r.output());
    assertTrue(r.output().contains("| customized (residual) |") && !r.output().contains("not reported"), r.output());
    assertEquals("ppo", json(work.resolve("cli-pendulum-ppo/config.json")).get("algo").getAsString());
    try (SavablePolicy policy = org.rql4j.learner.Policies.load(work.resolve("cli-pendulum-ppo/policy"))) {
      float[] a = ((org.rql4j.env.Tensor) policy.act(org.rql4j.env.Tensor.ofFloats(new float[3]), true)).toFloatArray();
      assertTrue(a.length == 1 && a[0] >= -2 && a[0] <= 2, "a torque within Pendulum's bounds");
    }
  }

  @Test
  void aRunsConfigJsonReproducesItAndAYamlFileSetsLearnerFields() throws Exception {
    Path prior = root.resolve("examples/priors/cartpole-center-softdqn");
    Run first = rql4j("customize", "--env-id", "CartPole-v1", "--addon", "mytasks:stay_left", "--prior",
        prior.toString(), "--steps", "1500", "--seed", "4", "--eval-episodes", "2", "--out", "config-a");
    assertEquals(0, first.code(), first.output());
    // the second process runs C1-compiled code only: a run must not depend on when (or whether) the
    // JIT compiled a method (Math.exp/pow differ by tier; the library uses StrictMath)
    Run again = rql4j(Map.of("RQL4J_JAVA_OPTS", "-XX:TieredStopAtLevel=1"), "customize", "--config",
        "config-a/config.json", "--out", "config-b");
    assertEquals(0, again.code(), again.output());
    com.google.gson.JsonObject a = json(work.resolve("config-a/summary.json"));
    com.google.gson.JsonObject b = json(work.resolve("config-b/summary.json"));
    for (String key : new String[] {"prior_episodes", "learned_episodes"}) {
      assertEquals(a.get(key), b.get(key), key);
    }
    for (String key : new String[] {"step", "episodes", "recentEnvReturn", "recentBasicReturn", "recentAddonReturn",
        "loss"}) {
      assertEquals(a.getAsJsonObject("final_progress").get(key), b.getAsJsonObject("final_progress").get(key), key);
    }
    assertEquals(json(work.resolve("config-a/config.json")).get("config"),
        json(work.resolve("config-b/config.json")).get("config"));

    Files.writeString(work.resolve("run.yaml"), """
        env_id: CartPole-v1
        addon: mytasks:stay_left
        prior: %s
        steps: 1200
        eval_episodes: 1
        config:
          learningRate: 0.001
          hidden: [64, 64]
        """.formatted(prior));
    Run yaml = rql4j("customize", "--config", "run.yaml", "--seed", "2", "--out", "config-yaml");
    assertEquals(0, yaml.code(), yaml.output());
    com.google.gson.JsonObject cfg = json(work.resolve("config-yaml/config.json")).getAsJsonObject("config");
    assertEquals(0.001f, cfg.get("learningRate").getAsFloat());
    assertEquals("[64,64]", cfg.get("hidden").toString());
    assertEquals(1200, cfg.get("totalSteps").getAsLong());
    assertEquals(2, cfg.get("seed").getAsLong(), "the command line overrides the file");
  }

  private static com.google.gson.JsonObject json(Path file) throws IOException {
    return com.google.gson.JsonParser.parseString(Files.readString(file)).getAsJsonObject();
  }

  @Test
  void badInputIsNamedAndNothingIsWritten() throws Exception {
    Files.writeString(work.resolve("typo.yaml"), "env_id: Pendulum-v1\nconfig:\n  learningRat: 0.1\n");
    Files.writeString(work.resolve("broken.json"), "{\"env_id\": \"Pendulum-v1\",");
    Files.writeString(work.resolve("range.yaml"), "config:\n  gamma: 2\n");
    String[][] cases = {
        {"unknown Gymnasium env id 'NoSuchEnv-v9'", "--env-id", "NoSuchEnv-v9", "--addon", "mytasks:gentle", "--prior", "pendulum-sac-prior"},
        {"no_such_module_rql4j", "--env-id", "Pendulum-v1", "--addon", "no_such_module_rql4j:f", "--prior",
            "pendulum-sac-prior"},
        {"returned 'a lot' (str)", "--env-id", "Pendulum-v1", "--addon", "mytasks:wordy", "--prior",
            "pendulum-sac-prior"},
        {"acts in", "--env-id", "Acrobot-v1", "--addon", "mytasks:no_push_right", "--prior", "pendulum-sac-prior"},
        {"option '--prior'", "--env-id", "Pendulum-v1", "--addon", "mytasks:gentle", "--prior"},
        {"unknown task 'cartpole-centre'", "--task", "cartpole-centre"},
        {"--prior DIR is needed", "--env-id", "Pendulum-v1", "--addon", "mytasks:gentle"},
        {"must exceed the learner's learningStarts (1000)", "--env-id", "Acrobot-v1", "--addon",
            "mytasks:no_push_right", "--prior", "acrobot-dqn-prior"},
        {"'config.learningRat' is not a field of ResidualSacConfig", "--config", "typo.yaml", "--addon",
            "mytasks:gentle", "--prior", "pendulum-sac-prior"},
        {"broken.json is not valid JSON", "--config", "broken.json"},
        {"ResidualSoftQConfig.gamma (in [0, 1]) is out of range: 2.0", "--config", "range.yaml", "--task",
            "cartpole-center"},
    };
    for (String[] c : cases) {
      List<String> args = new ArrayList<>(List.of("customize"));
      args.addAll(List.of(c).subList(1, c.length));
      args.addAll(List.of("--steps", "500", "--out", "refused"));
      Run r = rql4j(args.toArray(String[]::new));
      assertNotEquals(0, r.code(), r.output());
      assertTrue(r.output().contains(c[0]), "expected '" + c[0] + "' in:\n" + r.output());
      assertFalse(Files.exists(work.resolve("refused")), "nothing written for " + String.join(" ", args));
    }
  }

  private static void checkFinished(Customization.Result r, Path out, double worstAddon) throws IOException {
    for (Evaluator.Summary s : List.of(r.prior(), r.learned())) {
      assertTrue(s.unreported().isEmpty(), "both columns reported");
      double addon = s.mean(Evaluator.Episode::addonReturn);
      assertTrue(addon <= 0 && addon >= worstAddon, "add-on return " + addon);
      assertTrue(Double.isFinite(s.mean(Evaluator.Episode::basicReturn)));
    }
    for (String f : new String[] {"config.json", "metrics.csv", "summary.json", "policy/policy.json",
        "export/prior.json", "export/policy.pt", "export/prior/prior.json"}) {
      assertTrue(Files.isRegularFile(out.resolve(f)), f);
    }
    assertEquals(out.resolve("export"), r.exportDir(), "the finished run exported itself");
    assertNotNull(r.policy(), "the run hands out the customized policy");
    // the saved policy reloads alone and acts like the one handed out
    try (SavablePolicy loaded = org.rql4j.learner.Policies.load(out.resolve("policy"));
        PythonServer server = PythonServer.builder().optWorkingDir(work).optAddon(r.task().addon().orElseThrow())
            .start();
        var client = server.connect();
        Env env = Env.single(client.make(r.task().evalEnv().optAutoresetMode(org.rql4j.env.AutoresetMode.DISABLED)
            .build()))) {
      Evaluator.Summary again = Evaluator.evaluate(env, loaded, Evaluator.defaultSeeds(2));
      assertEquals(r.learned().episodes(), again.episodes(), "the reloaded policy repeats the evaluation");
    }
  }

  record Run(int code, String output) {}

  private static Run rql4j(String... args) throws Exception {
    return rql4j(Map.of(), args);
  }

  private static Run rql4j(Map<String, String> env, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(root.resolve("bin/rql4j").toString()));
    cmd.addAll(List.of(args));
    return run(cmd, 300, env);
  }

  private static Run run(List<String> cmd, int timeoutSeconds) throws Exception {
    return run(cmd, timeoutSeconds, Map.of());
  }

  private static Run run(List<String> cmd, int timeoutSeconds, Map<String, String> env) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(true);
    pb.environment().put("PYTHONWARNINGS", "ignore");
    pb.environment().putAll(env);
    Process p = pb.start();
    byte[] out;
    try (var in = p.getInputStream()) {
      out = in.readAllBytes();
    }
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(cmd + " did not finish in " + timeoutSeconds + " s");
    }
    return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }
}
