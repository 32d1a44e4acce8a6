package org.rql4j.bridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.DType;
import org.rql4j.env.Env;
import org.rql4j.env.ResetRequest;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.env.VectorStep;

/** The launcher and the gRPC client against the real Python server stepping real Gymnasium envs. */
class PythonServerIT {

  private static PythonServer server;
  private static GrpcEnvClient client;

  @BeforeAll
  static void start() {
    server = PythonServer.start();
    client = server.connect();
  }

  @AfterAll
  static void stop() {
    client.close();
    server.close();
    assertFalse(server.isAlive(), "server process must be gone after close");
  }

  @Test
  void servesCartPoleWithItsSpaces() {
    assertEquals("rql4j.v1", client.serverInfo().getProtocol());
    try (GrpcVectorEnv env = client.make("CartPole-v1", 3)) {
      assertEquals(new Space.Discrete(2, 0), env.actionSpace());
      Space.Box obs = (Space.Box) env.observationSpace();
      assertArrayEquals(new long[] {4}, obs.shape());
      assertEquals(DType.FLOAT32, obs.dtype());
      assertEquals(4.8f, (float) obs.high()[0]);
      Tensor first = (Tensor) env.reset(123).observations();
      assertArrayEquals(new long[] {3, 4}, first.shape());
      // seeds s, s+1, s+2: the three copies start differently, and reproducibly
      assertFalse(first.row(0).equals(first.row(1)));
      assertEquals(first, env.reset(123).observations());
      VectorStep s = env.step(new long[] {0, 1, 0});
      assertArrayEquals(new double[] {1, 1, 1}, s.rewards());
      assertTrue(env.specJson().contains("CartPole-v1"), env.specJson());
    }
  }

  @Test
  void singleEnvNeedsAResetAfterTheEpisodeEnds() {
    try (Env env = client.makeSingle("CartPole-v1", null)) {
      env.reset(7L);
      Env.Step s;
      int steps = 0;
      do {
        s = env.step(1L); // always push right: the pole falls within a few dozen steps
        steps++;
      } while (!s.done());
      assertTrue(s.terminated() && steps < 100, "episode length " + steps);
      BridgeException e = assertThrows(BridgeException.class, () -> env.step(1L));
      assertEquals(Status.Code.FAILED_PRECONDITION, e.code());
      assertTrue(e.getMessage().toLowerCase().contains("reset"), e.getMessage());
      env.reset();
      env.step(0L);
    }
  }

