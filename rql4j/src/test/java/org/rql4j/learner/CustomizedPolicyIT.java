package org.rql4j.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.env.Tensor;
import org.rql4j.prior.PriorException;
import org.rql4j.prior.TorchScriptPrior;

/** A customized policy saved to a folder loads on its own and acts exactly as before. */
class CustomizedPolicyIT {

  @Test
  void savedPolicyLoadsAloneAndActsTheSame(@TempDir Path tmp) throws Exception {
    Path priorDir = Path.of(System.getProperty("rql4j.project.dir", "."), "examples/priors/cartpole-center-softdqn");
    Random rng = new Random(3);
    ReplayBuffer buffer = new ReplayBuffer(256, 4, 2);
    for (int i = 0; i < 256; i++) {
      float[] o = {(float) rng.nextGaussian(), (float) rng.nextGaussian(), (float) rng.nextGaussian() * 0.1f, (float) rng.nextGaussian()};
      buffer.add(o, rng.nextInt(2), -Math.abs(o[0]) / 2.4f, o, false, new float[] {-0.3f, -1.35f});
    }
    float[][] observations = new float[200][];
    for (int i = 0; i < observations.length; i++) {
      observations[i] = new float[] {(float) rng.nextGaussian(), (float) rng.nextGaussian(), (float) rng.nextGaussian() * 0.1f,
          (float) rng.nextGaussian()};
    }
    long[] before = new long[observations.length];
    try (TorchScriptPrior prior = TorchScriptPrior.load(priorDir);
        ResidualSoftQLearning learner = new ResidualSoftQLearning(ResidualSoftQConfig.cartpole().withSeed(5), 4, 2)) {
      for (int i = 0; i < 50; i++) {
        learner.update(buffer.sample(64, rng));
      }
      try (CustomizedPolicy policy = new CustomizedPolicy(learner, prior, 0, 0)) {
        for (int i = 0; i < observations.length; i++) {
          before[i] = ((Tensor) policy.act(Tensor.ofFloats(observations[i]), true)).getLong(0);
        }
        policy.save(tmp.resolve("policy"));
      }
    }
    try (CustomizedPolicy loaded = CustomizedPolicy.load(tmp.resolve("policy"), null)) {
      for (int i = 0; i < observations.length; i++) {
        assertEquals(before[i], ((Tensor) loaded.act(Tensor.ofFloats(observations[i]), true)).getLong(0), "obs " + i);
      }
    }
    // a different prior is refused: the residual is only meaningful with its own prior
    Path changed = tmp.resolve("changed-prior");
    Files.createDirectories(changed);
    try (Stream<Path> files = Files.list(priorDir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Files.copy(f, changed.resolve(f.getFileName()));
      }
    }
    Files.writeString(changed.resolve("prior.json"), Files.readString(changed.resolve("prior.json"))
        .replace("\"cartpole-center-softdqn\"", "\"renamed\""));
    PriorException e = assertThrows(PriorException.class, () -> CustomizedPolicy.load(tmp.resolve("policy"), changed));
    assertTrue(e.getMessage().contains("not the one"), e.getMessage());
  }
}
