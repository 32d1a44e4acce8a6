package org.rql4j.compat;

import ai.djl.ndarray.NDArray;
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
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.learner.ResidualSoftQLearning;

/**
 * The Java residual soft-Q update and a compact PyTorch reference written from method.md
 * ({@code compat-tests/python/residual_soft_q_reference.py}), from the same weights and batch,
 * give the same targets, loss, gradient norm and (clipped) gradients, and after three steps the
 * same weights, both with PyTorch's Adam formula; within 1e-5 (absolute, or relative above 1).
 */
class ResidualSoftQCompatIT {

  private static final int STEPS = 3;

  @ParameterizedTest(name = "alphaHat={0} priorWeight={1} maxGradNorm={2}")
  @CsvSource({"1.0, 1.0, 10.0", "0.5, 2.0, 10.0", "1.0, 0.0, 10.0", "0.7, 1.5, 0.05"})
  void javaUpdateEqualsPyTorch(float alphaHat, float priorWeight, float maxGradNorm, @TempDir Path tmp) throws Exception {
    int obsDim = 4;
    int nActions = 3;
    int batchSize = 64;
    ResidualSoftQConfig cfg = new ResidualSoftQConfig(1000, 2.3e-3f, batchSize, 1000, 0.99f, 256, 128, 0, 10, 0.1f, 1f,
        0.05f, maxGradNorm, alphaHat, priorWeight, new int[] {32, 32}, 1, 7);
    Random rng = new Random(42);
    ReplayBuffer buffer = new ReplayBuffer(batchSize, obsDim, nActions);
    for (int i = 0; i < batchSize; i++) {
      float[] o = new float[obsDim];
      float[] o2 = new float[obsDim];
      for (int k = 0; k < obsDim; k++) {
        o[k] = (float) rng.nextGaussian();
        o2[k] = (float) rng.nextGaussian();
      }
      double[] p = {rng.nextDouble() + 0.05, rng.nextDouble() + 0.05, rng.nextDouble() + 0.05};
      double sum = p[0] + p[1] + p[2];
      float[] logp = new float[nActions];
      for (int k = 0; k < nActions; k++) {
        logp[k] = (float) Math.log(p[k] / sum);
      }
      buffer.add(o, rng.nextInt(nActions), (float) rng.nextGaussian() * 3, o2, rng.nextInt(5) == 0, logp);
    }
    ReplayBuffer.Batch batch = buffer.gather(java.util.stream.IntStream.range(0, batchSize).toArray());

    try (ResidualSoftQLearning learner = new ResidualSoftQLearning(cfg, obsDim, nActions)) {
      // make the target differ from the online network so both paths are exercised
      learner.qResidualTarget().importWeights(CompatCase.perturbed(learner.qResidual().exportWeights(), rng));
      Path caseFile = tmp.resolve("case.bin");
      writeCase(caseFile, learner, batch, cfg);
      RawArrayFile ref = CompatCase.runReference("residual_soft_q_reference.py", caseFile, tmp.resolve("out.bin"));

      ResidualSoftQLearning.LossDetails d = learner.backward(batch, true);
      CompatCase.assertClose(ref.get("target").doubles(), CompatCase.toDoubles(d.target()), "target y");
      CompatCase.assertClose(ref.get("q_sa").doubles(), CompatCase.toDoubles(d.qSa()), "Q_R(s,a)");
      CompatCase.assertClose(ref.get("loss").doubles(), new double[] {d.loss()}, "loss");
      List<Parameter> params = learner.qResidual().parameters();
      double norm = learner.applyGradientsClipOnly();
      CompatCase.assertClose(ref.get("grad_norm").doubles(), new double[] {norm}, "gradient norm");
      for (int i = 0; i < params.size(); i++) {
        try (NDArray g = params.get(i).getArray().getGradient()) {
          CompatCase.assertClose(ref.get("grad/" + i).doubles(), CompatCase.toDoubles(g.toFloatArray()), "clipped gradient " + i);
        }
      }
      learner.optimizer().step();
      for (int s = 1; s < STEPS; s++) {
        learner.update(batch);
      }
      List<float[]> updated = learner.qResidual().exportWeights();
      for (int i = 0; i < updated.size(); i++) {
        CompatCase.assertClose(ref.get("updated/" + i).doubles(), CompatCase.toDoubles(updated.get(i)), "weights " + i + " after " + STEPS + " steps");
      }
      // the KL budget's measure, KL(pi_hat || pi), of the updated network
      try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager("PyTorch")) {
        int n = batch.size();
        NDArray q = learner.qResidual().forward(m.create(batch.nextObservations(), new ai.djl.ndarray.types.Shape(n,
            obsDim)));
        NDArray lp = m.create(batch.nextPriorLogProbs(), new ai.djl.ndarray.types.Shape(n, nActions));
        CompatCase.assertClose(ref.get("kl").doubles(), new double[] {ResidualSoftQLearning.klToPrior(q, lp, alphaHat,
            priorWeight)}, "KL(pi_hat || pi)");
      }
    }
  }

  private static void writeCase(Path file, ResidualSoftQLearning learner, ReplayBuffer.Batch b, ResidualSoftQConfig cfg)
      throws Exception {
    Map<String, Object> arrays = new LinkedHashMap<>();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (String prefix : new String[] {"online", "target"}) {
      var net = prefix.equals("online") ? learner.qResidual() : learner.qResidualTarget();
      List<float[]> w = net.exportWeights();
      for (int i = 0; i < w.size(); i++) {
        arrays.put(prefix + "/" + i, w.get(i));
        shapes.put(prefix + "/" + i, net.parameters().get(i).getArray().getShape().getShape());
      }
    }
    int n = b.size();
    int d = b.observations().length / n;
    int a = b.nextPriorLogProbs().length / n;
    CompatCase.put(arrays, shapes, "obs", b.observations(), n, d);
    CompatCase.put(arrays, shapes, "actions", b.discreteActions(), n);
    CompatCase.put(arrays, shapes, "rewards", b.rewards(), n);
    CompatCase.put(arrays, shapes, "next_obs", b.nextObservations(), n, d);
    CompatCase.put(arrays, shapes, "not_terminated", b.notTerminated(), n);
    CompatCase.put(arrays, shapes, "next_log_prior", b.nextPriorLogProbs(), n, a);
    JsonObject meta = new JsonObject();
    meta.addProperty("gamma", (double) cfg.gamma());
    meta.addProperty("alpha_hat", (double) cfg.alphaHat());
    meta.addProperty("prior_weight", (double) cfg.priorWeight());
    meta.addProperty("lr", (double) cfg.learningRate());
    meta.addProperty("max_grad_norm", (double) cfg.maxGradNorm());
    meta.addProperty("steps", STEPS);
    RawArrayFile.write(file, "rql4j-soft-q-case/1", meta, arrays, shapes);
  }
}
