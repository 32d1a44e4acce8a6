package org.rql4j.mcts;

import java.util.Collection;

/**
 * What the tree search needs of an environment: step it, and save / load its whole state.
 * {@code S} is a saved state (a snapshot handle for a remote env). One search uses one simulator
 * from one thread.
 */
public interface Simulator<S> {

  /** Discrete actions 0 .. n-1. */
  int numActions();

  /** Saves the current state. */
  S save();

  /** Makes {@code state} the current state (it stays saved). */
  void load(S state);

  /** Forgets saved states (the search releases its own at the end of each decision). */
  void discard(Collection<S> states);

  /** Takes one action from the current state. */
  Transition step(int action);

  /**
   * One step: the observation reached (flattened), the reward the search maximizes (the add-on
   * reward for residual search, the total reward for the plain baseline), and Gymnasium's flags.
   */
  record Transition(float[] observation, double reward, boolean terminated, boolean truncated) {}
}
