package org.rql4j.learner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.util.Map;

/**
 * What a training checkpoint keeps of a learner (its learner section, docs/run-folder.md): the
 * networks and optimizer moments as named tensors, written as {@code learner.safetensors} with
 * PyTorch names (networks as a {@code state_dict}: {@code q.0.weight}; Adam's moments as an
 * optimizer's {@code state_dict}: {@code optim.state.0.exp_avg}), and its few other numbers (step
 * counts, running statistics' counts) as JSON. Every learner family writes the same section, so
 * that off-policy and on-policy checkpoints share one format.
 */
public interface LearnerState {

  /** The learner's kind in checkpoints ({@code residual-soft-q}, {@code residual-sac}, {@code residual-ppo}). */
  String kind();

  /** Optimizer steps taken (all optimizers of the learner). */
  long optimizerSteps();

  /** Copies (in {@code manager}) of the learner's tensors, each named. */
  NDList stateTensors(NDManager manager);

  /** The learner's other state: counts and settings a resume needs, as JSON numbers. */
  JsonObject stateValues();

  /**
   * Restores what {@link #stateTensors} and {@link #stateValues} gave, into a learner of the same
   * config; an IOException naming a missing tensor or one of another shape.
   */
  void restoreState(Map<String, NDArray> tensors, JsonObject values) throws IOException;
}
