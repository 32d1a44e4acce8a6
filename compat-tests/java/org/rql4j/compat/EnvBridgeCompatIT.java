package org.rql4j.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rql4j.bridge.BridgeTransport;
import org.rql4j.bridge.EnvClient;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.PythonServer;
import org.rql4j.bridge.RemoteVectorEnv;
import org.rql4j.bridge.StepTransport;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.ResetRequest;
import org.rql4j.env.Tensor;
import org.rql4j.env.VectorStep;

/**
 * Same seeds and actions give bit-identical observations, rewards and flags through the bridge
 * (Java -> gRPC or Py4J -> Python server) as stepping the env in-process in Python
 * ({@code compat-tests/python/reference_rollout.py}), across autoresets in every autoreset mode.
 */
class EnvBridgeCompatIT {

  private static final Map<BridgeTransport, PythonServer> SERVERS = new EnumMap<>(BridgeTransport.class);
  private static final Map<BridgeTransport, EnvClient> CLIENTS = new EnumMap<>(BridgeTransport.class);

  private static synchronized EnvClient client(BridgeTransport transport) {
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
  }

  static Stream<Arguments> cases() {
    // max_episode_steps small enough that truncations and autoresets happen many times
    // gRPC step transports rotate so that each one meets every autoreset mode and every env case;
    // Py4J (one kind of step) runs every case
    return Stream.of(BridgeTransport.values()).flatMap(bridge -> Stream.of(AutoresetMode.values())
        .flatMap(mode -> Stream.of(
            Arguments.of("CartPole-v1", 1, mode, 0, 400, bridge, transport(mode, 0)),
            Arguments.of("CartPole-v1", 4, mode, 30, 400, bridge, transport(mode, 1)),
            Arguments.of("MountainCarContinuous-v0", 1, mode, 40, 300, bridge, transport(mode, 2)),
            Arguments.of("MountainCarContinuous-v0", 3, mode, 25, 300, bridge, transport(mode, 3)))));
  }

  private static StepTransport transport(AutoresetMode mode, int envCase) {
    StepTransport[] all = StepTransport.values();
    return all[(mode.ordinal() + envCase) % all.length];
  }

  @ParameterizedTest(name = "{0} x{1} {2} maxSteps={3} {5} {6}")
  @MethodSource("cases")
  void bridgeMatchesInProcessBitForBit(String envId, int n, AutoresetMode mode, int maxSteps, int steps,
      BridgeTransport bridge, StepTransport transport, @TempDir Path tmp) throws Exception {
    long seed = 2024;
    boolean discrete = envId.startsWith("CartPole");
    Random rng = new Random(seed);
    long[][] discreteActions = new long[steps][n];
    float[][][] boxActions = new float[steps][n][1];
    ByteBuffer payload = ByteBuffer.allocate(steps * n * (discrete ? 8 : 4)).order(ByteOrder.LITTLE_ENDIAN);
    for (int t = 0; t < steps; t++) {
      for (int i = 0; i < n; i++) {
        if (discrete) {
          discreteActions[t][i] = rng.nextInt(2);
          payload.putLong(discreteActions[t][i]);
        } else {
          boxActions[t][i][0] = rng.nextFloat() * 2f - 1f;
          payload.putFloat(boxActions[t][i][0]);
        }
      }
    }
    Path actions = tmp.resolve("actions.bin");
    String header = String.format(Locale.ROOT, "{\"dtype\": \"%s\", \"shape\": [%d, %d%s]}\n",
        discrete ? "int64" : "float32", steps, n, discrete ? "" : ", 1");
    ByteArrayOutputStream file = new ByteArrayOutputStream();
    file.write(header.getBytes(StandardCharsets.UTF_8));
    file.write(payload.array());
    Files.write(actions, file.toByteArray());
    RawArrayFile ref = runReference(envId, n, mode, maxSteps, seed, actions, tmp.resolve("rollout.bin"));

    EnvSpec spec = EnvSpec.builder(envId).optNumEnvs(n).optAutoresetMode(mode)
        .optMaxEpisodeSteps(maxSteps).optTransport(transport).build();
    int episodesEnded = 0;
    try (RemoteVectorEnv env = client(bridge).make(spec)) {
      assertArrayEquals(ref.get("reset_observation").data(), raw(env.reset(seed).observations()), "reset observation");
      for (int t = 0; t < steps; t++) {
        VectorStep s = discrete ? env.step(discreteActions[t]) : env.step(boxActions[t]);
        String at = envId + " step " + t;
        assertArrayEquals(ref.get("observation").row(t), raw(s.observations()), "observation, " + at);
        assertArrayEquals(ref.get("reward").row(t), Tensor.ofDoubles(s.rewards()).rawData(), "reward, " + at);
        assertArrayEquals(ref.get("terminated").row(t), Tensor.ofBooleans(s.terminated()).rawData(), "terminated, " + at);
        assertArrayEquals(ref.get("truncated").row(t), Tensor.ofBooleans(s.truncated()).rawData(), "truncated, " + at);
        boolean[] ended = new boolean[n];
        boolean any = false;
        for (int i = 0; i < n; i++) {
          ended[i] = s.done(i);
          any |= ended[i];
          episodesEnded += ended[i] ? 1 : 0;
        }
        if (mode == AutoresetMode.SAME_STEP) {
          if (any) {
            assertArrayEquals(ref.get("final_observation").row(t), raw(s.finalObservations()), "final observation, " + at);
          } else {
            assertNull(s.finalObservations(), "no final observation when no copy ended, " + at);
          }
        } else if (mode == AutoresetMode.DISABLED && any) {
          byte[] resetObs = raw(env.reset(ResetRequest.masked(ended)).observations());
          assertArrayEquals(ref.get("reset_mask_observation").row(t), resetObs, "masked reset, " + at);
        }
      }
    }
    assertTrue(episodesEnded >= 3, "the case must cross autoresets; only " + episodesEnded + " episodes ended");
  }

  private static byte[] raw(org.rql4j.env.Value v) {
    return ((Tensor) v).rawData();
  }

  private static RawArrayFile runReference(String envId, int n, AutoresetMode mode, int maxSteps, long seed,
      Path actions, Path out) throws IOException, InterruptedException {
    Path script = Path.of(System.getProperty("rql4j.project.dir", "."), "compat-tests/python/reference_rollout.py");
    List<String> cmd = List.of(PythonServer.defaultPython().toString(), script.toString(),
        "--env-id", envId, "--num-envs", String.valueOf(n), "--autoreset-mode", mode.name().toLowerCase(Locale.ROOT),
        "--seed", String.valueOf(seed), "--max-episode-steps", String.valueOf(maxSteps),
        "--actions", actions.toString(), "--out", out.toString());
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "reference rollout hung: " + cmd);
    assertEquals(0, p.exitValue(), "reference rollout failed: " + String.join(" ", cmd) + "\n" + log);
    RawArrayFile ref = RawArrayFile.read(out);
    assertEquals("rql4j-reference-rollout/1", ref.header().get("format").getAsString());
    return ref;
  }
}
