package org.rql4j.compat;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.nn.Parameter;
import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.env.DType;
import org.rql4j.env.Space;
import org.rql4j.learner.Mlp;
import org.rql4j.learner.ResidualSac;
import org.rql4j.learner.ResidualSacConfig;

/**
 * The Java residual SAC update and a compact PyTorch reference written from method.md
 * ({@code compat-tests/python/residual_sac_reference.py}), from the same weights, batch and noise,
 * give the same critic target, critic, actor and temperature losses and gradients, and after three
 * full steps (SB3's order, torch.optim.Adam, Polyak) the same weights of every network and the
 * same temperature; within 1e-5 (absolute, or relative above 1). The KL budget's closed-form
 * {@code KL(pi_hat || pi)} on the batch's states equals torch.distributions' {@code kl_divergence}.
 */
class ResidualSacCompatIT {

  private static final int STEPS = 3;

  @ParameterizedTest(name = "actionDim={0} alphaHat={1} learnAlpha={2} w={3} maxGradNorm={4} priorMinStd={5}")
  @CsvSource({"1, 0.1, false, 0.1, 0, 0", "2, 0.5, true, 0.0097, 0, 0", "2, 0.2, false, 0.0, 0, 0",
      "3, 1.0, true, 2.0, 0, 0", "2, 0.1, true, 0.5, 0.5, 0.4"})
  void javaUpdateEqualsPyTorch(int actDim, float alphaHat, boolean learnAlpha, float priorWeight, float maxGradNorm,
      float priorMinStd, @TempDir Path tmp) throws Exception {
    int obsDim = 5;
    int batchSize = 64;
    ResidualSacConfig cfg = new ResidualSacConfig(1000, 3e-3f, batchSize, 1000, 0.95f, 0.05f, 1, 1, 0, alphaHat,
        learnAlpha, null, priorWeight, 1f, 0, maxGradNorm, priorMinStd, new int[] {32, 32}, 1, 11);
    double[] low = new double[actDim];
    double[] high = new double[actDim];
    java.util.Arrays.fill(low, -1);
    java.util.Arrays.fill(high, 1);
    Space.Box box = new Space.Box(new long[] {actDim}, DType.FLOAT32, low, high);
    Random rng = new Random(7 + actDim);
    ReplayBuffer buffer = new ReplayBuffer(batchSize, obsDim, actDim, 2 * actDim);
    for (int i = 0; i < batchSize; i++) {
      float[] o = gaussian(rng, obsDim, 1);
      float[] o2 = gaussian(rng, obsDim, 1);
      float[] act = new float[actDim];
      for (int k = 0; k < actDim; k++) {
        act[k] = (float) (rng.nextDouble() * 1.98 - 0.99);
      }
      float[] prior = priorRow(rng, actDim);
      float[] nextPrior = priorRow(rng, actDim);
      buffer.add(o, 0, act, 0, (float) rng.nextGaussian(), o2, 0, rng.nextInt(5) == 0, prior, 0, nextPrior, 0);
    }
    ReplayBuffer.Batch batch = buffer.gather(java.util.stream.IntStream.range(0, batchSize).toArray());
    float[][] noiseNext = new float[STEPS][];
    float[][] noiseCurrent = new float[STEPS][];
    for (int k = 0; k < STEPS; k++) {
      noiseNext[k] = gaussian(rng, batchSize * actDim, 1);
      noiseCurrent[k] = gaussian(rng, batchSize * actDim, 1);
    }
    try (ResidualSac sac = new ResidualSac(cfg, obsDim, box)) {
      // targets unlike the online critics, so that both paths are exercised
      sac.critics().get(2).importWeights(CompatCase.perturbed(sac.critics().get(0).exportWeights(), rng));
      sac.critics().get(3).importWeights(CompatCase.perturbed(sac.critics().get(1).exportWeights(), rng));
      Path caseFile = tmp.resolve("case.bin");
      writeCase(caseFile, sac, batch, noiseNext, noiseCurrent, cfg, actDim);
      RawArrayFile ref = CompatCase.runReference("residual_sac_reference.py", caseFile, tmp.resolve("out.bin"));
      // the KL budget's measure: closed-form KL(pi_hat || pi) of the pre-tanh Gaussians, torch.distributions'
      CompatCase.assertClose(ref.get("kl").doubles(), new double[] {sac.klToPrior(batch.observations(),
          batch.priorFeatures())}, "KL to the prior");

      ResidualSac.Critic c = sac.criticBackward(batch, noiseNext[0], priorWeight, alphaHat);
      CompatCase.assertClose(ref.get("target").doubles(), CompatCase.toDoubles(c.target()), "critic target y");
      CompatCase.assertClose(ref.get("critic_loss").doubles(), new double[] {c.loss()}, "critic loss");
      assertGradients(ref, "q1", sac.critics().get(0));
      assertGradients(ref, "q2", sac.critics().get(1));
      double actorLoss = sac.actorBackward(batch, noiseCurrent[0], priorWeight, alphaHat);
      CompatCase.assertClose(ref.get("actor_loss").doubles(), new double[] {actorLoss}, "actor loss");
      assertGradients(ref, "actor", sac.actor());
      if (learnAlpha) {
        double alphaLoss = sac.alphaBackward(batch, noiseCurrent[0]);
        CompatCase.assertClose(ref.get("alpha_loss").doubles(), new double[] {alphaLoss}, "temperature loss");
        CompatCase.assertClose(ref.get("grad/log_alpha").doubles(), new double[] {sac.logAlphaAndGradient()[1]},
            "temperature gradient");
      }
      for (int k = 0; k < STEPS; k++) {
        ResidualSac.Losses l = sac.update(batch, noiseNext[k], noiseCurrent[k], priorWeight);
        if (maxGradNorm > 0 && k == 0) { // the clip is exercised, on both networks
          assertTrue(l.criticGradNorm() > maxGradNorm && l.actorGradNorm() > maxGradNorm, l.toString());
        }
      }
      String[] names = {"q1", "q2", "q1_target", "q2_target"};
      assertWeights(ref, "actor", sac.actor());
      for (int i = 0; i < 4; i++) {
        assertWeights(ref, names[i], sac.critics().get(i));
      }
      CompatCase.assertClose(ref.get("updated/log_alpha").doubles(), new double[] {sac.logAlphaAndGradient()[0]},
          "log alphaHat after " + STEPS + " steps");
    }
  }

