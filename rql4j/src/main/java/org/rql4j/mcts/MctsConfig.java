package org.rql4j.mcts;

/**
 * Settings of {@link ResidualMaxEntMcts} (method.md, Algorithm 3).
 *
 * @param priorWeight {@code w}: weight of {@code log pi(a|s)} in selection, backup and the final choice
 * @param alphaHat the temperature of the soft backup and of the selection softmax
 * @param eps exploration: {@code lambda = min(1, eps |A| / log(1 + N(s)))} of uniform mixing
 * @param simulations simulations per decision
 * @param horizon steps from the root that a simulation (tree path plus prior rollout) looks ahead
 * @param gamma discount
 * @param uniformPrior the plain max-ent MCTS baseline: {@code log pi = -log |A|} and uniform rollouts
 */
public record MctsConfig(double priorWeight, double alphaHat, double eps, int simulations, int horizon, double gamma,
    boolean uniformPrior) {

  public MctsConfig {
    require(priorWeight >= 0 && Double.isFinite(priorWeight), "priorWeight", priorWeight);
    require(alphaHat > 0 && Double.isFinite(alphaHat), "alphaHat", alphaHat);
    require(eps >= 0 && Double.isFinite(eps), "eps", eps);
    require(simulations >= 1, "simulations", simulations);
    require(horizon >= 1, "horizon", horizon);
    require(gamma >= 0 && gamma <= 1, "gamma", gamma);
  }

  private static void require(boolean ok, String name, double value) {
    if (!ok) {
      throw new IllegalArgumentException("MCTS setting " + name + " is out of range: " + value + " (see "
          + "MctsConfig's documentation)");
    }
  }

  /** method.md's reference defaults: eps 1, alphaHat 1, w 1, 150 simulations, horizon 6, gamma 0.8; residual. */
  public static MctsConfig reference() {
    return new MctsConfig(1, 1, 1, 150, 6, 0.8, false);
  }

  /** The plain max-ent MCTS baseline with these settings (uniform prior; it searches the total reward). */
  public MctsConfig plain() {
    return new MctsConfig(priorWeight, alphaHat, eps, simulations, horizon, gamma, true);
  }

  public MctsConfig withSimulations(int v) {
    return new MctsConfig(priorWeight, alphaHat, eps, v, horizon, gamma, uniformPrior);
  }

  public MctsConfig withHorizon(int v) {
    return new MctsConfig(priorWeight, alphaHat, eps, simulations, v, gamma, uniformPrior);
  }

  public MctsConfig withPriorWeight(double v) {
    return new MctsConfig(v, alphaHat, eps, simulations, horizon, gamma, uniformPrior);
  }

  public MctsConfig withAlphaHat(double v) {
    return new MctsConfig(priorWeight, v, eps, simulations, horizon, gamma, uniformPrior);
  }

  public MctsConfig withGamma(double v) {
    return new MctsConfig(priorWeight, alphaHat, eps, simulations, horizon, v, uniformPrior);
  }
}
