package org.rql4j.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.rql4j.env.Tensor;
import org.rql4j.env.Value;
import org.rql4j.learner.ResidualSoftQLearning;
import org.rql4j.prior.PriorPolicy;

/**
 * The customized policy {@code pi_hat(a|s) ∝ exp((Q_R(s,a) + w log pi(a|s)) / alphaHat)}: the
 * trained residual Q network plus the frozen prior. Deterministic acting is the argmax of
 * {@code Q_R + w log pi} (method.md). Box observations; Discrete actions.
 */
public final class CustomizedPolicy implements Policy {

  private final ResidualSoftQLearning learner;
  private final PriorPolicy prior;
  private final long actionStart;
  private final Random rng;
  private final NDManager manager = NDManager.newBaseManager("PyTorch");

  /**
   * @param prior the frozen prior (null when the learner's priorWeight is 0)
   * @param actionStart the Discrete action space's start
   */
  public CustomizedPolicy(ResidualSoftQLearning learner, PriorPolicy prior, long actionStart, long seed) {
    this.learner = learner;
    this.prior = prior;
    this.actionStart = actionStart;
    this.rng = new Random(seed);
  }

  @Override
  public Value act(Value observation, boolean deterministic) {
    float[] obs = ((Tensor) observation).toFloatArray();
    float[] logPrior = null;
    if (prior != null && learner.config().priorWeight() != 0) {
      try (NDManager step = manager.newSubManager()) {
        NDArray lp = prior.logProbsAll(step.create(obs, new Shape(1, obs.length)));
        logPrior = lp.toFloatArray();
      }
    }
    long a = learner.act(obs, logPrior, 0, deterministic, rng)[0];
    return Tensor.scalar(a + actionStart);
  }

  @Override
  public void close() {
    manager.close();
  }
}
