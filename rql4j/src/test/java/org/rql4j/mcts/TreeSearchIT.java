package org.rql4j.mcts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.EnumMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.rql4j.bridge.BridgeException;
import org.rql4j.bridge.BridgeTransport;
import org.rql4j.bridge.EnvClient;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.PythonServer;
import org.rql4j.bridge.RemoteVectorEnv;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.Tensor;
import org.rql4j.env.VectorStep;
import org.rql4j.prior.TorchScriptPrior;

/** Snapshots over the real server (both transports), and the tree search stepping a real task env. */
class TreeSearchIT {

  private static final Map<BridgeTransport, PythonServer> SERVERS = new EnumMap<>(BridgeTransport.class);
  private static final Map<BridgeTransport, EnvClient> CLIENTS = new EnumMap<>(BridgeTransport.class);

  static synchronized EnvClient client(BridgeTransport transport) {
    return CLIENTS.computeIfAbsent(transport, t -> {
      // a tight bound on snapshots: a search that leaks even one per decision runs into it
      PythonServer server = PythonServer.builder().optTransport(t).optServeArgs("--max-snapshots", "20").start();
      SERVERS.put(t, server);
      return server.client();
    });
  }

  @AfterAll
  static void stop() {
    CLIENTS.values().forEach(EnvClient::close);
    SERVERS.values().forEach(PythonServer::close);
  }

  private static RemoteVectorEnv single(BridgeTransport transport, String id) {
    return client(transport).make(EnvSpec.builder(id).optAutoresetMode(AutoresetMode.DISABLED).build());
  }

