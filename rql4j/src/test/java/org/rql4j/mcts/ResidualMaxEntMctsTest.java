package org.rql4j.mcts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The tree search on a tiny deterministic MDP whose soft values are worked out by hand:
 *
 * <pre>
 *   s0 --a0, r 1--> s1 --a0 or a1, r 0.5--> end
 *   s0 --a1, r 1--> s2 --a0, r 2--> end
 *                   s2 --a1, r 0--> end
 *   log pi(.|s0) = [log 0.75, log 0.25], log pi(.|s1) = log pi(.|s2) = [log 0.5, log 0.5]
 * </pre>
 *
 * gamma 0.5, alphaHat 1. With w = 1:
 * V(s1) = log(0.5 e^0.5 + 0.5 e^0.5) = 0.5; V(s2) = log(0.5 e^2 + 0.5 e^0) = log((e^2 + 1) / 2);
 * Q(s0,a0) = 1 + 0.5 V(s1) = 1.25; Q(s0,a1) = 1 + 0.5 V(s2) = 1.716895...;
 * V(s0) = log(0.75 e^1.25 + 0.25 e^Q(s0,a1)); the choice argmax Q + log pi is a0 (0.962 vs 0.331):
 * the prior outweighs a1's higher Q. With w = 0: V(s1) = 0.5 + log 2, V(s2) = log(e^2 + 1),
 * Q = [1 + 0.5 V(s1), 1 + 0.5 V(s2)] and the choice is a1.
 */
class ResidualMaxEntMctsTest {

  /** The MDP above; states 0, 1, 2 and 3 (the end). Counts saves and discards. */
  static class TinyMdp implements Simulator<Integer> {
    int state;
    int saves;
    final Set<Integer> discarded = new HashSet<>();
    final List<Integer> savedIds = new ArrayList<>();
    int discards;
    long steps;

    @Override
    public int numActions() {
      return 2;
    }

    @Override
    public Integer save() {
      saves++;
      savedIds.add(state);
      return state;
    }

    @Override
    public void load(Integer s) {
      state = s;
    }

    @Override
    public void discard(Collection<Integer> states) {
      discards += states.size();
    }

    @Override
    public Transition step(int action) {
      steps++;
      double r;
      switch (state) {
        case 0 -> {
          r = 1;
          state = action == 0 ? 1 : 2;
          return new Transition(new float[] {state}, r, false, false);
        }
        case 1 -> r = 0.5;
        case 2 -> r = action == 0 ? 2 : 0;
        default -> throw new IllegalStateException("stepped past the end");
      }
      state = 3;
      return new Transition(new float[] {state}, r, true, false);
    }
  }

  static final SearchPrior PRIOR = obs -> obs[0] == 0 ? new double[] {Math.log(0.75), Math.log(0.25)}
      : new double[] {Math.log(0.5), Math.log(0.5)};

  static MctsConfig config(double w, int simulations, int horizon) {
    return new MctsConfig(w, 1, 1, simulations, horizon, 0.5, false);
  }

  @Test
  void softValuesAndTheChoiceMatchTheHandWorkedOnes() {
    TinyMdp mdp = new TinyMdp();
    ResidualMaxEntMcts.Decision d = new ResidualMaxEntMcts(config(1, 60, 3), PRIOR)
        .decide(mdp, new float[] {0}, new Random(1));
    double v2 = Math.log((Math.exp(2) + 1) / 2);
    double q1 = 1 + 0.5 * v2;
    assertEquals(1.25, d.q()[0], 1e-12);
    assertEquals(q1, d.q()[1], 1e-12);
    assertEquals(Math.log(0.75 * Math.exp(1.25) + 0.25 * Math.exp(q1)), d.value(), 1e-12);
    assertEquals(0, d.action(), "Q + w log pi: 1.25 + log 0.75 > " + q1 + " + log 0.25");
    assertEquals(60, d.visits()[0] + d.visits()[1]);
    assertEquals(7, d.nodes(), "s0, s1, s2 and four ends");
    assertEquals(0, mdp.state, "the simulator is left at the root");
    assertEquals(mdp.saves, mdp.discards, "every saved state is discarded");
    assertEquals(3, mdp.saves, "s0, s1, s2 are saved once each; ends are not");
  }

  @Test
  void oneSimulatorInTheListIsTheSingleSearchDrawForDraw() {
    ResidualMaxEntMcts mcts = new ResidualMaxEntMcts(config(1, 40, 3), PRIOR);
    ResidualMaxEntMcts.Decision one = mcts.decide(new TinyMdp(), new float[] {0}, new Random(7));
    ResidualMaxEntMcts.Decision listed = mcts.decide(List.of(new TinyMdp()), new float[] {0}, new Random(7));
    assertEquals(one.action(), listed.action());
    assertEquals(one.value(), listed.value());
    assertEquals(one.envSteps(), listed.envSteps());
    assertEquals(one.nodes(), listed.nodes());
    assertArrayEquals(one.q(), listed.q());
    assertArrayEquals(one.visits(), listed.visits());
    assertArrayEquals(one.logPrior(), listed.logPrior());
  }

