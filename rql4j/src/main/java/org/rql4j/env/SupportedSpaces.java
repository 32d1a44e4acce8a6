package org.rql4j.env;

import java.util.Arrays;

/**
 * Which spaces rql4j's learners, priors and tree search work in (docs/spaces.md), checked where an
 * env is first seen so that anything else is refused with a message naming the space, not met later
 * as a failure deep inside a learner.
 *
 * <p>Observations are read as they come, as the flat vector of their values in C order: a Box of any
 * shape or a MultiBinary (0/1 as floats). Dict, Tuple, Discrete and MultiDiscrete observations must be
 * flattened by the env (Gymnasium's {@code FlattenObservation}). Actions: Discrete (any start) or a
 * one-dimensional Box.
 */
public final class SupportedSpaces {

  /** What the refusals point to. */
  static final String DOC = "docs/spaces.md";

  private SupportedSpaces() {}

  /** Whether observations of {@code space} are read as they come (Box of any shape, MultiBinary). */
  public static boolean isFlatObservation(Space space) {
    return space instanceof Space.Box || space instanceof Space.MultiBinary;
  }

  /**
   * Refuses an observation space that is not read as it comes.
   *
   * @param env how the message names the env, e.g. its id (null: "the env")
   * @throws IllegalArgumentException naming the space, what is supported and the wrapper to use
   */
  public static void checkObservation(String env, Space space) {
    if (!isFlatObservation(space)) {
      throw new IllegalArgumentException(name(env) + " observes " + describe(space) + ": rql4j reads an "
          + "observation as the flat vector of its values, so it supports Box observations (any shape, C order) and "
          + "MultiBinary ones; wrap the env in gymnasium.wrappers.FlattenObservation to make a Dict, Tuple, Discrete "
          + "or MultiDiscrete observation a Box (Discrete parts one-hot, as gymnasium.spaces.flatten and the prior's "
          + "'gymnasium' flatten do; " + DOC + ")");
    }
  }

  /** Whether some learner acts in {@code space}: Discrete (any start) or a one-dimensional Box. */
  public static boolean isSupportedAction(Space space) {
    return space instanceof Space.Discrete || space instanceof Space.Box b && b.shape().length == 1;
  }

  /**
   * Refuses an action space no learner acts in.
   *
   * @param env how the message names the env, e.g. its id (null: "the env")
   * @throws IllegalArgumentException naming the space, what is supported and the wrapper to use
   */
  public static void checkAction(String env, Space space) {
    if (!isSupportedAction(space)) {
      throw new IllegalArgumentException(name(env) + " acts in " + describe(space) + ": rql4j's learners act "
          + "in a Discrete space (residual soft Q-learning, PPO, tree search) or a one-dimensional Box (residual SAC, "
          + "PPO); MultiDiscrete, MultiBinary, Dict, Tuple and multi-dimensional Box actions are not supported. Wrap "
          + "the env in a gymnasium.ActionWrapper that maps a Discrete (e.g. one action per combination) or a "
          + "one-dimensional Box onto its actions, and use a prior of that action space (" + DOC + ")");
    }
  }

  /**
   * Refuses a Box action space without finite bounds {@code low < high} for a learner that rescales
   * or clips its actions to them.
   *
   * @param env how the message names the env
   * @param learner the learner's name, e.g. {@code residual SAC}
   */
  public static void checkBoundedBox(String env, Space space, String learner) {
    if (space instanceof Space.Box b) {
      double[] low = b.low();
      double[] high = b.high();
      for (int i = 0; i < low.length; i++) {
        if (!Double.isFinite(low[i]) || !Double.isFinite(high[i]) || low[i] >= high[i]) {
          throw new IllegalArgumentException(name(env) + " acts in " + describe(space) + ": " + learner
              + " needs finite Box action bounds with low < high (dimension " + i + " is [" + low[i] + ", " + high[i]
              + "]); give the env a bounded Box action space (a gymnasium.ActionWrapper whose action_space is the "
              + "finite range the actions use; " + DOC + ")");
        }
      }
    }
  }

  private static String name(String env) {
    return env == null ? "the env" : "env " + env;
  }

  /** A space as Gymnasium prints it, nested spaces included (Dict and Tuple have no toString of their own). */
  public static String describe(Space space) {
    if (space instanceof Space.Dict d) {
      StringBuilder s = new StringBuilder("Dict(");
      d.spaces().forEach((k, v) -> s.append(s.length() > 5 ? ", " : "").append('\'').append(k).append("': ")
          .append(describe(v)));
      return s.append(')').toString();
    }
    if (space instanceof Space.Tuple t) {
      StringBuilder s = new StringBuilder("Tuple(");
      t.spaces().forEach(v -> s.append(s.length() > 6 ? ", " : "").append(describe(v)));
      return s.append(')').toString();
    }
    if (space instanceof Space.MultiDiscrete m && Arrays.stream(m.start()).anyMatch(x -> x != 0)) {
      return "MultiDiscrete(" + Arrays.toString(m.nvec()) + ", start=" + Arrays.toString(m.start()) + ")";
    }
    return space.toString();
  }
}
