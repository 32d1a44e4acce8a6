package org.rql4j.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.env.Value;
import org.rql4j.prior.Distribution;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.prior.PriorSpec;

/**
 * A prior acting on its own (the "prior alone" row of every results table): argmax / mean when
 * deterministic, a sample otherwise; squashed actions are rescaled to the env's Box bounds, diagonal
 * Gaussian ones clipped to them.
 * Box observations only (flatten "none"); the prior stays owned by the caller.
 */
public final class PriorActor implements Policy {

  private final PriorPolicy prior;
  private final NDManager manager;

  public PriorActor(PriorPolicy prior) {
    PriorSpec spec = prior.spec();
    if (!spec.flatten().equals("none")) {
      throw new IllegalArgumentException("prior '" + spec.name() + "' needs observations flattened by "
          + spec.flatten() + "; PriorActor feeds Box observations as they are");
    }
    this.prior = prior;
    this.manager = NDManager.newBaseManager("PyTorch");
  }

  @Override
  public Value act(Value observation, boolean deterministic) {
    PriorSpec spec = prior.spec();
    float[] obs = ((Tensor) observation).toFloatArray();
    try (NDManager step = manager.newSubManager()) {
      NDArray a = prior.sample(step.create(obs, new Shape(1, obs.length)), deterministic);
      if (spec.distribution() == Distribution.CATEGORICAL) {
        return Tensor.scalar(a.toLongArray()[0]);
      }
      float[] action = a.toFloatArray();
      if (spec.distribution() == Distribution.SQUASHED_GAUSSIAN) {
        action = ((Space.Box) spec.actionSpace()).fromUnitInterval(action);
      } else if (spec.actionLow() != null) { // diag_gaussian: clip_to_box, as the package's action_scaling says
        for (int i = 0; i < action.length; i++) {
          action[i] = (float) Math.max(spec.actionLow()[i], Math.min(spec.actionHigh()[i], action[i]));
        }
      }
      return Tensor.ofFloats(action);
    }
  }

  @Override
  public void close() {
    manager.close();
  }
}
