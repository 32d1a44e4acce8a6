package org.rql4j.mcts;

import java.util.List;
import java.util.Objects;
import java.util.Random;
import org.rql4j.env.Tensor;
import org.rql4j.env.Value;
import org.rql4j.policy.Policy;

/**
 * Residual max-ent MCTS as a {@link Policy}: each action is a search from the simulator's current
 * state, which must be the state the observation comes from (the env being evaluated, through an
 * {@link EnvSimulator} over it), so that it can be evaluated like any learned policy
 * ({@link org.rql4j.train.Evaluator}). The search draws from its own random number generator
 * ({@link #reseed}); {@code deterministic} does not change it: the search's decision is the
 * action.
 */
public final class SearchPolicy implements Policy {

  private final ResidualMaxEntMcts mcts;
  private final List<? extends Simulator<?>> simulators;
  private Random rng;
  private long envSteps;

  /** Searches with {@code mcts} on {@code simulator}, drawing from {@code rng}. */
  public SearchPolicy(ResidualMaxEntMcts mcts, Simulator<?> simulator, Random rng) {
    this(mcts, List.of(Objects.requireNonNull(simulator, "simulator")), rng);
  }

  /**
   * Searches with {@code mcts} on several simulators at once, root-parallel
   * ({@link ResidualMaxEntMcts#decide(List, float[], Random)}): the first is the env being evaluated, the
   * others copies of it that each decision first puts in its state (all of one type of saved state).
   */
  public SearchPolicy(ResidualMaxEntMcts mcts, List<? extends Simulator<?>> simulators, Random rng) {
    this.mcts = Objects.requireNonNull(mcts, "mcts");
    if (simulators.isEmpty()) {
      throw new IllegalArgumentException("a search policy needs a simulator");
    }
    this.simulators = List.copyOf(simulators);
    this.rng = Objects.requireNonNull(rng, "rng");
  }

  /** Draws from {@code rng} from now on (e.g. one seeded generator per evaluation episode). */
  public void reseed(Random rng) {
    this.rng = Objects.requireNonNull(rng, "rng");
  }

  /** The env steps the searches took since the last call (the search's cost), and restarts the count. */
  public long takeEnvSteps() {
    long n = envSteps;
    envSteps = 0;
    return n;
  }

  @Override
  public Value act(Value observation, boolean deterministic) {
    float[] obs = ((Tensor) observation).toFloatArray();
    ResidualMaxEntMcts.Decision d = simulators.size() == 1 ? decideOne(simulators.get(0), obs)
        : decideAll(simulators, obs);
    envSteps += d.envSteps();
    return Tensor.scalar((long) d.action());
  }

  private <S> ResidualMaxEntMcts.Decision decideOne(Simulator<S> sim, float[] obs) {
    return mcts.decide(sim, obs, rng);
  }

  @SuppressWarnings("unchecked") // the constructor's contract: one type of saved state for all simulators
  private <S> ResidualMaxEntMcts.Decision decideAll(List<? extends Simulator<?>> sims, float[] obs) {
    return mcts.decide((List<Simulator<S>>) (List<?>) sims, obs, rng);
  }
}