  private static float[] priorRow(Random rng, int actDim) {
    float[] row = new float[2 * actDim];
    for (int k = 0; k < actDim; k++) {
      row[k] = (float) (rng.nextGaussian() * 0.8);
      row[actDim + k] = (float) (-1.5 + rng.nextDouble() * 1.5);
    }
    return row;
  }

  private static float[] gaussian(Random rng, int n, double scale) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) (rng.nextGaussian() * scale);
    }
    return x;
  }

  private static void assertGradients(RawArrayFile ref, String name, Mlp net) {
    List<Parameter> params = net.parameters();
    for (int i = 0; i < params.size(); i++) {
      try (ai.djl.ndarray.NDArray g = params.get(i).getArray().getGradient()) {
        CompatCase.assertClose(ref.get("grad/" + name + "/" + i).doubles(), CompatCase.toDoubles(g.toFloatArray()), name + " gradient " + i);
      }
    }
  }

  private static void assertWeights(RawArrayFile ref, String name, Mlp net) {
    List<float[]> w = net.exportWeights();
    for (int i = 0; i < w.size(); i++) {
      CompatCase.assertClose(ref.get("updated/" + name + "/" + i).doubles(), CompatCase.toDoubles(w.get(i)),
          name + " weights " + i + " after " + STEPS + " steps");
    }
  }

  private static void writeCase(Path file, ResidualSac sac, ReplayBuffer.Batch b, float[][] noiseNext,
      float[][] noiseCurrent, ResidualSacConfig cfg, int actDim) throws Exception {
    Map<String, Object> arrays = new LinkedHashMap<>();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    String[] names = {"actor", "q1", "q2", "q1_target", "q2_target"};
    List<Mlp> nets = List.of(sac.actor(), sac.critics().get(0), sac.critics().get(1), sac.critics().get(2),
        sac.critics().get(3));
    for (int n = 0; n < names.length; n++) {
      List<float[]> w = nets.get(n).exportWeights();
      for (int i = 0; i < w.size(); i++) {
        arrays.put(names[n] + "/" + i, w.get(i));
        shapes.put(names[n] + "/" + i, nets.get(n).parameters().get(i).getArray().getShape().getShape());
      }
    }
    int rows = b.size();
    int d = b.observations().length / rows;
    CompatCase.put(arrays, shapes, "obs", b.observations(), rows, d);
    CompatCase.put(arrays, shapes, "actions", b.actions(), rows, actDim);
    CompatCase.put(arrays, shapes, "rewards", b.rewards(), rows);
    CompatCase.put(arrays, shapes, "next_obs", b.nextObservations(), rows, d);
    CompatCase.put(arrays, shapes, "not_terminated", b.notTerminated(), rows);
    CompatCase.put(arrays, shapes, "prior", b.priorFeatures(), rows, 2L * actDim);
    CompatCase.put(arrays, shapes, "next_prior", b.nextPriorFeatures(), rows, 2L * actDim);
    for (int k = 0; k < STEPS; k++) {
      CompatCase.put(arrays, shapes, "noise_next/" + k, noiseNext[k], rows, actDim);
      CompatCase.put(arrays, shapes, "noise_current/" + k, noiseCurrent[k], rows, actDim);
    }
    JsonObject meta = new JsonObject();
    meta.addProperty("gamma", (double) cfg.gamma());
    meta.addProperty("tau", (double) cfg.tau());
    meta.addProperty("lr", (double) cfg.learningRate());
    meta.addProperty("alpha_hat", (double) cfg.alphaHat());
    meta.addProperty("learn_alpha", cfg.learnAlpha());
    meta.addProperty("target_entropy", cfg.targetEntropy(actDim));
    meta.addProperty("prior_weight", (double) cfg.priorWeight());
    meta.addProperty("steps", STEPS);
    meta.addProperty("max_grad_norm", (double) cfg.maxGradNorm());
    meta.addProperty("prior_min_std", (double) cfg.priorMinStd());
    RawArrayFile.write(file, "rql4j-sac-case/1", meta, arrays, shapes);
  }
}
