package org.rql4j.customize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.bridge.EnvClient;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.PythonServer;
import org.rql4j.bridge.RemoteVectorEnv;
import org.rql4j.bridge.RewardVariant;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.Env;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.env.Value;
import org.rql4j.learner.ResidualPpoConfig;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.mcts.EnvSimulator;
import org.rql4j.mcts.MctsConfig;
import org.rql4j.mcts.ResidualMaxEntMcts;
import org.rql4j.mcts.SearchPolicy;
import org.rql4j.mcts.SearchPrior;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.train.Evaluator;

/**
 * The matrix of docs/spaces.md against the real env server: toy Gymnasium envs of every space kind
 * (a module the test writes, like a user's), priors exported from tiny TorchScript modules with
 * {@code rql4j-bridge export}'s Python API, and the public path ({@link Customization}). Every "refused"
 * cell is refused with its message and nothing written; one "yes" cell per non-trivial space trains a
 * few hundred steps and evaluates; the bridge carries every space; the tree search refuses what it
 * cannot search. Small budgets: this is about which spaces work, not about learning.
 */
class SpacesIT {

  static final String MODULE = """
      import gymnasium
      import numpy as np
      from gymnasium import spaces
      from gymnasium.wrappers import FlattenObservation

      OBS = {
          "box4": lambda: spaces.Box(-1.0, 1.0, (4,), np.float32),
          "box23": lambda: spaces.Box(-1.0, 1.0, (2, 3), np.float32),
          "disc": lambda: spaces.Discrete(5),
          "dict": lambda: spaces.Dict({"pos": spaces.Box(-1.0, 1.0, (2,), np.float32), "mode": spaces.Discrete(3)}),
          "tuple": lambda: spaces.Tuple((spaces.Box(-1.0, 1.0, (2,), np.float32), spaces.Discrete(3))),
          "mb": lambda: spaces.MultiBinary(4),
          "md": lambda: spaces.MultiDiscrete([3, 2]),
      }
      ACT = {
          "disc": lambda: spaces.Discrete(3),
          "discs": lambda: spaces.Discrete(3, start=-1),
          "box": lambda: spaces.Box(-2.0, 2.0, (2,), np.float32),
          "box22": lambda: spaces.Box(-2.0, 2.0, (2, 2), np.float32),
          "boxinf": lambda: spaces.Box(-np.inf, np.inf, (2,), np.float32),
          "md": lambda: spaces.MultiDiscrete([3, 2]),
          "mb": lambda: spaces.MultiBinary(3),
      }

      class ToyEnv(gymnasium.Env):
          # a hidden 2-d state drifting; the observation shows it in the space asked for
          def __init__(self, obs="box4", act="disc", render_mode=None):
              self.kind = obs
              self.observation_space = OBS[obs]()
              self.action_space = ACT[act]()

          def _obs(self):
              s, k = self.state, self.kind
              if k == "box4":
                  return np.array([s[0], s[1], s[0] * s[1], 0.5], np.float32)
              if k == "box23":
                  return np.array([[s[0], s[1], 0.1], [-s[0], -s[1], 0.2]], np.float32)
              if k == "disc":
                  return int(np.clip((s[0] + 1) * 2.5, 0, 4))
              if k == "dict":
                  return {"pos": s.astype(np.float32), "mode": int(self.t % 3)}
              if k == "tuple":
                  return (s.astype(np.float32), int(self.t % 3))
              if k == "mb":
                  return (np.array([s[0] > 0, s[1] > 0, s[0] > s[1], self.t % 2]) != 0).astype(np.int8)
              return np.array([int(self.t % 3), int(s[0] > 0)], np.int64)

          def reset(self, *, seed=None, options=None):
              super().reset(seed=seed)
              self.state = self.np_random.uniform(-0.5, 0.5, 2)
              self.t = 0
              return self._obs(), {}

          def step(self, action):
              assert self.action_space.contains(action), f"{action!r} not in {self.action_space}"
              self.t += 1
              self.state = np.clip(self.state + self.np_random.normal(0, 0.1, 2), -1, 1)
              reward = 0.1 * float(np.asarray(action, dtype=np.float64).sum())
              return self._obs(), reward, False, self.t >= 50, {}

      def flat(**kw):
          return FlattenObservation(ToyEnv(**kw))

      for o in OBS:
          for a in ACT:
              gymnasium.register(f"spaces/{o}-{a}-v0", entry_point=ToyEnv, kwargs={"obs": o, "act": a},
                                 max_episode_steps=50)
      gymnasium.register("spaces/dictflat-disc-v0", entry_point=flat, kwargs={"obs": "dict", "act": "disc"},
                         max_episode_steps=50)

      def bonus(obs, action, next_obs, reward, terminated, truncated, info):
          return 1.0 if float(np.asarray(action).reshape(-1)[0]) <= -0.5 else 0.0
      """;