  private static float[] obs(VectorStep s) {
    return ((Tensor) s.observations().row(0)).toFloatArray();
  }

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void aRestoredSnapshotReplaysTheSameSteps(BridgeTransport transport) {
    try (RemoteVectorEnv env = single(transport, "CartPole-v1")) {
      env.reset(5);
      env.step(new long[] {1});
      String snap = env.snapshot(0);
      long[] actions = {0, 0, 1, 1, 0, 1};
      List<float[]> first = new ArrayList<>();
      for (long a : actions) {
        first.add(obs(env.step(new long[] {a})));
      }
      env.restore(0, snap);
      for (int i = 0; i < actions.length; i++) {
        assertArrayEquals(first.get(i), obs(env.step(new long[] {actions[i]})), "step " + i);
      }
      env.restore(0, snap);
      assertFalse(java.util.Arrays.equals(first.get(0), obs(env.step(new long[] {1}))), "another action differs");
      assertEquals(1, env.releaseSnapshots(List.of(snap, "unknown")));
      BridgeException e = assertThrows(BridgeException.class, () -> env.restore(0, snap));
      assertTrue(e.getMessage().contains("unknown snapshot handle"), e.getMessage());
    }
  }

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void theSearchLeavesTheEnvWhereItWasAndActsOnTheTaskEnv(BridgeTransport transport) throws Exception {
    Path prior = Path.of(System.getProperty("rql4j.project.dir", "."), "examples/priors/cartpole-center-softdqn");
    try (RemoteVectorEnv env = single(transport, "rql4j/cartpole-center-total-v0");
        TorchScriptPrior p = TorchScriptPrior.load(prior);
        NDManager manager = NDManager.newBaseManager("PyTorch")) {
      EnvSimulator sim = new EnvSimulator(env, "addon_reward");
      ResidualMaxEntMcts mcts = new ResidualMaxEntMcts(MctsConfig.reference().withSimulations(12).withHorizon(4),
          SearchPrior.of(p, manager));
      float[] o = ((Tensor) env.reset(10_000).observations().row(0)).toFloatArray();
      Random rng = new Random(0);
      for (int t = 0; t < 15; t++) {
        String here = env.snapshot(0);
        ResidualMaxEntMcts.Decision d = mcts.decide(sim, o, rng);
        assertTrue(d.action() == 0 || d.action() == 1);
        assertEquals(12, d.visits()[0] + d.visits()[1]);
        assertTrue(d.envSteps() >= 12 && d.envSteps() <= 12 * 4, "steps " + d.envSteps());
        VectorStep s = env.step(new long[] {d.action()});
        env.restore(0, here); // the search must have left the env at `here`: the same step again
        assertArrayEquals(obs(s), obs(env.step(new long[] {d.action()})), "decision " + t);
        env.releaseSnapshots(List.of(here));
        assertFalse(s.done(0), "the prior-guided search keeps the pole up for 15 steps");
        o = obs(s);
      }
      // each decision holds at most 1 + 12 snapshots besides `here`; the server allows 20, so a leak of one
      // per decision would have failed by now with RESOURCE_EXHAUSTED. All are released: 20 fit again.
      List<String> held = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        held.add(env.snapshot(0));
      }
      BridgeException full = assertThrows(BridgeException.class, () -> env.snapshot(0));
      assertTrue(full.getMessage().contains("--max-snapshots 20"), full.getMessage());
      assertEquals(20, env.releaseSnapshots(held));
    }
  }

  @org.junit.jupiter.api.Test
  void rootParallelTreesOnTwoWorkerCopiesLeaveBothAtTheEvaluatedState() throws Exception {
    Path prior = Path.of(System.getProperty("rql4j.project.dir", "."), "examples/priors/cartpole-center-softdqn");
    EnvSpec spec = EnvSpec.builder("rql4j/cartpole-center-total-v0").optAutoresetMode(AutoresetMode.DISABLED)
        .optWorkers(1).build(); // each copy in a worker process of its own: the two trees step at the same time
    EnvClient client = client(BridgeTransport.GRPC);
    try (RemoteVectorEnv env = client.make(spec); RemoteVectorEnv copy = client.make(spec);
        TorchScriptPrior p = TorchScriptPrior.load(prior);
        NDManager manager = NDManager.newBaseManager("PyTorch")) {
      List<EnvSimulator> sims = List.of(new EnvSimulator(env, "addon_reward"), new EnvSimulator(copy, "addon_reward"));
      ResidualMaxEntMcts mcts = new ResidualMaxEntMcts(MctsConfig.reference().withSimulations(12).withHorizon(4),
          SearchPrior.of(p, manager));
      float[] o = ((Tensor) env.reset(10_000).observations().row(0)).toFloatArray();
      copy.reset(3); // elsewhere: each decision first puts it in the evaluated env's state
      Random rng = new Random(0);
      for (int t = 0; t < 10; t++) {
        String here = env.snapshot(0);
        ResidualMaxEntMcts.Decision d = mcts.decide(sims, o, rng);
        assertEquals(12, d.visits()[0] + d.visits()[1], "6 + 6 simulations");
        assertTrue(d.envSteps() >= 12 && d.envSteps() <= 12 * 4, "steps " + d.envSteps());
        VectorStep s = env.step(new long[] {d.action()});
        // both were left at `here`: the copy steps to the same observation, and so does the env restored there
        assertArrayEquals(obs(s), obs(copy.step(new long[] {d.action()})), "the copy, decision " + t);
        env.restore(0, here);
        assertArrayEquals(obs(s), obs(env.step(new long[] {d.action()})), "decision " + t);
        env.releaseSnapshots(List.of(here));
        assertFalse(s.done(0), "the prior-guided search keeps the pole up for 10 steps");
        o = obs(s);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void envsTheSearchCannotUseAreRefused(BridgeTransport transport) {
    // (an env whose state deepcopy cannot copy is refused by the server: python-bridge/tests/test_snapshots.py)
    try (RemoteVectorEnv env = single(transport, "MountainCarContinuous-v0")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new EnvSimulator(env, null));
      assertTrue(e.getMessage().contains("Discrete"), e.getMessage());
    }
    try (RemoteVectorEnv env = client(transport).make("CartPole-v1", 2)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new EnvSimulator(env, null));
      assertTrue(e.getMessage().contains("2 copies"), e.getMessage());
    }
  }
}
