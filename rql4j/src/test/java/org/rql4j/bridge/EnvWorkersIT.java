package org.rql4j.bridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rql4j.env.InfoColumn;
import org.rql4j.env.VectorStep;

/**
 * The env server's worker processes ({@link PythonServer.Builder#optWorkers}) seen from Java, over the
 * default step socket: the same steps as the in-process server, bit for bit, and a worker that dies
 * fails the step with an error naming its copies, after which a reset goes on.
 */
class EnvWorkersIT {

  private static PythonServer plain;
  private static PythonServer workers;
  private static GrpcEnvClient plainClient;
  private static GrpcEnvClient workersClient;

  @BeforeAll
  static void start() {
    plain = PythonServer.builder().start();
    workers = PythonServer.builder().optWorkers(2).start();
    plainClient = plain.connect();
    workersClient = workers.connect();
  }

  @AfterAll
  static void stop() {
    plainClient.close();
    workersClient.close();
    plain.close();
    workers.close();
  }

  @Test
  void aTaskEnvStepsTheSameOverWorkers() {
    EnvSpec spec = EnvSpec.builder("rql4j/cartpole-center-addon-v0").optNumEnvs(3).optMaxEpisodeSteps(30).build();
    try (RemoteVectorEnv a = plainClient.make(spec); RemoteVectorEnv b = workersClient.make(spec)) {
      assertEquals(a.reset(5).observations(), b.reset(5).observations());
      Random rng = new Random(3);
      int ends = 0;
      for (int t = 0; t < 200; t++) {
        long[] actions = {rng.nextInt(2), rng.nextInt(2), rng.nextInt(2)};
        VectorStep x = a.step(actions);
        VectorStep y = b.step(actions);
        assertEquals(x.observations(), y.observations(), "step " + t);
        assertArrayEquals(x.rewards(), y.rewards());
        assertArrayEquals(x.terminated(), y.terminated());
        assertArrayEquals(x.truncated(), y.truncated());
        assertEquals(x.finalObservations(), y.finalObservations());
        assertEquals(x.info().keySet(), y.info().keySet());
        for (Map.Entry<String, InfoColumn> e : x.info().entrySet()) {
          assertArrayEquals(e.getValue().values(), y.info().get(e.getKey()).values(), e.getKey());
          assertArrayEquals(e.getValue().present(), y.info().get(e.getKey()).present(), e.getKey());
        }
        for (int i = 0; i < 3; i++) {
          ends += x.done(i) ? 1 : 0;
        }
      }
      assertTrue(ends >= 10, "only " + ends + " episode ends compared");
      assertTrue(a.step(new long[] {0, 0, 0}).info().containsKey("addon_reward"));
    }
  }

  @Test
  void aKilledWorkerNamesItsCopiesAndAResetGoesOn() throws Exception {
    try (RemoteVectorEnv env = workersClient.make(EnvSpec.builder("CartPole-v1").optNumEnvs(2).build())) {
      env.reset(0);
      env.step(new long[] {0, 1});
      ProcessHandle worker = workerProcesses().get(0);
      worker.destroyForcibly();
      worker.onExit().get(10, TimeUnit.SECONDS);
      BridgeException e = assertThrows(BridgeException.class, () -> env.step(new long[] {0, 1}));
      assertEquals(Status.Code.INTERNAL, e.code());
      assertTrue(e.getMessage().contains("worker process") && e.getMessage().contains("of 'CartPole-v1'")
          && e.getMessage().contains("pid " + worker.pid()) && e.getMessage().contains("Reset"), e.getMessage());
      env.reset(0);
      assertEquals(2, env.step(new long[] {0, 1}).rewards().length);
      List<Long> now = workerProcesses().stream().map(ProcessHandle::pid).toList();
      assertTrue(now.size() >= 2 && !now.contains(worker.pid()), now + " after " + worker.pid() + " was killed");
    }
  }

  @Test
  void aMakeChoosesWorkersOrNone() {
    try (RemoteVectorEnv env = plainClient.make(EnvSpec.builder("CartPole-v1").optNumEnvs(3).optWorkers(2).build())) {
      env.reset(0);
      assertEquals(3, env.step(new long[] {0, 1, 0}).rewards().length);
      assertEquals(2, workerProcesses(plain).size());
    }
    try (RemoteVectorEnv env = workersClient.make(EnvSpec.builder("CartPole-v1").optNumEnvs(2)
        .optWorkers(EnvSpec.NO_WORKERS).build())) {
      env.reset(0);
      env.step(new long[] {0, 1});
      assertTrue(workerProcesses(workers, true).isEmpty());
    }
    assertThrows(IllegalArgumentException.class, () -> EnvSpec.builder("CartPole-v1").optWorkers(-2).build());
  }

  private static List<ProcessHandle> workerProcesses() {
    return workerProcesses(workers);
  }

  private static List<ProcessHandle> workerProcesses(PythonServer server) {
    List<ProcessHandle> found = workerProcesses(server, false);
    assertTrue(!found.isEmpty(), "no worker processes under the server " + server.pid());
    return found;
  }

  /**
   * A server's env workers: the children of its forkserver, a child of the server; with {@code untilNone},
   * waiting up to 5 s for the workers of closed envs to exit.
   */
  private static List<ProcessHandle> workerProcesses(PythonServer server, boolean untilNone) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(untilNone ? 5 : 0);
    while (true) {
      List<ProcessHandle> found = ProcessHandle.of(server.pid()).orElseThrow().descendants()
          .filter(p -> p.parent().map(q -> q.pid() != server.pid()).orElse(false)).toList();
      if (found.isEmpty() || System.nanoTime() > deadline) {
        return found;
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return found;
      }
    }
  }
}