  @Test
  void disabledAutoresetResetsOnlyMaskedCopies() {
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("CartPole-v1").optNumEnvs(2)
        .optAutoresetMode(AutoresetMode.DISABLED).build())) {
      Tensor start = (Tensor) env.reset(1).observations();
      Tensor after = (Tensor) env.step(new long[] {0, 0}).observations();
      Tensor partly = (Tensor) env.reset(ResetRequest.masked(new boolean[] {false, true})).observations();
      assertEquals(after.row(0), partly.row(0), "copy 0 was not in the mask");
      assertFalse(partly.row(1).equals(after.row(1)), "copy 1 was reset");
      assertNotNull(start);
    }
  }

  @Test
  void continuousActionsAndInfo() {
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("MountainCarContinuous-v0").optNumEnvs(2).build())) {
      Space.Box act = (Space.Box) env.actionSpace();
      assertArrayEquals(new double[] {-1}, act.low());
      env.reset(0);
      VectorStep s = env.step(new float[][] {{1f}, {-0.5f}});
      assertEquals(-0.1 * 1.0, s.rewards()[0], 1e-6);
      assertEquals(-0.1 * 0.25, s.rewards()[1], 1e-6);
    }
  }

  @Test
  void badInputGetsAClearError() {
    BridgeException unknown = assertThrows(BridgeException.class, () -> client.make("NoSuchEnv-v0", 1));
    assertEquals(Status.Code.NOT_FOUND, unknown.code());
    assertTrue(unknown.getMessage().contains("NoSuchEnv"), unknown.getMessage());

    BridgeException json = assertThrows(BridgeException.class,
        () -> client.make(EnvSpec.builder("CartPole-v1").optKwargsJson("{not json").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, json.code());
    assertTrue(json.getMessage().contains("kwargs"), json.getMessage());

    try (GrpcVectorEnv env = client.make("CartPole-v1", 2)) {
      BridgeException beforeReset = assertThrows(BridgeException.class, () -> env.step(new long[] {0, 0}));
      assertEquals(Status.Code.FAILED_PRECONDITION, beforeReset.code());
      env.reset(0);
      BridgeException outside = assertThrows(BridgeException.class, () -> env.step(new long[] {0, 5}));
      assertEquals(Status.Code.INVALID_ARGUMENT, outside.code());
      assertTrue(outside.getMessage().contains("5"), outside.getMessage());
      BridgeException batch = assertThrows(BridgeException.class, () -> env.step(new long[] {0, 1, 1}));
      assertEquals(Status.Code.INVALID_ARGUMENT, batch.code());
      env.step(new long[] {0, 1}); // the env survives bad requests
    }
  }

  @Test
  void closedPortSaysTheServerIsNotReachable() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    try (GrpcEnvClient c = GrpcEnvClient.connect("127.0.0.1", port)) {
      BridgeException e = assertThrows(BridgeException.class, c::serverInfo);
      assertEquals(Status.Code.UNAVAILABLE, e.code());
      assertTrue(e.getMessage().contains("127.0.0.1:" + port) && e.getMessage().contains("rql4j-bridge serve"),
          e.getMessage());
    }
  }

  @Test
  void deadServerIsReportedWithItsExitCode() {
    PythonServer doomed = PythonServer.start();
    try (GrpcEnvClient c = doomed.connect()) {
      GrpcVectorEnv env = c.make("CartPole-v1", 1);
      env.reset(0);
      doomed.close();
      BridgeException e = assertThrows(BridgeException.class, () -> env.step(new long[] {0}));
      assertEquals(Status.Code.UNAVAILABLE, e.code());
      assertTrue(e.getMessage().contains("has exited with code"), e.getMessage());
    }
  }

  @Test
  void missingPythonOrBridgeSaysWhatToDo() {
    BridgeException noPython = assertThrows(BridgeException.class,
        () -> PythonServer.builder().optPython(Path.of("/nonexistent/bin/python")).start());
    assertTrue(noPython.getMessage().contains("/nonexistent/bin/python")
        && noPython.getMessage().contains("setup"), noPython.getMessage());
    // A Python without python-bridge installed: the system one, where it lacks the package.
    Path system = Path.of("/usr/bin/python3");
    if (system.toFile().canExecute() && !hasBridge(system)) {
      BridgeException noBridge = assertThrows(BridgeException.class,
          () -> PythonServer.builder().optPython(system).start());
      assertTrue(noBridge.getMessage().contains("does not have python-bridge installed"), noBridge.getMessage());
    }
  }

  private static boolean hasBridge(Path python) {
    try {
      Process p = new ProcessBuilder(python.toString(), "-c", "import rql4j_bridge").start();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  void serverDiesWithItsJvmEvenOnKill9() throws Exception {
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Process jvm = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Drql4j.python=" + PythonServer.defaultPython(),
        "-cp", classpath, OrphanProbe.class.getName())
        .redirectErrorStream(true).start();
    long pid = -1;
    try (BufferedReader r = new BufferedReader(new InputStreamReader(jvm.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.startsWith("SERVER_PID=")) {
          pid = Long.parseLong(line.substring("SERVER_PID=".length()).trim());
          break;
        }
      }
      assertTrue(pid > 0, "probe never reported its server pid");
      Optional<ProcessHandle> child = ProcessHandle.of(pid);
      assertTrue(child.isPresent() && child.get().isAlive());
      jvm.destroyForcibly(); // SIGKILL: no shutdown hook runs
      jvm.waitFor(10, TimeUnit.SECONDS);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      while (child.get().isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      boolean orphaned = child.get().isAlive();
      if (orphaned) {
        child.get().destroyForcibly();
      }
      assertFalse(orphaned, "env server " + pid + " outlived its killed JVM");
    } finally {
      jvm.destroyForcibly();
    }
  }

  @Test
  void manyEnvsOnOneServer() {
    List<GrpcVectorEnv> envs = List.of(client.make("CartPole-v1", 1), client.make("CartPole-v1", 1));
    assertFalse(envs.get(0).handle().equals(envs.get(1).handle()));
    envs.forEach(GrpcVectorEnv::close);
  }
}
