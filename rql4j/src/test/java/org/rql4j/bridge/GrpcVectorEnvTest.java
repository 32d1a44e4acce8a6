package org.rql4j.bridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.Env;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.env.VectorEnv;
import org.rql4j.env.VectorStep;

/** The gRPC client against an in-process server running {@link CounterEnvService}. */
class GrpcVectorEnvTest {

  private Server server;
  private CounterEnvService service;
  private GrpcEnvClient client;
  private String name;

  @BeforeEach
  void start() throws Exception {
    name = InProcessServerBuilder.generateName();
    service = new CounterEnvService();
    server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
    client = new GrpcEnvClient(InProcessChannelBuilder.forName(name).directExecutor().build(), name, () -> null);
  }

  @AfterEach
  void stop() {
    client.close();
    server.shutdownNow();
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(StepTransport.class)
  void stepsABatchWithSameStepAutoreset(StepTransport transport) {
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("Counter-v0").optNumEnvs(2).optTransport(transport).build())) {
      assertEquals(2, env.numEnvs());
      assertEquals(new Space.Discrete(2, 0), env.actionSpace());
      assertArrayEquals(new float[] {10f, 11f}, ((Tensor) env.reset(10).observations()).toFloatArray());
      VectorStep s = null;
      for (int t = 1; t <= 3; t++) {
        s = env.step(new long[] {1, 0});
        assertArrayEquals(new double[] {1, 0}, s.rewards());
        assertArrayEquals(new double[] {1, 0}, s.info().get("echo").values());
        if (t < 3) {
          assertNull(s.finalObservations());
        }
      }
      assertArrayEquals(new boolean[] {true, true}, s.terminated());
      // new episode's first observation, and the ended episode's last one
      assertArrayEquals(new float[] {10f, 11f}, ((Tensor) s.observations()).toFloatArray());
      assertArrayEquals(new float[] {13f}, ((Tensor) s.nextObservation(0)).toFloatArray());
      assertEquals(3, service.steps.get());
    }
    assertEquals(1, service.closes.get(), "close releases the env on the server");
  }

  @Test
  void theStepSocketAnswersTheSameWhetherTheClientPollsOrBlocks() {
    java.util.List<String> seen = new java.util.ArrayList<>();
    for (java.time.Duration spin : new java.time.Duration[] {java.time.Duration.ZERO,
        java.time.Duration.ofMillis(5), EnvSpec.defaultSpinWait()}) {
      try (GrpcVectorEnv env = client.make(EnvSpec.builder("Counter-v0").optNumEnvs(2).optSpinWait(spin).build())) {
        assertEquals(spin, env.spec.spinWait());
        StringBuilder trace = new StringBuilder(java.util.Arrays.toString(
            ((Tensor) env.reset(3).observations()).toFloatArray()));
        for (int t = 0; t < 7; t++) {
          VectorStep s = env.step(new long[] {t % 2, 1});
          trace.append(java.util.Arrays.toString(((Tensor) s.observations()).toFloatArray()))
              .append(java.util.Arrays.toString(s.rewards())).append(java.util.Arrays.toString(s.terminated()));
        }
        seen.add(trace.toString());
      }
    }
    assertEquals(1, seen.stream().distinct().count(), seen.toString());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> EnvSpec.builder("Counter-v0").optSpinWait(java.time.Duration.ofNanos(-1)).build());
    assertTrue(e.getMessage().contains("spinWait"), e.getMessage());
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(StepTransport.class)
  void serverErrorsCarryTheirMessageAndTheEnvStaysUsable(StepTransport transport) {
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("Counter-v0").optNumEnvs(2).optTransport(transport).build())) {
      env.reset(0);
      BridgeException e = assertThrows(BridgeException.class, () -> env.step(new long[] {1, 1, 1}));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
      assertTrue(e.getMessage().contains("3 rows, env has 2 copies"), e.getMessage());
      assertTrue(e.getMessage().contains("step Counter-v0"), e.getMessage());
      // after an error (which ends a stream) the next step works
      assertArrayEquals(new double[] {1, 1}, env.step(new long[] {1, 1}).rewards());
    }
  }

  @Test
  void aServerOfAnotherContractRevisionIsRefusedBeforeAnyEnv() {
    service.revision = 1;
    BridgeException e = assertThrows(BridgeException.class, () -> client.make("Counter-v0", 1));
    assertTrue(e.getMessage().contains("revision 1") && e.getMessage().contains("pip install -e python-bridge"),
        e.getMessage());
  }

  @Test
  void aDeadStepSocketSaysWhatToDoAndTheNextStepReconnects() throws Exception {
    @SuppressWarnings("unchecked")
    Supplier<String> diagnostics = mock(Supplier.class);
    when(diagnostics.get()).thenReturn("env server pid 42 is running");
    GrpcEnvClient c = new GrpcEnvClient(
        InProcessChannelBuilder.forName(name).directExecutor().build(), "test-target", diagnostics);
    try (GrpcVectorEnv env = c.make(EnvSpec.builder("Counter-v0").optNumEnvs(1).build())) {
      env.reset(0);
      env.step(new long[] {1});
      assertEquals(1, service.sockets.size(), "the default transport is the step socket");
      service.killSockets();
      BridgeException e = assertThrows(BridgeException.class, () -> env.step(new long[] {1}));
      assertEquals(Status.Code.UNAVAILABLE, e.code());
      assertTrue(e.getMessage().contains("step socket 127.0.0.1:"), e.getMessage());
      assertTrue(e.getMessage().contains("pid 42 is running"), e.getMessage());
      // the gRPC server is still there: the next step opens a new socket
      assertArrayEquals(new double[] {1}, env.step(new long[] {1}).rewards());
      assertEquals(2, service.sockets.size());
    }
    c.close();
  }

  @Test
  void aServerWithoutStepSocketsIsSteppedOverTheStream() {
    service.socketsSupported = false;
    try (GrpcVectorEnv env = client.make(EnvSpec.builder("Counter-v0").optNumEnvs(2).build())) {
      env.reset(0);
      assertArrayEquals(new double[] {1, 0}, env.step(new long[] {1, 0}).rewards());
      assertArrayEquals(new double[] {0, 1}, env.step(new long[] {0, 1}).rewards());
      assertEquals(2, service.steps.get());
      assertEquals(0, service.sockets.size());
    }
  }

  @Test
  void wildcardHostsAreRecognized() {
    for (String h : new String[] {"", "0.0.0.0", "::", "[::]", "::0", "0:0:0:0:0:0:0:0"}) {
      assertTrue(StepSocketChannel.isWildcard(h), h);
    }
    for (String h : new String[] {"127.0.0.1", "::1", "[::1]", "localhost", "example.org"}) {
      assertTrue(!StepSocketChannel.isWildcard(h), h);
    }
  }

  @Test
  void unknownEnvIdIsNotFound() {
    BridgeException e = assertThrows(BridgeException.class, () -> client.make("Nope-v9", 1));
    assertEquals(Status.Code.NOT_FOUND, e.code());
    assertTrue(e.getMessage().contains("Nope-v9"), e.getMessage());
  }

  @Test
  void deadServerSaysWhatToDoAndAddsDiagnostics() {
    @SuppressWarnings("unchecked")
    Supplier<String> diagnostics = mock(Supplier.class);
    when(diagnostics.get()).thenReturn("env server pid 42 has exited with code 1");
    GrpcEnvClient c = new GrpcEnvClient(
        InProcessChannelBuilder.forName(name).directExecutor().build(), "test-target", diagnostics);
    GrpcVectorEnv env = c.make("Counter-v0", 1);
    server.shutdownNow();
    BridgeException e = assertThrows(BridgeException.class, () -> env.step(new long[] {0}));
    assertEquals(Status.Code.UNAVAILABLE, e.code());
    assertTrue(e.getMessage().contains("not reachable"), e.getMessage());
    assertTrue(e.getMessage().contains("exited with code 1"), e.getMessage());
    env.close(); // closing on a dead server is not an error
    c.close();
  }

  @Test
  void closedEnvRefusesSteps() {
    GrpcVectorEnv env = client.make("Counter-v0", 1);
    env.close();
    env.close();
    assertThrows(IllegalStateException.class, () -> env.step(new long[] {0}));
  }

  @Test
  void singleEnvAdapterNeedsOneCopyWithoutAutoreset() {
    VectorEnv vec = mock(VectorEnv.class);
    when(vec.numEnvs()).thenReturn(2);
    when(vec.envId()).thenReturn("X-v0");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Env.single(vec));
    assertTrue(e.getMessage().contains("1 copy"), e.getMessage());
    when(vec.numEnvs()).thenReturn(1);
    when(vec.autoresetMode()).thenReturn(AutoresetMode.SAME_STEP);
    assertThrows(IllegalArgumentException.class, () -> Env.single(vec));
  }
}
