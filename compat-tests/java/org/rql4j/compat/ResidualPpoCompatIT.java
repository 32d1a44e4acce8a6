package org.rql4j.compat;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rql4j.buffer.RolloutBuffer;
import org.rql4j.env.DType;
import org.rql4j.env.Space;
import org.rql4j.learner.Mlp;
import org.rql4j.learner.ResidualPpo;
import org.rql4j.learner.ResidualPpoConfig;

/**
 * Residual PPO's shaped rewards, GAE advantages and returns from one rollout (with terminated and
 * time-limit-truncated episodes), and the loss and gradients of a minibatch of it, equal a compact
 * PyTorch reference written from method.md and SB3's PPO
 * ({@code compat-tests/python/residual_ppo_reference.py}), from the same weights; within 1e-5
 * (absolute, or relative above 1). Box (diagonal Gaussian with a learned log-std) and Discrete
 * (categorical), plain, soft, residual and KL-regularized settings, with and without an entropy
 * bonus and advantage normalization.
 */
class ResidualPpoCompatIT {

  private static final int OBS = 4;
  private static final int STEPS = 6;
  private static final int ENVS = 3;

  @ParameterizedTest(name = "discrete={0} alphaHat={1} w={2} entCoef={3} normalize={4} bonus={5}")
  @CsvSource({"false, 0, 0, 0, true, 0", "false, 0.2, 0.5, 0, true, 0", "true, 0.1, 0.1, 0.01, true, 0",
      "true, 0, 0, 0, false, 0", "false, 0.05, 0.05, 0.02, false, 0", "false, 0.2, 0.5, 0, false, 0.75"})
  void lossAndAdvantagesEqualPyTorch(boolean discrete, float alphaHat, float w, float entCoef, boolean normalize,
      float bonus, @TempDir Path tmp) throws Exception {
    Space space = discrete ? new Space.Discrete(3, 0)
        : new Space.Box(new long[] {2}, DType.FLOAT32, new double[] {-1, -1}, new double[] {1, 1});
    ResidualPpoConfig base = ResidualPpoConfig.defaults().withSchedule(1000, STEPS, 10, 1, ENVS)
        .withNetwork(new int[] {16, 16}, 3e-4f, -0.3f).withReturns(0.97f, 0.9f).withSoft(alphaHat, w);
    ResidualPpoConfig cfg = new ResidualPpoConfig(base.totalSteps(), base.nSteps(), base.batchSize(),
        base.nEpochs(), base.learningRate(), base.gamma(), base.gaeLambda(), base.clipRange(), base.vfCoef(),
        entCoef, base.maxGradNorm(), normalize, alphaHat, w, base.logStdInit(), base.hidden(), ENVS, 5, false, false, false,
        bonus);
    Random rng = new Random(discrete ? 11 : 12);
    try (ResidualPpo ppo = new ResidualPpo(cfg, OBS, space)) {
      int width = ppo.actionWidth();
      RolloutBuffer buf = new RolloutBuffer(STEPS, ENVS, OBS, width);
      int rows = STEPS * ENVS;
      float[] allObs = new float[rows * OBS];
      float[] allActions = new float[rows * width];
      float[] rewards = new float[rows];
      float[] priorLp = new float[rows];
      float[] oldLp = new float[rows];
      float[] values = new float[rows];
      float[] term = new float[rows];
      float[] trunc = new float[rows];
      float[] truncValues = new float[rows];
      float[] allShaped = new float[rows];
      for (int t = 0; t < STEPS; t++) {
        float[] obs = gaussian(rng, ENVS * OBS);
        ResidualPpo.Decision d = ppo.act(obs, false, rng);
        float[] shaped = new float[ENVS];
        boolean[] te = new boolean[ENVS];
        boolean[] tr = new boolean[ENVS];
        float[] tv = new float[ENVS];
        for (int i = 0; i < ENVS; i++) {
          int row = t * ENVS + i;
          rewards[row] = (float) rng.nextGaussian();
          priorLp[row] = (float) (-0.5 - rng.nextDouble() * 2);
          te[i] = rng.nextInt(6) == 0;
          tr[i] = !te[i] && rng.nextInt(6) == 0;
          tv[i] = (float) rng.nextGaussian();
          shaped[i] = (float) ResidualPpo.shapedReward(rewards[row], priorLp[row], d.logProbs()[i], w, alphaHat,
              cfg.survivalBonus());
          allShaped[row] = shaped[i];
          oldLp[row] = d.logProbs()[i];
          values[row] = d.values()[i];
          term[row] = te[i] ? 1 : 0;
          trunc[row] = tr[i] ? 1 : 0;
          truncValues[row] = tr[i] ? tv[i] : 0;
        }
        System.arraycopy(obs, 0, allObs, t * ENVS * OBS, obs.length);
        System.arraycopy(d.actions(), 0, allActions, t * ENVS * width, d.actions().length);
        buf.add(obs, d.actions(), shaped, d.values(), d.logProbs(), te, tr, tv);
      }
      float[] lastValues = ppo.values(gaussian(rng, ENVS * OBS));
      buf.computeAdvantages(lastValues, cfg.gamma(), cfg.gaeLambda());
      // one update first, so that the ratios in the compared minibatch are not all 1
      ppo.update(buf, new Random(3));
      int[] batch = {17, 2, 9, 4, 11, 0, 15, 6, 13, 8};
      ResidualPpo.Losses l = ppo.backward(buf.gather(batch));

      Map<String, Object> arrays = new LinkedHashMap<>();
      Map<String, long[]> shapes = new LinkedHashMap<>();
      putNet(arrays, shapes, "policy", ppo.policy());
      putNet(arrays, shapes, "value", ppo.valueNetwork());
      if (!discrete) {
        CompatCase.put(arrays, shapes, "log_std", ppo.logStd(), 2);
      }
      CompatCase.put(arrays, shapes, "obs", allObs, rows, OBS);
      if (discrete) {
        CompatCase.put(arrays, shapes, "actions", allActions, rows);
      } else {
        CompatCase.put(arrays, shapes, "actions", allActions, rows, width);
      }
      CompatCase.put(arrays, shapes, "rewards", rewards, rows);
      CompatCase.put(arrays, shapes, "prior_log_probs", priorLp, rows);
      CompatCase.put(arrays, shapes, "old_log_probs", oldLp, rows);
      CompatCase.put(arrays, shapes, "values", values, rows);
      CompatCase.put(arrays, shapes, "terminated", term, rows);
      CompatCase.put(arrays, shapes, "truncated", trunc, rows);
      CompatCase.put(arrays, shapes, "truncated_values", truncValues, rows);
      CompatCase.put(arrays, shapes, "last_values", lastValues, ENVS);
      long[] idx = new long[batch.length];
      for (int i = 0; i < batch.length; i++) {
        idx[i] = batch[i];
      }
      CompatCase.put(arrays, shapes, "batch", idx, batch.length);
      // the KL budget's measure: KL(pi_theta || pi) on the rollout's states, to a prior given by its rows
      int priorWidth = discrete ? 3 : 4;
      float[] priorRows = new float[rows * priorWidth];
      for (int r = 0; r < rows; r++) {
        for (int k = 0; k < priorWidth; k++) {
          priorRows[r * priorWidth + k] = (float) (discrete ? rng.nextGaussian() : k < 2 ? rng.nextGaussian() * 0.7
              : -1 + rng.nextDouble());
        }
        if (discrete) { // log-probabilities: log-softmax of the row
          double z = 0;
          for (int k = 0; k < 3; k++) {
            z += Math.exp(priorRows[r * 3 + k]);
          }
          for (int k = 0; k < 3; k++) {
            priorRows[r * 3 + k] -= (float) Math.log(z);
          }
        }
      }
      CompatCase.put(arrays, shapes, "prior_rows", priorRows, rows, priorWidth);
      JsonObject meta = new JsonObject();
      meta.addProperty("num_envs", ENVS);
      meta.addProperty("discrete", discrete);
      meta.addProperty("gamma", (double) cfg.gamma());
      meta.addProperty("gae_lambda", (double) cfg.gaeLambda());
      meta.addProperty("clip_range", (double) cfg.clipRange());
      meta.addProperty("vf_coef", (double) cfg.vfCoef());
      meta.addProperty("ent_coef", (double) cfg.entCoef());
      meta.addProperty("prior_weight", (double) w);
      meta.addProperty("alpha_hat", (double) alphaHat);
      meta.addProperty("survival_bonus", (double) bonus);
      meta.addProperty("normalize_advantage", normalize);
      Path caseFile = tmp.resolve("case.bin");
      RawArrayFile.write(caseFile, "rql4j-ppo-case/1", meta, arrays, shapes);
      RawArrayFile ref = CompatCase.runReference("residual_ppo_reference.py", caseFile, tmp.resolve("out.bin"));

      CompatCase.assertClose(ref.get("shaped_rewards").doubles(), CompatCase.toDoubles(allShaped), "shaped rewards");
      CompatCase.assertClose(ref.get("advantages").doubles(), CompatCase.toDoubles(buf.advantages()), "advantages");
      CompatCase.assertClose(ref.get("returns").doubles(), CompatCase.toDoubles(buf.returns()), "returns");
      CompatCase.assertClose(ref.get("policy_loss").doubles(), new double[] {l.policyLoss()}, "policy loss");
      CompatCase.assertClose(ref.get("value_loss").doubles(), new double[] {l.valueLoss()}, "value loss");
      CompatCase.assertClose(ref.get("entropy").doubles(), new double[] {l.entropy()}, "entropy");
      CompatCase.assertClose(ref.get("loss").doubles(), new double[] {l.loss()}, "loss");
      CompatCase.assertClose(ref.get("kl").doubles(), new double[] {ppo.klToPrior(allObs, priorRows)}, "KL to the prior");
      List<float[]> grads = ppo.gradients();
      for (int i = 0; i < grads.size(); i++) {
        CompatCase.assertClose(ref.get("grad/" + i).doubles(), CompatCase.toDoubles(grads.get(i)), "gradient " + i);
      }
      org.junit.jupiter.api.Assertions.assertTrue(l.clipFraction() > 0 || l.approxKl() > 0, l.toString());
    }
  }

  private static void putNet(Map<String, Object> arrays, Map<String, long[]> shapes, String name, Mlp net) {
    List<float[]> w = net.exportWeights();
    for (int i = 0; i < w.size(); i++) {
      arrays.put(name + "/" + i, w.get(i));
      shapes.put(name + "/" + i, net.parameters().get(i).getArray().getShape().getShape());
    }
  }

  private static float[] gaussian(Random rng, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) rng.nextGaussian();
    }
    return x;
  }
}
