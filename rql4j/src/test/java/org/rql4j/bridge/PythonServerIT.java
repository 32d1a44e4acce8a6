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
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.DType;
import org.rql4j.env.Env;
import org.rql4j.env.ResetRequest;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.env.VectorStep;

/**
 * The launcher and the clients against the real Python server stepping real Gymnasium envs, over
 * each transport (gRPC and Py4J): same results, same error codes.
 */
class PythonServerIT {

  private static final Map<BridgeTransport, PythonServer> SERVERS = new EnumMap<>(BridgeTransport.class);
  private static final Map<BridgeTransport, EnvClient> CLIENTS = new EnumMap<>(BridgeTransport.class);

  /** The shared client of {@code transport}'s server, started on first use. */
  static synchronized EnvClient client(BridgeTransport transport) {
    return CLIENTS.computeIfAbsent(transport, t -> {
      PythonServer server = PythonServer.builder().optTransport(t).start();
      SERVERS.put(t, server);
      return server.client();
    });
  }

  @AfterAll
  static void stop() {
    CLIENTS.values().forEach(EnvClient::close);
    SERVERS.values().forEach(PythonServer::close);
    SERVERS.values().forEach(s -> assertFalse(s.isAlive(), "server process must be gone after close"));
  }

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void servesCartPoleWithItsSpaces(BridgeTransport transport) {
    EnvClient client = client(transport);
    assertEquals(transport, client.transport());
    assertEquals("rql4j.v1", client.serverInfo().getProtocol());
    try (RemoteVectorEnv env = client.make("CartPole-v1", 3)) {
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

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void singleEnvNeedsAResetAfterTheEpisodeEnds(BridgeTransport transport) {
    try (Env env = client(transport).makeSingle("CartPole-v1", null)) {
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

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void disabledAutoresetResetsOnlyMaskedCopies(BridgeTransport transport) {
    try (RemoteVectorEnv env = client(transport).make(EnvSpec.builder("CartPole-v1").optNumEnvs(2)
        .optAutoresetMode(AutoresetMode.DISABLED).build())) {
      Tensor start = (Tensor) env.reset(1).observations();
      Tensor after = (Tensor) env.step(new long[] {0, 0}).observations();
      Tensor partly = (Tensor) env.reset(ResetRequest.masked(new boolean[] {false, true})).observations();
      assertEquals(after.row(0), partly.row(0), "copy 0 was not in the mask");
      assertFalse(partly.row(1).equals(after.row(1)), "copy 1 was reset");
      assertNotNull(start);
    }
  }

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void continuousActionsAndInfo(BridgeTransport transport) {
    try (RemoteVectorEnv env = client(transport).make(EnvSpec.builder("MountainCarContinuous-v0").optNumEnvs(2).build())) {
      Space.Box act = (Space.Box) env.actionSpace();
      assertArrayEquals(new double[] {-1}, act.low());
      env.reset(0);
      VectorStep s = env.step(new float[][] {{1f}, {-0.5f}});
      assertEquals(-0.1 * 1.0, s.rewards()[0], 1e-6);
      assertEquals(-0.1 * 0.25, s.rewards()[1], 1e-6);
    }
  }

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void badInputGetsAClearError(BridgeTransport transport) {
    EnvClient client = client(transport);
    BridgeException unknown = assertThrows(BridgeException.class, () -> client.make("NoSuchEnv-v0", 1));
    assertEquals(Status.Code.NOT_FOUND, unknown.code());
    assertTrue(unknown.getMessage().contains("NoSuchEnv"), unknown.getMessage());

    BridgeException json = assertThrows(BridgeException.class,
        () -> client.make(EnvSpec.builder("CartPole-v1").optKwargsJson("{not json").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, json.code());
    assertTrue(json.getMessage().contains("kwargs"), json.getMessage());

    try (RemoteVectorEnv env = client.make("CartPole-v1", 2)) {
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

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void closedPortSaysTheServerIsNotReachable(BridgeTransport transport) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String command = transport == BridgeTransport.PY4J ? "`rql4j-bridge serve-py4j`" : "`rql4j-bridge serve`";
    try (EnvClient c = transport == BridgeTransport.PY4J ? Py4jEnvClient.connect("127.0.0.1", port, "some-token")
        : GrpcEnvClient.connect("127.0.0.1", port)) {
      BridgeException e = assertThrows(BridgeException.class, c::serverInfo);
      assertEquals(Status.Code.UNAVAILABLE, e.code());
      assertTrue(e.getMessage().contains("127.0.0.1:" + port) && e.getMessage().contains(command)
          && e.getMessage().contains("not reachable"), e.getMessage());
    }
  }

  @Test
  void wrongPy4jTokenIsRefusedWithWhatToDo() {
    PythonServer server = SERVERS.get(BridgeTransport.PY4J);
    if (server == null) {
      client(BridgeTransport.PY4J);
      server = SERVERS.get(BridgeTransport.PY4J);
    }
    try (Py4jEnvClient c = Py4jEnvClient.connect(server.host(), server.port(), "not-the-token")) {
      BridgeException e = assertThrows(BridgeException.class, c::serverInfo);
      assertEquals(Status.Code.UNAUTHENTICATED, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains("auth token") && e.getMessage().contains("RQL4J_BRIDGE_TOKEN")
          && e.getMessage().contains(server.host() + ":" + server.port()), e.getMessage());
    }
    // the right token still works afterwards
    assertEquals("rql4j.v1", client(BridgeTransport.PY4J).serverInfo().getProtocol());
  }

  @Test
  void aGrpcClientWithoutTheTokenIsRefusedOnEveryCall() {
    PythonServer server = SERVERS.get(BridgeTransport.GRPC);
    if (server == null) {
      client(BridgeTransport.GRPC);
      server = SERVERS.get(BridgeTransport.GRPC);
    }
    for (String token : new String[] {null, "not-the-token-0123456789"}) {
      try (GrpcEnvClient c = GrpcEnvClient.connect(server.host(), server.port(), token)) {
        BridgeException e = assertThrows(BridgeException.class, c::serverInfo);
        assertEquals(Status.Code.UNAUTHENTICATED, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("auth token") && e.getMessage().contains("RQL4J_BRIDGE_TOKEN"),
            e.getMessage());
        BridgeException make = assertThrows(BridgeException.class, () -> c.make("CartPole-v1", 1));
        assertEquals(Status.Code.UNAUTHENTICATED, make.code(), make.getMessage());
      }
    }
    org.rql4j.proto.v1.ServerInfoResponse info = client(BridgeTransport.GRPC).serverInfo();
    assertTrue(info.getAuthenticated());
    assertEquals(PythonServer.PROTOCOL_REVISION, info.getProtocolRevision());
  }

  @Test
  void aServerOfAnotherRevisionIsRefusedWithHowToUpdate() {
    PythonServer.checkRevision(PythonServer.PROTOCOL_REVISION, "python");
    BridgeException e = assertThrows(BridgeException.class, () -> PythonServer.checkRevision(0, "/venv/bin/python"));
    assertTrue(e.getMessage().contains("revision 0") && e.getMessage().contains("revision "
        + PythonServer.PROTOCOL_REVISION) && e.getMessage().contains("/venv/bin/python -m pip install -e python-bridge"),
        e.getMessage());
  }

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void deadServerIsReportedWithItsExitCode(BridgeTransport transport) {
    PythonServer doomed = PythonServer.builder().optTransport(transport).start();
    try (EnvClient c = doomed.client()) {
      RemoteVectorEnv env = c.make("CartPole-v1", 1);
      env.reset(0);
      doomed.close();
      BridgeException e = assertThrows(BridgeException.class, () -> env.step(new long[] {0}));
      assertEquals(Status.Code.UNAVAILABLE, e.code());
      assertTrue(e.getMessage().contains("has exited with code") && e.getMessage().contains("CartPole-v1"),
          e.getMessage());
    }
  }

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void missingPythonOrBridgeSaysWhatToDo(BridgeTransport transport) {
    BridgeException noPython = assertThrows(BridgeException.class,
        () -> PythonServer.builder().optTransport(transport).optPython(Path.of("/nonexistent/bin/python")).start());
    assertTrue(noPython.getMessage().contains("/nonexistent/bin/python")
        && noPython.getMessage().contains("setup"), noPython.getMessage());
    // A Python without python-bridge installed: the system one, where it lacks the package.
    Path system = Path.of("/usr/bin/python3");
    if (system.toFile().canExecute() && !hasBridge(system)) {
      BridgeException noBridge = assertThrows(BridgeException.class,
          () -> PythonServer.builder().optTransport(transport).optPython(system).start());
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

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void serverDiesWithItsJvmEvenOnKill9(BridgeTransport transport) throws Exception {
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Process jvm = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Drql4j.python=" + PythonServer.defaultPython(),
        "-cp", classpath, OrphanProbe.class.getName(), transport.name())
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

  @ParameterizedTest
  @EnumSource(BridgeTransport.class)
  void manyEnvsOnOneServer(BridgeTransport transport) {
    EnvClient client = client(transport);
    List<RemoteVectorEnv> envs = List.of(client.make("CartPole-v1", 1), client.make("CartPole-v1", 1));
    assertFalse(envs.get(0).handle().equals(envs.get(1).handle()));
    envs.forEach(RemoteVectorEnv::close);
  }

  @Test
  void aServerOfOneTransportRefusesTheOtherClientClearly() {
    client(BridgeTransport.PY4J);
    client(BridgeTransport.GRPC);
    IllegalStateException py4j = assertThrows(IllegalStateException.class,
        () -> SERVERS.get(BridgeTransport.PY4J).connect());
    assertTrue(py4j.getMessage().contains("connectPy4j()"), py4j.getMessage());
    assertThrows(IllegalStateException.class, () -> SERVERS.get(BridgeTransport.GRPC).connectPy4j());
  }
}
