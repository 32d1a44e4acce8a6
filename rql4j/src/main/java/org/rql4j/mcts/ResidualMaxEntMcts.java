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
 * at the end of the decision. Not thread-safe: one decision at a time (a root-parallel decision,
 * {@link #decide(List, float[], Random)}, runs its trees on threads of its own).
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
    Tree<S> tree = search(sim, priorFor(sim.numActions()), observation, rng, config.simulations());
    Node<S> root = tree.root;
    return new Decision(best(root.q, root.logPi, root.children), root.q.clone(), root.logPi.clone(), root.n.clone(),
        root.value, tree.steps, tree.nodes);
  }

  /**
   * Root parallelization: {@code sims.size()} independent searches from the same state, one per simulator
   * (each its own env copy, for instance in its own worker process or Ray actor), run at the same time, with
   * the decision's simulations shared between them ({@code config.simulations()} in all; the first ones get one
   * more where they do not divide evenly). The other simulators are first put in the first one's state. The
   * trees are merged at the root: an action's visits are summed over the trees, its {@code Q} is the mean of
   * the trees' {@code Q} weighted by their visits, and the action is {@code argmax Q + w log pi} over the
   * actions some tree expanded. Each tree draws from its own generator, seeded from {@code rng}. With one
   * simulator this is {@link #decide(Simulator, float[], Random)}, draw for draw. Every simulator is left in
   * the first one's state. The prior is queried from several threads, one call at a time.
   *
   * <p>Why the root and not the leaves: the trees share nothing while they search, so each thread only waits
   * for its own env; leaf parallelization with virtual loss would share one tree between threads and make
   * every simulation wait for the tree's lock and every env round trip order-dependent.
   */
  public <S> Decision decide(List<? extends Simulator<S>> sims, float[] observation, Random rng) {
    if (sims.isEmpty()) {
      throw new IllegalArgumentException("root-parallel search needs at least one simulator");
    }
    int k = sims.size();
    if (k == 1) {
      return decide(sims.get(0), observation, rng);
    }
    int na = sims.get(0).numActions();
    for (Simulator<S> s : sims) {
      if (s.numActions() != na) {
        throw new IllegalArgumentException("the simulators have different numbers of actions: " + s.numActions()
            + " vs " + na);
      }
    }
    int total = config.simulations();
    if (total < k) {
      throw new IllegalArgumentException(k + " parallel trees need at least " + k + " simulations per decision, got "
          + total);
    }
    long[] seeds = new long[k];
    for (int i = 0; i < k; i++) {
      seeds[i] = rng.nextLong();
    }
    SearchPrior base = priorFor(na);
    Object lock = new Object();
    SearchPrior shared = obs -> {
      synchronized (lock) {
        return base.logProbs(obs);
      }
    };
    S start = sims.get(0).save();
    List<java.util.concurrent.Future<Tree<S>>> futures = new ArrayList<>();
    List<Tree<S>> trees = new ArrayList<>();
    RuntimeException failure = null;
    boolean interrupted = false;
    try {
      for (int i = 1; i < k; i++) {
        sims.get(i).load(start);
      }
      java.util.concurrent.ExecutorService pool = pool(k);
      for (int i = 0; i < k; i++) {
        Simulator<S> sim = sims.get(i);
        Random treeRng = new Random(seeds[i]);
        int share = total / k + (i < total % k ? 1 : 0);
        futures.add(pool.submit(() -> search(sim, shared, observation, treeRng, share)));
      }
      // every tree is waited for, even after one failed or this thread was interrupted: no tree may still
      // step a simulator once this method returns
      for (java.util.concurrent.Future<Tree<S>> f : futures) {
        while (true) {
          try {
            trees.add(f.get());
            break;
          } catch (java.util.concurrent.ExecutionException e) {
            RuntimeException cause = e.getCause() instanceof RuntimeException r ? r
                : new IllegalStateException("a parallel search failed: " + e.getCause(), e.getCause());
            failure = addTo(failure, cause);
            break;
          } catch (InterruptedException e) {
            interrupted = true; // noted; the trees end within one simulation each (they are not interruptible)
          }
        }
      }
      if (interrupted) {
        failure = addTo(failure, new IllegalStateException("interrupted while the parallel searches ran"));
      }
      if (failure == null) {
        for (int i = 1; i < k; i++) {
          sims.get(i).load(start);
        }
      }
    } catch (RuntimeException e) {
      failure = addTo(failure, e);
    }
    try { // the first simulator back at the start, and the start's snapshot released, whatever happened
      sims.get(0).load(start);
    } catch (RuntimeException e) {
      failure = addTo(failure, e);
    }
    try {
      sims.get(0).discard(List.of(start));
    } catch (RuntimeException e) {
      failure = addTo(failure, e);
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (failure != null) {
      throw failure;
    }
    double[] q = new double[na];
    int[] n = new int[na];
    List<Object> expanded = new ArrayList<>(java.util.Collections.nCopies(na, null));
    double[] logPi = trees.get(0).root.logPi;
    long steps = 0;
    int nodes = 0;
    for (int a = 0; a < na; a++) {
      double sum = 0;
      for (Tree<S> t : trees) {
        if (t.root.children.get(a) != null && t.root.n[a] > 0) {
          sum += t.root.n[a] * t.root.q[a];
          n[a] += t.root.n[a];
          expanded.set(a, Boolean.TRUE);
        }
      }
      q[a] = n[a] > 0 ? sum / n[a] : Double.NaN;
    }
    for (Tree<S> t : trees) {
      steps += t.steps;
      nodes += t.nodes;
    }
    return new Decision(best(q, logPi, expanded), q, logPi.clone(), n, softValue(q, logPi, expanded), steps, nodes);
  }

  private static RuntimeException addTo(RuntimeException first, RuntimeException next) {
    if (first == null) {
      return next;
    }
    first.addSuppressed(next);
    return first;
  }

  private java.util.concurrent.ThreadPoolExecutor pool;

  /**
   * Threads for the parallel trees, kept between decisions and ended after 30 s without one (daemon threads:
   * they never hold the JVM open). Each runs its forward passes without autograd.
   */
  private synchronized java.util.concurrent.ExecutorService pool(int k) {
    if (pool == null || pool.getMaximumPoolSize() < k) {
      if (pool != null) {
        pool.shutdown();
      }
      java.util.concurrent.atomic.AtomicInteger count = new java.util.concurrent.atomic.AtomicInteger();
      pool = new java.util.concurrent.ThreadPoolExecutor(k, k, 30, java.util.concurrent.TimeUnit.SECONDS,
          new java.util.concurrent.LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(() -> {
              org.rql4j.runtime.DjlRuntime.noGradOnThisThread();
              r.run();
            }, "rql4j-mcts-tree-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
          });
      pool.allowCoreThreadTimeOut(true);
    }
    return pool;
  }

  /** One search's tree and what it cost. */
  private record Tree<S>(Node<S> root, long steps, int nodes) {}

  /** {@code simulations} simulations from the simulator's current state, which it is left in again. */
  private <S> Tree<S> search(Simulator<S> sim, SearchPrior p, float[] observation, Random rng, int simulations) {
    int na = sim.numActions();
    Node<S> root = new Node<>(0, false, na);
    root.state = sim.save();
    root.logPi = checked(p.logProbs(observation), na);
    List<S> saved = new ArrayList<>();
    saved.add(root.state);
    long[] steps = {0};
    int[] nodes = {1};
    try {
      for (int k = 0; k < simulations; k++) {
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
    return new Tree<>(root, steps[0], nodes[0]);
  }

  /** {@code argmax Q + w log pi} over the expanded children (-1 when none is). */
  private int best(double[] q, double[] logPi, List<?> children) {
    int best = -1;
    double bestScore = Double.NEGATIVE_INFINITY;
    for (int a = 0; a < q.length; a++) {
      if (children.get(a) == null) {
        continue;
      }
      double score = q[a] + priorTerm(logPi[a]);
      if (score > bestScore) {
        bestScore = score;
        best = a;
      }
    }
    return best;
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
    return softValue(node.q, node.logPi, node.children);
  }

  private double softValue(double[] q, double[] logPi, List<?> children) {
    double alpha = config.alphaHat();
    double max = Double.NEGATIVE_INFINITY;
    for (int a = 0; a < q.length; a++) {
      if (children.get(a) != null) {
        max = Math.max(max, (q[a] + priorTerm(logPi[a])) / alpha);
      }
    }
    if (max == Double.NEGATIVE_INFINITY) {
      return max;
    }
    double sum = 0;
    for (int a = 0; a < q.length; a++) {
      if (children.get(a) != null) {
        sum += StrictMath.exp((q[a] + priorTerm(logPi[a])) / alpha - max);
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
