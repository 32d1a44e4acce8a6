package org.rql4j.learner;

/**
 * How far the customized policy may move from the prior, instead of a hand-tuned prior weight and
 * temperature: the learner adjusts its temperature {@code alphaHat} by dual steps until the
 * customized policy's mean per-step {@code KL(pi_hat(.|s) || pi(.|s))} on the states it trains on
 * meets {@code nats}, with the prior weight moving along, {@code w = kappa * alphaHat}
 * (docs/method.md, "A KL budget instead of w and alphaHat").
 *
 * <p>With {@code kappa = 1} the customized policy is {@code pi_hat ∝ pi exp(Q_R / alphaHat)}, the
 * solution of KL-regularized RL on the add-on reward: a larger {@code alphaHat} never gives a larger
 * KL, and {@code alphaHat -> infinity} gives the prior itself, so the budget has one temperature that
 * meets it (or the lower clamp, when even the freest policy stays within it).
 *
 * @param nats the budget: mean KL per step, in nats (> 0)
 * @param kappa {@code w / alphaHat}, the prior's exponent in {@code pi_hat ∝ pi^kappa exp(Q_R / alphaHat)}
 *     (1: KL-regularized RL; other values have a KL floor above 0)
 * @param dualRate the step of {@code log alphaHat} per gradient step, times the clipped log-ratio
 *     {@code log(KL_avg / nats)} (clipped to [-1, 1])
 * @param averaging the weight of each gradient step's KL in its moving average {@code KL_avg}
 * @param minAlphaHat the temperature's lower clamp
 * @param maxAlphaHat the temperature's upper clamp
 * @param priorTemperature the temperature {@code T} of the prior the budget is measured against: the
 *     KL is to {@code pi_T ∝ pi^(1/T)} (renormalized; 1: the prior itself), and the learner customizes
 *     {@code pi_T} as its prior, so {@code pi_hat ∝ pi^(1/T) exp(Q_R / alphaHat)} with no KL floor. Above 1
 *     it flattens a nearly deterministic prior, on which a budget in nats buys a change in few states
 *     ({@link #priorTemperatureFor}). Categorical priors only (residual soft Q-learning)
 * @param greedyShare a second bound, for the deterministic policy (NaN: none): the share of states (0 to 1]
 *     in which the customized policy's most likely action may differ from the prior's. The budget bounds
 *     the stochastic policy; where the prior is unsure between actions, a small shift of probability turns
 *     its most likely action, and the deterministic policy can lose the original behaviour within the budget.
 *     With a share, the dual raises {@code alphaHat} whenever the moving average of that share is above it, as
 *     it does for a KL above the budget: it follows {@code max(KL_avg, nats * share_avg / greedyShare)}.
 *     Categorical priors only (residual soft Q-learning)
 */
