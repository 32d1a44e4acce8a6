package org.rql4j.mcts;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import org.rql4j.prior.Distribution;
import org.rql4j.prior.PriorPolicy;

/** The prior {@code log pi(.|s)} the tree search uses at every node and in its rollouts. */
public interface SearchPrior {

  /** {@code log pi(a|s)} of every action 0 .. n-1 at the (flattened) observation. */
  double[] logProbs(float[] observation);

  /** The uniform prior of the plain max-ent MCTS baseline: {@code -log n} for every action. */
  static SearchPrior uniform(int n) {
    double[] logp = new double[n];
    Arrays.fill(logp, -StrictMath.log(n));
    return obs -> logp.clone();
  }

  /**
   * A categorical prior package (the soft-DQN priors); each call runs it on one observation.
   * {@code manager} holds the per-call arrays (a sub-manager is opened and closed per call).
   */
  static SearchPrior of(PriorPolicy prior, NDManager manager) {
    if (prior.spec().distribution() != Distribution.CATEGORICAL) {
      throw new IllegalArgumentException("tree search needs a categorical prior over Discrete actions; prior '"
          + prior.spec().name() + "' is " + prior.spec().distribution());
    }
    long start = ((org.rql4j.env.Space.Discrete) prior.spec().actionSpace()).start();
    if (start != 0) {
      throw new IllegalArgumentException("tree search numbers actions from 0; prior '" + prior.spec().name()
          + "' starts at " + start);
    }
    return obs -> {
      try (NDManager call = manager.newSubManager()) {
        NDArray logp = prior.logProbsAll(call.create(obs, new Shape(1, obs.length)));
        float[] f = logp.toFloatArray();
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) {
          out[i] = f[i];
        }
        return out;
      }
    };
  }
}