  /** A TinyMdp whose saved states other simulators can load (states are plain integers), and that notes its thread. */
  static final class SharedMdp extends TinyMdp {
    final Set<String> threads = java.util.concurrent.ConcurrentHashMap.newKeySet();

    @Override
    public Transition step(int action) {
      threads.add(Thread.currentThread().getName());
      try {
        Thread.sleep(1); // a slow simulator: the trees overlap in time
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return super.step(action);
    }
  }

  @Test
  void rootParallelTreesShareTheSimulationsAndMergeAtTheRoot() {
    List<SharedMdp> sims = List.of(new SharedMdp(), new SharedMdp(), new SharedMdp());
    sims.get(1).state = 2; // somewhere else: the search first puts it in the first one's state
    sims.get(2).state = 3;
    ResidualMaxEntMcts mcts = new ResidualMaxEntMcts(config(1, 61, 3), PRIOR);
    ResidualMaxEntMcts.Decision d = mcts.decide(sims, new float[] {0}, new Random(3));
    assertEquals(61, d.visits()[0] + d.visits()[1], "21 + 20 + 20 simulations in all");
    // every tree expands both root actions of this tiny MDP, and its Q values are exact: so is the merge
    double v2 = Math.log((Math.exp(2) + 1) / 2);
    assertEquals(1.25, d.q()[0], 1e-12);
    assertEquals(1 + 0.5 * v2, d.q()[1], 1e-12);
    assertEquals(0, d.action());
    assertEquals(Math.log(0.75 * Math.exp(1.25) + 0.25 * Math.exp(1 + 0.5 * v2)), d.value(), 1e-12);
    assertEquals(21, d.nodes(), "7 nodes in each of the 3 trees");
    for (SharedMdp m : sims) {
      assertEquals(0, m.state, "every simulator is left in the first one's state");
      assertTrue(m.steps > 0, "every tree searched");
      assertEquals(1, m.threads.size(), "one tree per simulator, each on one thread");
    }
    Set<String> all = new HashSet<>();
    sims.forEach(m -> all.addAll(m.threads));
    assertEquals(3, all.size(), "the trees ran on three threads: " + all);
    assertEquals(sims.get(0).saves, sims.get(0).discards, "the first simulator's saved states are all discarded");
  }

  @Test
  void aFailingTreeFailsTheDecisionAndLeavesTheSimulatorsAtTheRoot() {
    TinyMdp broken = new TinyMdp() {
      @Override
      public Transition step(int action) {
        throw new IllegalStateException("the env broke");
      }
    };
    List<TinyMdp> sims = List.of(new TinyMdp(), broken);
    ResidualMaxEntMcts mcts = new ResidualMaxEntMcts(config(1, 10, 3), PRIOR);
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> mcts.decide(sims, new float[] {0}, new Random(3)));
    assertEquals("the env broke", e.getMessage());
    assertEquals(0, sims.get(0).state);
    assertEquals(0, broken.state);
    IllegalArgumentException few = assertThrows(IllegalArgumentException.class,
        () -> new ResidualMaxEntMcts(config(1, 1, 3), PRIOR).decide(sims, new float[] {0}, new Random(3)));
    assertTrue(few.getMessage().contains("at least 2 simulations"), few.getMessage());
  }

  @Test
  void withoutThePriorTermTheHigherQWins() {
    ResidualMaxEntMcts.Decision d = new ResidualMaxEntMcts(config(0, 60, 3), PRIOR)
        .decide(new TinyMdp(), new float[] {0}, new Random(2));
    assertEquals(1 + 0.5 * (0.5 + Math.log(2)), d.q()[0], 1e-12);
    assertEquals(1 + 0.5 * Math.log(Math.exp(2) + 1), d.q()[1], 1e-12);
    assertEquals(1, d.action());
  }

  @Test
  void selectionSamplesTheSoftPolicyOfQPlusThePriorTerm() {
    // eps 0: no uniform mixing once each child was tried, so the root's visits follow
    // softmax(Q + w log pi) = softmax([0.962, 0.331]): a0 gets 1 / (1 + e^-0.631) = 0.653 of them
    // (with the prior term's sign flipped it would get 0.17, without it 0.39)
    MctsConfig greedy = new MctsConfig(1, 1, 0, 4000, 3, 0.5, false);
    ResidualMaxEntMcts.Decision d = new ResidualMaxEntMcts(greedy, PRIOR).decide(new TinyMdp(), new float[] {0},
        new Random(5));
    double share = d.visits()[0] / 4000.0;
    assertEquals(1 / (1 + Math.exp(-(1.25 + Math.log(0.75) - d.q()[1] - Math.log(0.25)))), share, 0.03,
        "visit share of a0: " + share);
  }