  /** Priors of tiny modules on the flattened observation, exported as a user would ({@code torch-module}). */
  static final String MAKE_PRIORS = """
      import gymnasium, torch
      from torch import nn
      import spacetasks
      from rql4j_bridge.prior.export import export_checkpoint

      class Logits(nn.Module):
          def __init__(self, d, n):
              super().__init__()
              self.l = nn.Linear(d, n)
          def forward(self, x):
              return self.l(x)

      class Gauss(nn.Module):
          def __init__(self, d, n):
              super().__init__()
              self.l = nn.Linear(d, n)
              self.s = nn.Parameter(torch.full((n,), -0.5))
          def forward(self, x):
              m = self.l(x)
              return m, self.s.expand_as(m)

      torch.manual_seed(0)
      # the Dict prior is exported against the unwrapped env: flatten 'gymnasium', which is what
      # FlattenObservation gives the learners
      for obs, act, dist in [("box4", "disc", "logits"), ("box4", "discs", "logits"), ("box23", "disc", "logits"),
                             ("mb", "box", "squashed_gaussian"), ("dict", "disc", "logits"),
                             ("box4", "box", "diag_gaussian"), ("box4", "boxinf", "diag_gaussian")]:
          env_id = f"spaces/{obs}-{act}-v0"
          env = gymnasium.make(env_id)
          d = gymnasium.spaces.flatdim(env.observation_space)
          n = gymnasium.spaces.flatdim(env.action_space)
          f = f"{obs}-{act}.pt"
          torch.jit.save(torch.jit.script(Logits(d, n) if dist == "logits" else Gauss(d, n)), f)
          export_checkpoint("torch-module", f, f"prior-{obs}-{act}", env_id=env_id, distribution=dist)
      """;

  @TempDir
  static Path work;

  static PythonServer server;
  static EnvClient client;

