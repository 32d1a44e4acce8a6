package org.rql4j.prior;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.rql4j.runtime.Scalars;

/**
 * A frozen prior policy {@code pi}: what the residual learners need of it (method.md, "What the
 * prior must provide"). Batched: observations are FLOAT32 {@code [B, obsDim]}, flattened as the
 * spec says. Results are attached to the observations' NDManager (call inside the caller's
 * sub-manager). The prior's parameters are never trained.
 */
public interface PriorPolicy extends AutoCloseable {

  /** What the prior package declares. */
  PriorSpec spec();

  /** {@code log pi(.|s)} of every action, {@code [B, n]} (categorical priors). */
  NDArray logProbsAll(NDArray observations);

  /** Gaussian parameters {@code [B, d]} (Gaussian priors; squashed: of the pre-tanh action). */
  GaussianParams distribution(NDArray observations);

  /**
   * {@code log pi(a|s)}, {@code [B]}: actions {@code [B]} (categorical) or {@code [B, d]}
   * (Gaussians; squashed: normalized to [-1, 1]). For Gaussian priors the log-prob is evaluated in
   * Java from {@link #distribution}, so it is differentiable in the actions.
   */
  default NDArray logProb(NDArray observations, NDArray actions) {
    PriorSpec spec = spec();
    return switch (spec.distribution()) {
      case CATEGORICAL -> Distributions.categoricalLogProb(logProbsAll(observations), actions,
          ((org.rql4j.env.Space.Discrete) spec.actionSpace()).start());
      case DIAG_GAUSSIAN -> {
        GaussianParams g = distribution(observations);
        yield Distributions.diagGaussianLogProb(g.mean(), g.logStd(), actions);
      }
      case SQUASHED_GAUSSIAN -> {
        GaussianParams g = distribution(observations);
        yield Distributions.squashedGaussianLogProb(g.mean(), g.logStd(), actions);
      }
    };
  }

  /**
   * Actions drawn from {@code pi(.|s)} (or its mode when {@code deterministic}): {@code [B]}
   * INT64 for categorical priors (action-space values, start included), {@code [B, d]} otherwise
   * (squashed: in [-1, 1]). Randomness comes from DJL's engine generator
   * ({@code Engine.setRandomSeed}).
   */
  default NDArray sample(NDArray observations, boolean deterministic) {
    PriorSpec spec = spec();
    if (spec.distribution() == Distribution.CATEGORICAL) {
      NDArray logp = logProbsAll(observations);
      long start = ((org.rql4j.env.Space.Discrete) spec.actionSpace()).start();
      NDArray index;
      if (deterministic) {
        index = logp.argMax(1);
      } else {
        // Gumbel-max: argmax(log p + g), g = -log(-log U)
        NDArray u = observations.getManager().randomUniform(1e-10f, 1f, logp.getShape());
        index = logp.add(u.log().neg().log().neg()).argMax(1);
      }
      return start == 0 ? index : Scalars.add(index, start);
    }
    GaussianParams g = distribution(observations);
    NDArray x = deterministic ? g.mean()
        : g.mean().add(g.logStd().exp().mul(observations.getManager().randomNormal(g.mean().getShape())));
    return spec.distribution() == Distribution.SQUASHED_GAUSSIAN ? x.tanh() : x;
  }

  /**
   * The prior's outputs for {@code n} observations given flat ({@code [n, obsDim]} row-major), read
   * back to the host in one array: the per-step query of the training loops. Categorical priors:
   * {@code log pi(.|s)}, {@code [n, actions]}; Gaussian priors: each row's mean then its log-std,
   * {@code [n, 2 * actionDim]}. The same values as {@link #logProbsAll} / {@link #distribution};
   * an implementation may do its checks on the host array instead of on the device ({@link
   * TorchScriptPrior} does).
   *
   * @param manager where the temporary arrays are made (a sub-manager, closed before returning)
   */
  default float[] outputs(NDManager manager, float[] observations, int n) {
    try (NDManager m = manager.newSubManager()) {
      NDArray obs = m.create(observations, new Shape(n, spec().obsDim()));
      if (spec().distribution() == Distribution.CATEGORICAL) {
        return logProbsAll(obs).toFloatArray();
      }
      GaussianParams g = distribution(obs);
      return NDArrays.concat(new NDList(g.mean().reshape(n, -1), g.logStd().reshape(n, -1)), 1).toFloatArray();
    }
  }

  /** Releases the prior's resources (idempotent). */
  @Override
  void close();
}