public record KlBudget(double nats, double kappa, double dualRate, double averaging, double minAlphaHat,
    double maxAlphaHat, double priorTemperature, double greedyShare) {

  /** The defaults of {@link #of}. */
  public static final double DEFAULT_DUAL_RATE = 1e-3;
  /** See {@link #DEFAULT_DUAL_RATE}. */
  public static final double DEFAULT_AVERAGING = 0.01;
  /** See {@link #DEFAULT_DUAL_RATE}. */
  public static final double DEFAULT_MIN_ALPHA_HAT = 1e-3;
  /** See {@link #DEFAULT_DUAL_RATE}. */
  public static final double DEFAULT_MAX_ALPHA_HAT = 1e3;

  /** A budget measured against the prior itself ({@code priorTemperature = 1}). */
  public KlBudget(double nats, double kappa, double dualRate, double averaging, double minAlphaHat, double maxAlphaHat) {
    this(nats, kappa, dualRate, averaging, minAlphaHat, maxAlphaHat, 1.0);
  }

  /** A budget without a bound on the deterministic policy ({@code greedyShare} NaN). */
  public KlBudget(double nats, double kappa, double dualRate, double averaging, double minAlphaHat, double maxAlphaHat,
      double priorTemperature) {
    this(nats, kappa, dualRate, averaging, minAlphaHat, maxAlphaHat, priorTemperature, Double.NaN);
  }

  public KlBudget {
    require(nats > 0 && Double.isFinite(nats), "nats (the budget, > 0)", nats);
    require(priorTemperature > 0 && Double.isFinite(priorTemperature), "priorTemperature (> 0)", priorTemperature);
    require(Double.isNaN(greedyShare) || (greedyShare > 0 && greedyShare <= 1), "greedyShare (in (0, 1], or NaN: none)",
        greedyShare);
    require(kappa > 0 && Double.isFinite(kappa), "kappa (> 0)", kappa);
    require(dualRate > 0 && Double.isFinite(dualRate), "dualRate (> 0)", dualRate);
    require(averaging > 0 && averaging <= 1, "averaging (in (0, 1])", averaging);
    require(minAlphaHat > 0 && minAlphaHat < maxAlphaHat && Double.isFinite(maxAlphaHat),
        "minAlphaHat / maxAlphaHat (0 < min < max)", minAlphaHat + " / " + maxAlphaHat);
  }

  /**
   * The default budget for one action dimension (Discrete actions count as one), in nats per step:
   * chosen on the project's own tasks (docs/results.md, "A KL budget instead of w and alphaHat").
   */
  public static final double DEFAULT_NATS = 0.1;

  /**
   * The default budget for an env's action space: {@link #DEFAULT_NATS} times the
   * cube root of its dimensions (1 for Discrete, the flat size of a Box), rounded to two decimals (0.1
   * for one dimension, 0.18 for six, 0.2 for eight), {@code kappa = 1}, the default dual settings. The
   * budget grows more slowly than the dimensions: on the project's tasks six action dimensions (HalfCheetah)
   * lost their original behaviour at 0.245 nats and kept it at 0.18 (docs/results.md).
   */
  public static KlBudget defaultFor(org.rql4j.env.Space actionSpace) {
    long dims = actionSpace instanceof org.rql4j.env.Space.Discrete ? 1 : Math.max(1, actionSpace.flatDim());
    // rounded, so that budgets compare exactly and read as written
    return of(StrictMath.rint(DEFAULT_NATS * StrictMath.cbrt(dims) * 100) / 100);
  }

  /**
   * The median gap, in nats, between a categorical prior's two most likely actions on its own states above
   * which the default budget flattens the prior ({@link #priorTemperatureFor}).
   */
  public static final double SURE_GAP_NATS = 3.0;

  /**
   * The prior temperature of the default budget for a categorical prior whose median log-probability gap
   * between its two most likely actions, on its own states, is {@code medianGap} nats: 1 up to
   * {@link #SURE_GAP_NATS}, above it {@code medianGap / SURE_GAP_NATS} (two significant digits), which
   * brings the flattened prior's median gap down to about {@link #SURE_GAP_NATS}. A behaviour-cloned
   * prior is sure of its action almost everywhere (a gap of 12 nats on the project's CartPole one), so that
   * moving off its action costs as much in a state where the action matters as in one where it does not,
   * and a budget in nats buys a change in few states.
   */
  public static double priorTemperatureFor(double medianGap) {
    if (!(medianGap > SURE_GAP_NATS) || !Double.isFinite(medianGap)) {
      return 1.0;
    }
    return new java.math.BigDecimal(medianGap / SURE_GAP_NATS).round(new java.math.MathContext(2)).doubleValue();
  }

  /**
   * What a progress line adds after a temperature at one of the default clamps: at the upper one, the
   * budget (or a greedy share) is below what the policy reaches (raise it; with {@code kappa != 1} the KL has a
   * floor; a greedy share cannot be met where the prior ties between actions and {@code Q_R} prefers another); at the
   * lower one, even the freest policy stays within it. Empty otherwise.
   */
  public static String clampNote(double alphaHat) {
    if (alphaHat >= DEFAULT_MAX_ALPHA_HAT * (1 - 1e-9)) {
      return " (at its upper clamp: the budget, or the greedy share, is below what the policy reaches; raise it)";
    }
    if (alphaHat <= DEFAULT_MIN_ALPHA_HAT * (1 + 1e-9)) {
      return " (at its lower clamp: the add-on does not pull the policy this far from the prior)";
    }
    return "";
  }

  /** A budget of {@code nats} per step with {@code kappa = 1} and the default dual settings. */
  public static KlBudget of(double nats) {
    return new KlBudget(nats, 1.0, DEFAULT_DUAL_RATE, DEFAULT_AVERAGING, DEFAULT_MIN_ALPHA_HAT, DEFAULT_MAX_ALPHA_HAT);
  }

  /** This budget with another {@code kappa}. */
  public KlBudget withKappa(double kappa) {
    return new KlBudget(nats, kappa, dualRate, averaging, minAlphaHat, maxAlphaHat, priorTemperature, greedyShare);
  }

  /** This budget measured against the prior at temperature {@code t} (see the record's doc). */
  public KlBudget withPriorTemperature(double t) {
    return new KlBudget(nats, kappa, dualRate, averaging, minAlphaHat, maxAlphaHat, t, greedyShare);
  }

  /**
   * This budget with a bound on the deterministic policy: at most {@code share} of the states (in (0, 1]) with a
   * most likely action other than the prior's (NaN: none; see the record's doc). Residual soft Q-learning only.
   */
  public KlBudget withGreedyShare(double share) {
    return new KlBudget(nats, kappa, dualRate, averaging, minAlphaHat, maxAlphaHat, priorTemperature, share);
  }

  /** Whether this budget bounds the deterministic policy too ({@link #greedyShare} set). */
  public boolean boundsGreedy() {
    return !Double.isNaN(greedyShare);
  }

  /**
   * The categorical prior's log-probabilities at this budget's prior temperature: {@code log_softmax(logPi / T)}
   * per row of {@code n} actions, in place (in double, stored as float); unchanged at {@code T = 1}.
   */
  public float[] temperPrior(float[] logPi, int n) {
    if (priorTemperature == 1.0) {
      return logPi;
    }
    for (int row = 0; row + n <= logPi.length; row += n) {
      double max = Double.NEGATIVE_INFINITY;
      for (int a = 0; a < n; a++) {
        max = Math.max(max, logPi[row + a] / priorTemperature);
      }
      double sum = 0;
      for (int a = 0; a < n; a++) {
        sum += StrictMath.exp(logPi[row + a] / priorTemperature - max);
      }
      double log = max + StrictMath.log(sum);
      for (int a = 0; a < n; a++) {
        logPi[row + a] = (float) (logPi[row + a] / priorTemperature - log);
      }
    }
    return logPi;
  }

  /**
   * Refuses this budget for a learner that measures the KL against its prior itself (residual SAC and PPO):
   * a prior temperature other than 1 flattens a categorical prior, which only residual soft Q-learning does.
   */
  void requirePriorItself(String learner) {
    if (boundsGreedy()) {
      throw new IllegalArgumentException("a KL budget's greedy share (" + greedyShare + ") bounds the most likely "
          + "action of a categorical policy; " + learner + " has no such bound: leave it out");
    }
    if (priorTemperature != 1.0) {
      throw new IllegalArgumentException("a KL budget's prior temperature (" + priorTemperature + ") flattens a "
          + "categorical prior; " + learner + " measures the budget against its prior itself: use prior temperature 1");
    }
  }

  /**
   * One dual step: the new temperature from the current one and the KL's moving average. The KL
   * above the budget raises {@code alphaHat} (towards the prior), below lowers it; the step is
   * {@code dualRate * clip(log(klAverage / nats), -1, 1)} in {@code log alphaHat}, then clamped.
   */
  public double step(double alphaHat, double klAverage) {
    return step(alphaHat, klAverage, 1);
  }

  /**
   * {@code times} dual steps at once, for a learner that measures the KL once per {@code times}
   * gradient steps (PPO: once per update): the step in {@code log alphaHat} is {@code times} as large.
   */
  public double step(double alphaHat, double klAverage, int times) {
    double ratio = StrictMath.log(Math.max(klAverage, 1e-12) / nats);
    double next = StrictMath.exp(StrictMath.log(alphaHat) + times * dualRate * Math.max(-1.0, Math.min(1.0, ratio)));
    return Math.max(minAlphaHat, Math.min(maxAlphaHat, next));
  }

  /** The weight of each gradient step's KL in the reported average ({@link Dual#klReported}): about the last 1000 steps. */
  public static final double REPORT_AVERAGING = 1e-3;

  /**
   * Refuses a checkpoint made under another budget than {@code budget} (or with one when this run has
   * none, or the other way round).
   */
  static void checkSaved(com.google.gson.JsonObject values, KlBudget budget) throws java.io.IOException {
    boolean saved = values.has("kl_budget");
    double savedT = values.has("kl_budget.prior_temperature") ? values.get("kl_budget.prior_temperature").getAsDouble() : 1;
    double savedShare = values.has("kl_budget.greedy_share") ? values.get("kl_budget.greedy_share").getAsDouble()
        : Double.NaN;
    if (saved != (budget != null) || (saved && (values.get("kl_budget").getAsDouble() != budget.nats()
        || values.get("kl_budget.kappa").getAsDouble() != budget.kappa() || savedT != budget.priorTemperature()
        || Double.compare(savedShare, budget.greedyShare()) != 0))) {
      throw new java.io.IOException("the checkpoint was made " + (saved ? "with a KL budget of "
          + values.get("kl_budget").getAsDouble() + " nats (kappa " + values.get("kl_budget.kappa").getAsDouble()
          + ", prior temperature " + savedT + shareText(savedShare) + ")"
          : "without a KL budget") + ", this run has " + (budget == null ? "none" : budget.nats() + " nats (kappa "
          + budget.kappa() + ", prior temperature " + budget.priorTemperature() + shareText(budget.greedyShare()) + ")")
          + ": resume with the same budget, or start a new run");
    }
  }

  private static String shareText(double share) {
    return Double.isNaN(share) ? "" : ", greedy share " + share;
  }

  /**
   * The moving average after one more measured KL (the first measurement starts it), measured once per
   * {@code times} gradient steps: weight {@code 1 - (1 - averaging)^times}.
   */
  double average(double klAverage, double kl, int times) {
    return average(klAverage, kl, averaging, times);
  }

  private static double average(double previous, double kl, double weightPerStep, int times) {
    double weight = times == 1 ? weightPerStep : 1 - StrictMath.pow(1 - weightPerStep, times);
    return Double.isNaN(previous) ? kl : previous + weight * (kl - previous);
  }

  /**
   * A learner's dual state under a budget: the temperature the dual steps have set, the KL's moving
   * average they follow, and a slower average for reports (progress, metrics.csv: about the last 1000
   * gradient steps, so that one noisy stretch does not read as the run's KL). Not thread-safe.
   */
  public static final class Dual {

    private final KlBudget budget;
    private double alphaHat;
    private double klAverage = Double.NaN;
    private double klReported = Double.NaN;
    // the share of states whose most likely action moved (categorical policies): followed with a greedy share
    private double movedAverage = Double.NaN;
    private double movedReported = Double.NaN;

    /** Starts at {@code alphaHat}, clamped to the budget's range. */
    public Dual(KlBudget budget, double alphaHat) {
      this.budget = java.util.Objects.requireNonNull(budget, "budget");
      setAlphaHat(alphaHat);
    }

    public KlBudget budget() {
      return budget;
    }

    /** The temperature in force. */
    public double alphaHat() {
      return alphaHat;
    }

    /** The prior weight in force, {@code kappa * alphaHat}. */
    public double priorWeight() {
      return budget.kappa() * alphaHat;
    }

    /** The moving average of the measured KL that the dual steps follow (NaN before the first measurement). */
    public double klAverage() {
      return klAverage;
    }

    /** The slower average of the measured KL that reports show (NaN before the first measurement). */
    public double klReported() {
      return klReported;
    }

    /** The slower average of the share of states whose most likely action moved (NaN before one was measured). */
    public double movedReported() {
      return movedReported;
    }

    /** The moving average of that share that the dual steps follow under a greedy share (NaN before one). */
    public double movedAverage() {
      return movedAverage;
    }

    /** Sets the temperature (clamped to the budget's range): a start, or a test's. */
    public void setAlphaHat(double value) {
      alphaHat = Math.max(budget.minAlphaHat(), Math.min(budget.maxAlphaHat(), value));
    }

    /**
     * One measured KL, as of {@code times} gradient steps (1 for the off-policy learners; PPO: the update's),
     * into both averages; then the dual step.
     */
    public void observe(double kl, int times) {
      observe(kl, Double.NaN, times);
    }

    /**
     * As {@link #observe(double, int)}, with the share of the states whose most likely action is not the
     * prior's ({@code moved}; NaN: not measured): under a greedy share the dual step follows whichever of the
     * KL and the share is further above its bound ({@code max(KL_avg, nats * moved_avg / greedyShare)}).
     */
    public void observe(double kl, double moved, int times) {
      if (!Double.isFinite(kl)) { // a KL that could not be measured (e.g. a diverged network) moves nothing
        return;
      }
      klAverage = budget.average(klAverage, kl, times);
      klReported = average(klReported, kl, REPORT_AVERAGING, times);
      if (!Double.isNaN(moved)) {
        movedAverage = budget.average(movedAverage, moved, times);
        movedReported = average(movedReported, moved, REPORT_AVERAGING, times);
      }
      double pressure = budget.boundsGreedy() && !Double.isNaN(movedAverage)
          ? Math.max(klAverage, budget.nats() * movedAverage / budget.greedyShare()) : klAverage;
      alphaHat = budget.step(alphaHat, pressure, times);
    }

    /** Records the budget and this state in a checkpoint's values. */
    void save(com.google.gson.JsonObject values) {
      values.addProperty("kl_budget", budget.nats());
      values.addProperty("kl_budget.kappa", budget.kappa());
      values.addProperty("kl_budget.prior_temperature", budget.priorTemperature());
      if (budget.boundsGreedy()) {
        values.addProperty("kl_budget.greedy_share", budget.greedyShare());
      }
      values.addProperty("moved_average", movedAverage);
      values.addProperty("moved_reported", movedReported);
      values.addProperty("alpha_hat", alphaHat);
      values.addProperty("kl_average", klAverage);
      values.addProperty("kl_reported", klReported);
    }

    /** What {@link #save} recorded, after {@link #checkSaved}. */
    void restore(com.google.gson.JsonObject values) throws java.io.IOException {
      checkSaved(values, budget);
      alphaHat = values.get("alpha_hat").getAsDouble();
      klAverage = number(values, "kl_average");
      klReported = number(values, "kl_reported");
      movedAverage = number(values, "moved_average");
      movedReported = number(values, "moved_reported");
    }

    private static double number(com.google.gson.JsonObject values, String key) {
      com.google.gson.JsonElement e = values.get(key);
      return e == null || e.isJsonNull() || (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) ? Double.NaN
          : e.getAsDouble();
    }
  }

  /** Saves {@code dual} (nothing without a budget). */
  static void save(com.google.gson.JsonObject values, Dual dual) {
    if (dual != null) {
      dual.save(values);
    }
  }

  /** Restores {@code dual} from a checkpoint's values, or refuses a checkpoint of another budget. */
  static void restore(com.google.gson.JsonObject values, Dual dual) throws java.io.IOException {
    if (dual == null) {
      checkSaved(values, null);
    } else {
      dual.restore(values);
    }
  }

  private static void require(boolean ok, String name, Object value) {
    if (!ok) {
      throw new IllegalArgumentException("KlBudget." + name + " is out of range: " + value);
    }
  }
}
