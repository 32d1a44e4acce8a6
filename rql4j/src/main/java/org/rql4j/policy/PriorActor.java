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
 * It feeds the observation as it comes, the flat vector of its values in C order: a Box of any shape
 * or a MultiBinary, which is what the prior reads whether its package says {@code flatten: none} (a Box)
 * or {@code gymnasium} (a MultiBinary, or an env wrapped in Gymnasium's {@code FlattenObservation} for a
 * prior exported against the unwrapped env; docs/spaces.md). The prior stays owned by the caller.
 */
public final class PriorActor implements Policy {

  private final PriorPolicy prior;
  private final NDManager manager;

  public PriorActor(PriorPolicy prior) {
    this.prior = prior;
    this.manager = NDManager.newBaseManager("PyTorch");
  }

  @Override
  public Value act(Value observation, boolean deterministic) {
    PriorSpec spec = prior.spec();
    if (!(observation instanceof Tensor t)) {
      throw new IllegalArgumentException(spec.label() + " reads flat observations (a Box or MultiBinary), got a "
          + observation.getClass().getSimpleName() + " observation: wrap the env in "
          + "gymnasium.wrappers.FlattenObservation (docs/spaces.md)");
    }
    float[] obs = t.toFloatArray();
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
