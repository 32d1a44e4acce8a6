package org.rql4j.customize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.train.TrainingException;

/**
 * A customization whose env copies are Ray actors on a two-node Ray cluster simulated on this machine
 * ({@code compat-tests/python/ray_cluster.py}: {@code ray.cluster_utils}, two CPUs per node, no dashboard,
 * Ray's token authentication), through an env server started with {@link PythonServer.Builder#optRay}. The
 * run's two copies are one actor each, spread over the nodes; killing the second node's processes mid-run (as
 * if its host vanished) stops the run with an error naming the lost copy's actor and node, after it saved
 * its checkpoint; with a node back, {@code --resume} reaches the full step count.
 */
class RayClusterIT {

  static final long STEPS = 3000;

  @Test
  void aDeadNodeStopsTheRunWithItsCheckpointAndResumeFinishesIt(@TempDir Path tmp) throws Exception {
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    String token = HexFormat.of().formatHex(secret);
    ProcessBuilder pb = new ProcessBuilder(PythonServer.defaultPython().toString(),
        root.resolve("compat-tests/python/ray_cluster.py").toString(), "--nodes", "2", "--cpus", "2");
    pb.environment().put("RAY_AUTH_MODE", "token");
    pb.environment().put("RAY_AUTH_TOKEN", token);
    pb.redirectError(tmp.resolve("cluster.log").toFile());
    Process cluster = pb.start();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(cluster.getInputStream(), StandardCharsets.UTF_8));
        Writer in = new OutputStreamWriter(cluster.getOutputStream(), StandardCharsets.UTF_8)) {
      String first = out.readLine();
      assertTrue(first != null && first.startsWith("address "), "the cluster did not start: " + first + "\n"
          + Files.readString(tmp.resolve("cluster.log")));
      String address = first.substring("address ".length());
      Path run = tmp.resolve("run");
      try (PythonServer server = PythonServer.builder().optRay(address).optEnv("RAY_AUTH_MODE", "token")
          .optEnv("RAY_AUTH_TOKEN", token).start();
          GrpcEnvClient client = server.connect();
          TorchScriptPrior prior = TorchScriptPrior.load(root.resolve("examples/priors/cartpole-center-softdqn"))) {
        AtomicLong killedAt = new AtomicLong(-1);
        TrainingException stopped = assertThrows(TrainingException.class, () -> customize(client, prior, run, false)
            .optReportEvery(100).optProgress(p -> {
              if (p.step() >= 1200 && killedAt.get() < 0) {
                killedAt.set(p.step());
                command(in, out, "kill-node", "killed ");
              }
            }).build().run().close());
        String m = stopped.getMessage();
        assertTrue(killedAt.get() >= 1200, "the node was never killed: " + m);
        assertTrue(m.contains("WorkerDiedError") && m.contains("Ray actor") && m.contains("on node")
            && m.contains("of 'rql4j/cartpole-center") && m.contains("was lost"), m);
        assertTrue(m.contains("is saved in") && m.contains("--resume"), m);
        assertTrue(stopped.step() >= killedAt.get(), stopped.step() + " < " + killedAt.get());
        assertTrue(Files.exists(run.resolve("checkpoint/checkpoint.json")), "no checkpoint after the node died");
        assertTrue(Files.readString(run.resolve("checkpoint/checkpoint.json")).contains("\"step\": " + stopped.step()),
            "the checkpoint is not the one saved when the env failed");

        command(in, out, "add-node", "added ");
        try (Customization.Result r = customize(client, prior, run, true).build().run()) {
          assertEquals(STEPS, r.training().step());
        }
        assertTrue(Files.exists(run.resolve("summary.json")));
      }
    } finally {
      cluster.getOutputStream().close();
      if (!cluster.waitFor(60, TimeUnit.SECONDS)) {
        cluster.destroyForcibly();
      }
    }
  }

  private static Customization.Builder customize(GrpcEnvClient client, TorchScriptPrior prior, Path out,
      boolean resume) {
    ResidualSoftQConfig cfg = ResidualSoftQConfig.cartpole().withNumEnvs(2).withTotalSteps(STEPS);
    return Customization.builder(Task.builtIn("cartpole-center"), prior).optEnvClient(client).optConfig(cfg)
        .optEvalEpisodes(1).optOutDir(out).optCheckpointing(out.resolve("checkpoint"), 1000).optResume(resume);
  }

  /** Sends the cluster helper a command and waits for its answer. */
  private static void command(Writer in, BufferedReader out, String command, String answer) {
    try {
      in.write(command + "\n");
      in.flush();
      String line = out.readLine();
      if (line == null || !line.startsWith(answer)) {
        throw new IllegalStateException("the cluster answered " + line + " to " + command);
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
