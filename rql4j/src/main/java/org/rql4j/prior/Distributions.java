package org.rql4j.prior;

import ai.djl.ndarray.NDArray;
import org.rql4j.runtime.Scalars;

/**
 * Log-probabilities of the prior distributions (docs/prior-package.md, method.md), written with
 * NDArray operations so that they are differentiable in the action (Algorithm 2 needs the
 * gradient of {@code log pi(a~|s)} with respect to the sampled action {@code a~}).
 */
public final class Distributions {

  /** Actions are clipped to {@code ±(1 - SQUASH_CLIP)} before atanh (float32 epsilon). */
  public static final double SQUASH_CLIP = 1.19e-7;
  /** Added inside {@code log(1 - tanh(u)^2 + eps)} (as SB3 and the reference code do). */
  public static final double SQUASH_EPS = 1e-6;
  private static final double LOG_SQRT_2PI = 0.5 * StrictMath.log(2 * Math.PI);

  private Distributions() {}

  /**
   * {@code sum_i log N(x_i; mean_i, exp(logStd_i))} over the last axis: {@code [B, d] -> [B]}.
   */
  public static NDArray diagGaussianLogProb(NDArray mean, NDArray logStd, NDArray x) {
    NDArray z = x.sub(mean).div(logStd.exp());
    return Scalars.sub(Scalars.mul(z.square(), -0.5).sub(logStd), LOG_SQRT_2PI).sum(new int[] {-1});
  }

  /**
   * Squashed Gaussian log-density of actions {@code a} in [-1, 1] (method.md, Algorithm 2):
   * {@code u = atanh(clip(a, -(1 - 1.19e-7), 1 - 1.19e-7))},
   * {@code log pi(a|s) = sum_i [log N(u_i; mean_i, sigma_i) - log(1 - tanh(u_i)^2 + 1e-6)]}.
   */
  public static NDArray squashedGaussianLogProb(NDArray mean, NDArray logStd, NDArray actions) {
    NDArray u = atanh(actions.clip(-(1 - SQUASH_CLIP), 1 - SQUASH_CLIP));
    return squashedGaussianLogProbPreTanh(mean, logStd, u);
  }

  /**
   * {@code atanh(x) = (log(1 + x) - log(1 - x)) / 2}, written by hand: DJL 0.35's PyTorch engine
   * does not implement {@code NDArray.atanh()}.
   */
  public static NDArray atanh(NDArray x) {
    return Scalars.mul(Scalars.add(x, 1).log().sub(Scalars.add(x.neg(), 1).log()), 0.5);
  }

  /** As {@link #squashedGaussianLogProb} from the pre-tanh sample {@code u} directly. */
  public static NDArray squashedGaussianLogProbPreTanh(NDArray mean, NDArray logStd, NDArray u) {
    NDArray correction = Scalars.add(u.tanh().square().neg(), 1 + SQUASH_EPS).log().sum(new int[] {-1});
    return diagGaussianLogProb(mean, logStd, u).sub(correction);
  }

  /**
   * {@code log pi(a|s)} of Discrete actions from all-action log-probs: {@code [B, n], [B] -> [B]}.
   *
   * @param start the Discrete space's start (actions are {@code start .. start + n - 1})
   */
  public static NDArray categoricalLogProb(NDArray logProbsAll, NDArray actions, long start) {
    NDArray index = actions.toType(ai.djl.ndarray.types.DataType.INT64, false);
    if (start != 0) {
      index = Scalars.sub(index, start);
    }
    return logProbsAll.gather(index.reshape(-1, 1), 1).reshape(-1);
  }

  /**
   * {@code KL(p || q) = sum_a p(a) (log p(a) - log q(a))} per row of categorical log-probabilities
   * {@code [B, n]}: {@code [B]}.
   */
  public static NDArray categoricalKl(NDArray logP, NDArray logQ) {
    NDArray p = logP.exp();
    NDArray terms = p.mul(logP.sub(logQ));
    // an action p gives probability 0 adds nothing (0 log 0 = 0), also where q gives it 0 too
    return ai.djl.ndarray.NDArrays.where(p.gt(0), terms, terms.zerosLike()).sum(new int[] {1});
  }

  /**
   * The closed-form {@code KL(N(meanP, exp(logStdP)^2) || N(meanQ, exp(logStdQ)^2))} of diagonal
   * Gaussians per row, summed over the last dimension ({@code [B, d]} arrays, or broadcastable to
   * them): {@code sum_i [log(sigmaQ_i / sigmaP_i) + (sigmaP_i^2 + (meanP_i - meanQ_i)^2) / (2 sigmaQ_i^2) - 1/2]},
   * {@code [B]}. For tanh-squashed Gaussians pass the pre-tanh parameters: tanh is a bijection, so the
   * KL of the squashed distributions is the same.
   */
  public static NDArray diagGaussianKl(NDArray meanP, NDArray logStdP, NDArray meanQ, NDArray logStdQ) {
    NDArray varRatio = Scalars.mul(logStdP.sub(logStdQ), 2).exp(); // sigmaP^2 / sigmaQ^2
    NDArray shift = meanP.sub(meanQ).div(logStdQ.exp()).square();
    NDArray perDim = logStdQ.sub(logStdP).add(Scalars.mul(Scalars.sub(varRatio.add(shift), 1), 0.5));
    return perDim.sum(new int[] {perDim.getShape().dimension() - 1});
  }

  /** The mean of a {@code [B]} array as a double (a KL's batch mean). */
  public static double meanAsDouble(NDArray perRow) {
    return perRow.mean().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
  }
}
