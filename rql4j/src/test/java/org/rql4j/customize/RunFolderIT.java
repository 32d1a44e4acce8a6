package org.rql4j.customize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.prior.TorchScriptPrior;

/**
 * A run folder through {@link Customization} against the real env server (cartpole-center, the
 * shipped soft-DQN prior, a run of 1010 env steps: just above learningStarts 1000 and before the
 * first training burst at step 1024, so the run ends with no loss): a resume or rerun that is
 * refused leaves every file of the folder as it was, byte for byte, whether the run stopped after
 * a checkpoint or finished; the finished run's summary holds NaN and a rerun reads it back.
 */
class RunFolderIT {

  static final ResidualSoftQConfig CFG = ResidualSoftQConfig.cartpole().withTotalSteps(1010);

  @Test
  void aRefusedResumeOrRerunLeavesTheRunFolderAsItWas(@TempDir Path tmp) throws Exception {
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    Path out = tmp.resolve("run");
    try (PythonServer server = PythonServer.start(); GrpcEnvClient client = server.connect();
        TorchScriptPrior prior = TorchScriptPrior.load(root.resolve("examples/priors/cartpole-center-softdqn"))) {
      // a run that stops after its checkpoint at step 500 (as when its process dies): no summary
      IllegalStateException stop = assertThrows(IllegalStateException.class, () -> run(client, prior, CFG, out, false)
          .optReportEvery(100).optProgress(p -> {
            if (p.step() >= 600) {
              throw new IllegalStateException("stopped at " + p.step());
            }
          }).build().run().close());
      assertEquals("stopped at 600", stop.getMessage());
      Map<String, String> stopped = files(out);
      assertTrue(stopped.containsKey("checkpoint/checkpoint.json") && stopped.containsKey("config.json")
          && !stopped.containsKey("summary.json"), stopped.keySet().toString());

      // --resume with another seed, another temperature: refused before anything is written
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> run(client, prior, CFG.withSeed(1), out, true).build().run());
      assertTrue(e.getMessage().contains("another config") && e.getMessage().contains("seed 0 (checkpoint) vs 1 (now)"),
          e.getMessage());
      assertEquals(stopped, files(out), "a refused resume touches nothing");
      e = assertThrows(IllegalArgumentException.class,
          () -> run(client, prior, CFG.withAlphaHat(0.5f), out, true).build().run());
      assertTrue(e.getMessage().contains("alphaHat 1.0 (checkpoint) vs 0.5 (now)"), e.getMessage());
      assertEquals(stopped, files(out), "a refused resume touches nothing");
      // a fresh start over the checkpoint: refused
      e = assertThrows(IllegalArgumentException.class, () -> run(client, prior, CFG, out, false).build().run());
      assertTrue(e.getMessage().contains("already holds a checkpoint"), e.getMessage());
      assertEquals(stopped, files(out), "a refused rerun touches nothing");

      // the same settings resume and finish: no training burst yet, so no loss: NaN in the summary
      double[] learned;
      try (Customization.Result r = run(client, prior, CFG, out, true).build().run()) {
        assertEquals(1010, r.training().step());
        assertTrue(Double.isNaN(r.training().loss()), "no training burst before step 1024");
        learned = r.learned().episodes().stream().mapToDouble(x -> x.envReturn()).toArray();
      }
      assertTrue(Files.readString(out.resolve("summary.json")).contains("\"loss\": NaN"));
      Map<String, String> finished = files(out);

      // the same command again: the finished result, read back with its NaN, nothing rewritten
      try (Customization.Result again = run(client, prior, CFG, out, true).build().run()) {
        assertEquals(1010, again.training().step());
        assertTrue(Double.isNaN(again.training().loss()));
        assertEquals(learned[0], again.learned().episodes().get(0).envReturn());
      }
      assertEquals(finished, files(out), "reading a finished run back writes nothing");
      // the finished folder resumed with another seed: refused, nothing touched
      e = assertThrows(IllegalArgumentException.class, () -> run(client, prior, CFG.withSeed(2), out, true).build()
          .run());
      assertTrue(e.getMessage().contains("finished run of other settings"), e.getMessage());
      assertEquals(finished, files(out), "a refused rerun of a finished run touches nothing");
    }
  }

  private static Customization.Builder run(GrpcEnvClient client, TorchScriptPrior prior, ResidualSoftQConfig cfg,
      Path out, boolean resume) {
    return Customization.builder(Task.builtIn("cartpole-center"), prior).optEnvClient(client).optConfig(cfg)
        .optEvalEpisodes(1).optOutDir(out).optCheckpointing(out.resolve("checkpoint"), 500).optResume(resume);
  }

  /** Every file and folder under {@code dir}, by relative path: a file's sha256, "folder" for a folder. */
  private static Map<String, String> files(Path dir) throws Exception {
    Map<String, String> all = new TreeMap<>();
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.filter(p -> !p.equals(dir)).toList()) {
        all.put(dir.relativize(p).toString(), Files.isDirectory(p) ? "folder"
            : HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
      }
    }
    assertFalse(all.isEmpty());
    return all;
  }
}