  /** A chain s0 -> s1 -> ... (never ending), two actions: a0 earns 1, a1 earns 0; both move on. */
  static final class Chain implements Simulator<Integer> {
    int state;

    @Override
    public int numActions() {
      return 2;
    }

    @Override
    public Integer save() {
      return state;
    }

    @Override
    public void load(Integer s) {
      state = s;
    }

    @Override
    public void discard(Collection<Integer> states) {}

    @Override
    public Transition step(int action) {
      state++;
      return new Transition(new float[] {state}, action == 0 ? 1 : 0, false, false);
    }
  }

  @Test
  void rolloutsFollowThePriorDiscountedToTheHorizon() {
    // below the root the prior always picks a0 (log pi = [0, -inf]): a rollout from s1 earns
    // sum_{t < H - 1} 0.5^t; two simulations expand only the root's children
    SearchPrior sure = obs -> obs[0] == 0 ? new double[] {Math.log(0.5), Math.log(0.5)}
        : new double[] {0, Double.NEGATIVE_INFINITY};
    for (int horizon : new int[] {2, 3, 4}) {
      double rollout = 0;
      for (int t = 0; t < horizon - 1; t++) {
        rollout += Math.pow(0.5, t);
      }
      for (int seed = 0; seed < 5; seed++) {
        ResidualMaxEntMcts.Decision d = new ResidualMaxEntMcts(config(1, 2, horizon), sure)
            .decide(new Chain(), new float[] {0}, new Random(seed));
        assertEquals(1 + 0.5 * rollout, d.q()[0], 1e-12, "horizon " + horizon);
        assertEquals(0.5 * rollout, d.q()[1], 1e-12, "horizon " + horizon);
        assertEquals((long) 2 * horizon, d.envSteps(), "each simulation steps to the horizon");
      }
    }
  }

  @Test
  void newLeavesTakeThePriorRolloutValue() {
    // two simulations expand s1 and s2 only: their values come from one-step prior rollouts
    for (int seed = 0; seed < 20; seed++) {
      ResidualMaxEntMcts.Decision d = new ResidualMaxEntMcts(config(1, 2, 3), PRIOR)
          .decide(new TinyMdp(), new float[] {0}, new Random(seed));
      assertEquals(1.25, d.q()[0], 1e-12, "s1's rollout earns 0.5 whatever the prior samples");
      assertTrue(Math.abs(d.q()[1] - 2) < 1e-12 || Math.abs(d.q()[1] - 1) < 1e-12, "s2: 2 or 0, got " + d.q()[1]);
      assertEquals(1, d.visits()[0]);
      assertEquals(1, d.visits()[1], "each child is tried once first");
    }
  }

  @Test
  void theHorizonCutsTheLookAhead() {
    TinyMdp mdp = new TinyMdp();
    ResidualMaxEntMcts.Decision d = new ResidualMaxEntMcts(config(1, 30, 1), PRIOR)
        .decide(mdp, new float[] {0}, new Random(3));
    assertEquals(1, d.q()[0], 1e-12, "horizon 1: only the first reward counts");
    assertEquals(1, d.q()[1], 1e-12);
    assertEquals(0, d.action(), "equal Q: the prior decides");
    assertEquals(2, mdp.steps, "two edges, no rollouts, nothing below the horizon");
  }

  @Test
  void thePlainBaselineUsesTheUniformPrior() {
    MctsConfig plain = config(1, 60, 3).plain();
    ResidualMaxEntMcts.Decision d = new ResidualMaxEntMcts(plain, null).decide(new TinyMdp(), new float[] {0},
        new Random(4));
    assertEquals(-Math.log(2), d.logPrior()[0], 1e-12);
    // with a uniform prior: V(s1) = 0.5 (log-mean-exp), V(s2) = log((e^2 + 1) / 2), choice a1
    assertEquals(1.25, d.q()[0], 1e-12);
    assertEquals(1 + 0.5 * Math.log((Math.exp(2) + 1) / 2), d.q()[1], 1e-12);
    assertEquals(1, d.action());
  }

  @Test
  void badSettingsAndPriorsAreNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new MctsConfig(1, 0, 1, 10, 6, 0.8, false));
    assertTrue(e.getMessage().contains("alphaHat"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new ResidualMaxEntMcts(MctsConfig.reference(), null));
    SearchPrior three = obs -> new double[] {0, 0, 0};
    e = assertThrows(IllegalArgumentException.class,
        () -> new ResidualMaxEntMcts(config(1, 5, 3), three).decide(new TinyMdp(), new float[] {0}, new Random(0)));
    assertTrue(e.getMessage().contains("3 log-probs") && e.getMessage().contains("2 actions"), e.getMessage());
  }
}
