package org.rql4j.mcts;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Residual maximum-entropy MCTS (method.md, Algorithm 3): a soft tree search (MENTS-style) from the
 * current state, rebuilt at every decision, that customizes a prior online with no training. It
 * maximizes the reward the {@link Simulator} reports (the add-on reward {@code r_R}) plus
 * {@code w log pi} of the prior:
 * <ul>
 *   <li>selection at a node visited {@code N(s)} times: each child once (an untried one uniformly at
 *       random), then a sample from {@code (1 - lambda) softmax((Q(s,.) + w log pi(.|s)) / alphaHat)
 *       + lambda uniform}, {@code lambda = min(1, eps |A| / log(1 + N(s)))};</li>
 *   <li>a new leaf's value: the prior rolled out to the horizon, {@code sum gamma^t r} (with
 *       {@code w = alphaHat} the prior's own soft terms cancel); a terminal state has value 0, and so
 *       does a state whose episode was cut off (its simulator cannot step on);</li>
 *   <li>backup: {@code Q(s,a) = r(s,a) + gamma V(s')}, {@code V(s) = alphaHat logsumexp((Q(s,.) +
 *       w log pi(.|s)) / alphaHat)} over the expanded children;</li>
 *   <li>the action: {@code argmax Q + w log pi} at the root (over the expanded children).</li>
 * </ul>
 * The plain max-ent MCTS baseline is the same search with {@link MctsConfig#uniformPrior()}
 * ({@code log pi = -log |A|}, uniform rollouts), given the total reward.
 *
 * <p>Each expanded node keeps a saved state, so a simulation loads its parent's state once and
 * steps only the new edge and the rollout (the env is assumed deterministic given its state, as
 * highway-env is; a stochastic env gets one sample of each edge). The saved states are discarded
 * at the end of the decision. Not thread-safe.
 */
public final class ResidualMaxEntMcts {

  private final MctsConfig config;
  private final SearchPrior prior;

  /** {@code prior} is ignored (may be null) when {@code config.uniformPrior()}. */
  public ResidualMaxEntMcts(MctsConfig config, SearchPrior prior) {
    if (!config.uniformPrior() && prior == null) {
      throw new IllegalArgumentException("residual MCTS needs a prior (or MctsConfig.plain() for the uniform one)");
    }
    this.config = config;
    this.prior = prior;
  }

  public MctsConfig config() {
    return config;
  }

  /**
   * What one decision found at the root.
   *
   * @param action the chosen action
   * @param q {@code Q(root, a)} (NaN for a child never expanded)
   * @param logPrior {@code log pi(a|root)} used
   * @param visits simulations through each child
   * @param value {@code V(root)}
   * @param envSteps simulator steps the search took (edges and rollouts)
   * @param nodes nodes expanded
   */
  public record Decision(int action, double[] q, double[] logPrior, int[] visits, double value, long envSteps,
      int nodes) {}

  private static final class Node<S> {
    final int depth;
    final boolean end; // terminal, or cut off: value 0, never expanded
    S state;
    double[] logPi;
    double[] q;
    double[] reward;
    int[] n;
    List<Node<S>> children;
    double value;

    Node(int depth, boolean end, int numActions) {
      this.depth = depth;
      this.end = end;
      if (!end) {
        q = new double[numActions];
        Arrays.fill(q, Double.NaN);
        reward = new double[numActions];
        n = new int[numActions];
        children = new ArrayList<>(java.util.Collections.nCopies(numActions, null));
      }
    }
  }

  private SearchPrior priorFor(int numActions) {
    return config.uniformPrior() ? SearchPrior.uniform(numActions) : prior;
  }

  /**
   * Searches from the simulator's current state (whose observation is {@code observation}) and
   * returns the decision; the simulator is left in that state again.
   */
  public <S> Decision decide(Simulator<S> sim, float[] observation, Random rng) {
    int na = sim.numActions();
    SearchPrior p = priorFor(na);
    Node<S> root = new Node<>(0, false, na);
    root.state = sim.save();
    root.logPi = checked(p.logProbs(observation), na);
    List<S> saved = new ArrayList<>();
    saved.add(root.state);
    long[] steps = {0};
    int[] nodes = {1};
    try {
      for (int k = 0; k < config.simulations(); k++) {
        simulate(sim, p, root, rng, saved, steps, nodes);
      }
      sim.load(root.state);
    } catch (RuntimeException e) {
      try { // leave the env at the root, and release what the search holds, without hiding the cause
        sim.load(root.state);
        sim.discard(saved);
      } catch (RuntimeException cleanup) {
        e.addSuppressed(cleanup);
      }
      throw e;
    }
    sim.discard(saved);
    int best = -1;
    double bestScore = Double.NEGATIVE_INFINITY;
    for (int a = 0; a < na; a++) {
      if (root.children.get(a) == null) {
        continue;
      }
      double score = root.q[a] + priorTerm(root.logPi[a]);
      if (score > bestScore) {
        bestScore = score;
        best = a;
      }
    }
    return new Decision(best, root.q.clone(), root.logPi.clone(), root.n.clone(), root.value, steps[0], nodes[0]);
  }

  private static double[] checked(double[] logp, int na) {
    if (logp.length != na) {
      throw new IllegalArgumentException("the prior gives " + logp.length + " log-probs; the env has " + na
          + " actions");
    }
    for (double v : logp) {
      if (Double.isNaN(v) || v == Double.POSITIVE_INFINITY) {
        throw new IllegalArgumentException("the prior gave a NaN or +inf log-prob: " + Arrays.toString(logp));
      }
    }
    return logp;
  }

  /** One simulation below {@code node}; returns the node's updated value. */
  private <S> double simulate(Simulator<S> sim, SearchPrior p, Node<S> node, Random rng, List<S> saved, long[] steps,
      int[] nodes) {
    if (node.end || node.depth >= config.horizon()) {
      return 0;
    }
    int na = node.q.length;
    int a = select(node, rng);
    Node<S> child = node.children.get(a);
    double childValue;
    if (child == null) {
      sim.load(node.state);
      Simulator.Transition t = sim.step(a);
      steps[0]++;
      if (Double.isNaN(t.reward())) {
        throw new IllegalStateException("the simulator returned a NaN reward for action " + a + " at depth "
            + node.depth);
      }
      node.reward[a] = t.reward();
      boolean end = t.terminated() || t.truncated();
      child = new Node<>(node.depth + 1, end, na);
      nodes[0]++;
      node.children.set(a, child);
      if (end) {
        childValue = 0;
      } else {
        if (child.depth < config.horizon()) {
          child.state = sim.save();
          saved.add(child.state);
          child.logPi = checked(p.logProbs(t.observation()), na);
        }
        childValue = rollout(sim, p, t.observation(), child.logPi, config.horizon() - child.depth, rng, steps);
      }
      child.value = childValue;
    } else {
      childValue = simulate(sim, p, child, rng, saved, steps, nodes);
    }
    node.q[a] = node.reward[a] + config.gamma() * childValue;
    node.n[a]++;
    node.value = softValue(node);
    return node.value;
  }

  /** {@code w log pi(a|s)}; 0 when w = 0, even where the prior gives an action log-prob -inf. */
  private double priorTerm(double logPi) {
    return config.priorWeight() == 0 ? 0 : config.priorWeight() * logPi;
  }

  /** {@code alphaHat logsumexp((Q + w log pi) / alphaHat)} over the expanded children. */
  private double softValue(Node<?> node) {
    double alpha = config.alphaHat();
    double max = Double.NEGATIVE_INFINITY;
    for (int a = 0; a < node.q.length; a++) {
      if (node.children.get(a) != null) {
        max = Math.max(max, (node.q[a] + priorTerm(node.logPi[a])) / alpha);
      }
    }
    if (max == Double.NEGATIVE_INFINITY) {
      return max;
    }
    double sum = 0;
    for (int a = 0; a < node.q.length; a++) {
      if (node.children.get(a) != null) {
        sum += StrictMath.exp((node.q[a] + priorTerm(node.logPi[a])) / alpha - max);
      }
    }
    return alpha * (max + StrictMath.log(sum));
  }

  private int select(Node<?> node, Random rng) {
    int na = node.q.length;
    int untried = 0;
    for (int a = 0; a < na; a++) {
      if (node.children.get(a) == null) {
        untried++;
      }
    }
    if (untried > 0) {
      int pick = rng.nextInt(untried);
      for (int a = 0; a < na; a++) {
        if (node.children.get(a) == null && pick-- == 0) {
          return a;
        }
      }
    }
    int visits = Arrays.stream(node.n).sum(); // N(s): simulations through the node
    double lambda = Math.min(1, config.eps() * na / StrictMath.log(1 + visits));
    if (rng.nextDouble() < lambda) {
      return rng.nextInt(na);
    }
    double[] logits = new double[na];
    for (int a = 0; a < na; a++) {
      logits[a] = (node.q[a] + priorTerm(node.logPi[a])) / config.alphaHat();
    }
    return sample(logits, rng);
  }

  /** A sample from softmax(logits). */
  static int sample(double[] logits, Random rng) {
    double max = Double.NEGATIVE_INFINITY;
    for (double l : logits) {
      max = Math.max(max, l);
    }
    double sum = 0;
    double[] w = new double[logits.length];
    for (int i = 0; i < logits.length; i++) {
      w[i] = StrictMath.exp(logits[i] - max);
      sum += w[i];
    }
    double u = rng.nextDouble() * sum;
    for (int i = 0; i < w.length; i++) {
      u -= w[i];
      if (u < 0) {
        return i;
      }
    }
    return w.length - 1;
  }

  /**
   * The prior rolled out for up to {@code steps} steps from the simulator's current state
   * (observation {@code obs}, log-probs {@code logPi} if known): {@code sum gamma^t r}.
   */
  private double rollout(Simulator<?> sim, SearchPrior p, float[] obs, double[] logPi, int steps, Random rng,
      long[] count) {
    double total = 0;
    double discount = 1;
    double[] logp = logPi;
    float[] o = obs;
    for (int t = 0; t < steps; t++) {
      if (logp == null) {
        logp = checked(p.logProbs(o), sim.numActions());
      }
      Simulator.Transition tr = sim.step(sample(logp, rng));
      count[0]++;
      total += discount * tr.reward();
      discount *= config.gamma();
      if (tr.terminated() || tr.truncated()) {
        break;
      }
      o = tr.observation();
      logp = null;
    }
    return total;
  }
}