  @BeforeAll
  static void userFiles() throws Exception {
    Files.writeString(work.resolve("spacetasks.py"), MODULE);
    Files.writeString(work.resolve("make_priors.py"), MAKE_PRIORS);
    ProcessBuilder pb = new ProcessBuilder(PythonServer.defaultPython().toString(), "make_priors.py")
        .directory(work.toFile()).redirectErrorStream(true);
    pb.environment().put("PYTHONWARNINGS", "ignore");
    Process p = pb.start();
    String out;
    try (var in = p.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), "make_priors.py did not finish");
    assertEquals(0, p.exitValue(), out);
    server = PythonServer.builder().optWorkingDir(work).optImport("spacetasks").optAddon("spacetasks:bonus").start();
    client = server.connect();
  }

  @AfterAll
  static void stop() {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.close();
    }
  }

  /** A refused cell: the env, the prior, how the run is set up, and what the message must say. */
  record Refused(String env, String prior, UnaryOperator<Customization.Builder> setup, String... expected) {}

  static final String OBS_HELP = "supports Box observations (any shape, C order) and MultiBinary ones; wrap the env in "
      + "gymnasium.wrappers.FlattenObservation";
  static final String ACT_HELP = "MultiDiscrete, MultiBinary, Dict, Tuple and multi-dimensional Box actions are not "
      + "supported";

  static UnaryOperator<Customization.Builder> algo(Customization.Algorithm a) {
    return b -> b.optAlgorithm(a);
  }

  @Test
  void refusedCellsAreRefusedWithTheirMessageBeforeAnythingIsWritten() throws Exception {
    UnaryOperator<Customization.Builder> softQ = algo(Customization.Algorithm.SOFT_Q);
    UnaryOperator<Customization.Builder> sac = algo(Customization.Algorithm.SAC);
    UnaryOperator<Customization.Builder> ppo = algo(Customization.Algorithm.PPO);
    List<Refused> cases = List.of(
        // observations the learners cannot read as they come
        new Refused("disc-disc", "box4-disc", softQ, "observes Discrete(5)", OBS_HELP),
        new Refused("md-disc", "box4-disc", ppo, "observes MultiDiscrete([3, 2])", OBS_HELP),
        new Refused("dict-disc", "dict-disc", softQ, "observes Dict('mode': Discrete(3), 'pos': Box([2]", OBS_HELP),
        new Refused("tuple-box", "box4-disc", sac, "observes Tuple(Box([2]", OBS_HELP),
        // actions no learner acts in (whatever the learner asked for)
        new Refused("box4-md", "box4-disc", UnaryOperator.identity(), "acts in MultiDiscrete([3, 2])", ACT_HELP),
        new Refused("box4-mb", "box4-disc", ppo, "acts in MultiBinary([3])", ACT_HELP),
        new Refused("box4-box22", "box4-disc", sac, "acts in Box([2, 2]", ACT_HELP),
        // what one learner cannot do
        new Refused("box4-boxinf", "box4-boxinf", sac, "residual SAC needs finite Box action bounds"),
        new Refused("box4-boxinf", "box4-boxinf", b -> b.optPpoConfig(ppoFromScratch()),
            "PPO (it clips its actions to them) needs finite Box action bounds"),
        new Refused("box4-disc", "box4-disc", ppo, "initializing pi_theta from a prior needs a Box action space",
            "initFromPrior: false"),
        new Refused("box4-box", "box4-box", ppo, "cannot initialize pi_theta from prior 'prior-box4-box'",
            "or train pi_theta from scratch"),
        new Refused("box4-box", "mb-box", softQ, "soft Q-learning needs Discrete actions (use SAC)"),
        new Refused("box4-disc", "box4-disc", sac, "SAC needs Box actions (use soft Q-learning)"));
    for (Refused c : cases) {
      Path out = work.resolve("refused-" + c.env());
      Customization.Builder b = Customization.builder(Task.of("spaces/" + c.env() + "-v0").withAddon("spacetasks:bonus"),
          work.resolve("prior-" + c.prior())).optEnvClient(client).optSteps(2048).optEvalEpisodes(1).optOutDir(out);
      Customization run = c.setup().apply(b).build();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, run::run, c.env());
      for (String expected : c.expected()) {
        assertTrue(e.getMessage().contains(expected), c.env() + ": expected '" + expected + "' in: " + e.getMessage());
      }
      assertFalse(Files.exists(out), c.env() + ": nothing written");
    }
  }

  /** PPO without the copy of the prior's network (a prior of another shape than SB3's), short rollouts. */
  static ResidualPpoConfig ppoFromScratch() {
    return Customization.defaultPpoConfig(Baseline.RESIDUAL).withInitFromPrior(false).withSchedule(512, 128, 64, 2, 2);
  }

  static ResidualSoftQConfig softQ() {
    return ResidualSoftQConfig.builder().optLearningStarts(100).optTotalSteps(400).optTrainFrequency(50)
        .optGradientSteps(5).build();
  }

  private static Customization.Result customize(String env, String prior, UnaryOperator<Customization.Builder> setup)
      throws Exception {
    Path out = work.resolve("yes-" + env);
    Customization.Builder b = Customization.builder(Task.of("spaces/" + env + "-v0").withAddon("spacetasks:bonus"),
        work.resolve("prior-" + prior)).optEnvClient(client).optEvalEpisodes(1).optOutDir(out);
    Customization.Result r = setup.apply(b).build().run();
    for (Evaluator.Summary s : List.of(r.prior(), r.learned())) {
      assertEquals(1, s.episodes().size());
      assertEquals(50, s.episodes().get(0).length(), "a full episode");
      assertTrue(Double.isFinite(s.mean(Evaluator.Episode::basicReturn)), env);
    }
    assertTrue(Files.isRegularFile(out.resolve("summary.json")) && Files.isRegularFile(out.resolve("policy/policy.json")));
    assertNotNull(r.policy());
    return r;
  }

  @Test
  void aBoxObservationOfShape2x3WithDiscreteActionsThroughSoftQ() throws Exception {
    try (Customization.Result r = customize("box23-disc", "box23-disc", b -> b.optConfig(softQ()))) {
      assertTrue(r.config() instanceof ResidualSoftQConfig);
      assertEquals(400, r.training().step());
      Value a = r.policy().act(Tensor.ofFloats(new float[] {0.1f, -0.2f, 0.1f, -0.1f, 0.2f, 0.2f}, 2, 3), true);
      assertTrue(new Space.Discrete(3, 0).contains(a), a.toString());
    }
  }

  @Test
  void discreteActionsStartingAtMinusOneThroughSoftQ() throws Exception {
    try (Customization.Result r = customize("box4-discs", "box4-discs", b -> b.optConfig(softQ()))) {
      Space.Discrete space = new Space.Discrete(3, -1);
      Random rng = new Random(0);
      for (int i = 0; i < 20; i++) {
        float[] obs = {rng.nextFloat() - 0.5f, rng.nextFloat() - 0.5f, 0f, 0.5f};
        Value a = r.policy().act(Tensor.ofFloats(obs), i % 2 == 0);
        assertTrue(space.contains(a), "the policy acts in the env's values -1, 0, 1: " + a);
      }
    }
  }

  @Test
  void multiBinaryObservationsThroughSac() throws Exception {
    try (Customization.Result r = customize("mb-box", "mb-box",
        b -> b.optConfig(ResidualSacConfig.mountaincar().withSchedule(64, 50, 5, 100).withTotalSteps(400)))) {
      assertTrue(r.config() instanceof ResidualSacConfig);
      assertTrue(Double.isFinite(r.training().loss()), "a finite loss: " + r.training());
    }
  }

  @Test
  void aDictObservationFlattenedByTheEnvThroughPpo() throws Exception {
    // the prior was exported against the unwrapped Dict env ('gymnasium' flatten): the same values
    try (Customization.Result r = customize("dictflat-disc", "dict-disc", b -> b.optPpoConfig(ppoFromScratch()))) {
      assertTrue(r.config() instanceof ResidualPpoConfig);
      assertEquals(512, r.training().step());
    }
  }

  @Test
  void theBridgeCarriesEverySpace() {
    Random rng = new Random(1);
    for (String id : List.of("dict-box", "tuple-disc", "disc-disc", "md-disc", "mb-disc", "box23-disc", "box4-discs",
        "box4-md", "box4-mb", "box4-box22")) {
      try (Env env = Env.single(client.make(EnvSpec.builder("spaces/" + id + "-v0")
          .optAutoresetMode(AutoresetMode.DISABLED).build()))) {
        Value obs = env.reset(0L).observation();
        assertTrue(env.observationSpace().contains(obs), id + ": " + obs);
        for (int t = 0; t < 5; t++) {
          Env.Step s = env.step(sample(env.actionSpace(), rng));
          assertTrue(env.observationSpace().contains(s.observation()), id);
        }
      }
    }
  }

  @Test
  void treeSearchRefusesWhatItCannotSearchAndSearchesABoxOf2x3() throws Exception {
    for (String[] c : new String[][] {{"dict-disc", "observes Dict('mode': Discrete(3)"},
        {"box4-discs", "tree search needs Discrete actions from 0"}}) {
      try (RemoteVectorEnv env = searchEnv(c[0])) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> new EnvSimulator(env, Evaluator.ADDON));
        assertTrue(e.getMessage().contains(c[1]), e.getMessage());
      }
    }
    try (TorchScriptPrior prior = TorchScriptPrior.load(work.resolve("prior-box23-disc"));
        ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager("PyTorch");
        RemoteVectorEnv env = searchEnv("box23-disc")) {
      ResidualMaxEntMcts mcts = new ResidualMaxEntMcts(MctsConfig.reference().withSimulations(4).withHorizon(2),
          SearchPrior.of(prior, m));
      SearchPolicy policy = new SearchPolicy(mcts, new EnvSimulator(env, Evaluator.ADDON), new Random(0));
      Evaluator.Summary s = Evaluator.evaluate(Env.single(env), policy, Evaluator.defaultSeeds(1));
      assertEquals(50, s.episodes().get(0).length());
    }
  }

  private static RemoteVectorEnv searchEnv(String id) {
    return client.make(EnvSpec.builder("spaces/" + id + "-v0").optAddonReward("spacetasks:bonus", RewardVariant.TOTAL)
        .optAutoresetMode(AutoresetMode.DISABLED).build());
  }

  private static Value sample(Space s, Random rng) {
    if (s instanceof Space.Discrete d) {
      return Tensor.scalar(d.start() + rng.nextInt((int) d.n()));
    }
    if (s instanceof Space.Box b) {
      float[] v = new float[(int) b.flatDim()];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (b.low()[i] + rng.nextDouble() * (b.high()[i] - b.low()[i]));
      }
      return Tensor.ofFloats(v, b.shape());
    }
    if (s instanceof Space.MultiDiscrete m) {
      long[] v = new long[m.nvec().length];
      for (int i = 0; i < v.length; i++) {
        v[i] = m.start()[i] + rng.nextInt((int) m.nvec()[i]);
      }
      return Tensor.ofLongs(v, m.shape());
    }
    boolean[] v = new boolean[(int) s.flatDim()];
    for (int i = 0; i < v.length; i++) {
      v[i] = rng.nextBoolean();
    }
    return Tensor.ofBooleans(v, ((Space.MultiBinary) s).shape());
  }
}
