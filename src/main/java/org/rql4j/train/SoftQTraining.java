package org.rql4j.train;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Random;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.InfoColumn;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.env.VectorEnv;
import org.rql4j.env.VectorStep;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.learner.ResidualSoftQLearning;
import org.rql4j.prior.PriorPolicy;

/**
 * Collects experience with a {@link ResidualSoftQLearning} learner and trains it (Algorithm 1):
 * act with {@code pi_hat} (epsilon-uniform early), store each transition with the prior's
 * {@code log pi(.|s')} computed once, copy the target every {@code targetUpdateInterval} env steps
 * while collecting, and run {@code gradientSteps} updates every {@code trainFrequency} env steps
 * after {@code learningStarts}. The env's reward is what the learner optimizes (the add-on reward
 * for residual customization: use the task's {@code addon} variant); {@code info["basic_reward"]}
 * and {@code info["addon_reward"]} are tracked for progress reports.
 */
public final class SoftQTraining {

  private SoftQTraining() {}

  /** A progress report; returned by {@link #run} as the final one. */
  public record Progress(long step, long totalSteps, int episodes, double recentEnvReturn, double recentBasicReturn,
      double recentAddonReturn, double epsilon, double loss, double stepsPerSecond, double envSeconds,
      double priorSeconds, double learnerSeconds, boolean stopped) {

    /** One line for logs. */
    public String line() {
      return String.format(java.util.Locale.ROOT,
          "step %d/%d  episodes %d  return %.1f (basic %.1f, add-on %.1f)  eps %.3f  loss %.4f  %.0f steps/s"
              + "  [env %.1fs, prior %.1fs, learner %.1fs]",
          step, totalSteps, episodes, recentEnvReturn, recentBasicReturn, recentAddonReturn, epsilon, loss,
          stepsPerSecond, envSeconds, priorSeconds, learnerSeconds);
    }
  }

  /** Observes progress; return false to stop training early. */
  @FunctionalInterface
  public interface Callback {
    boolean onProgress(Progress progress);
  }

  /**
   * Trains {@code learner} on {@code env}.
   *
   * @param prior the frozen prior (null, or ignored, when the learner's priorWeight is 0)
   * @param reportEvery env steps between progress reports
   */
  public static Progress run(ResidualSoftQLearning learner, VectorEnv env, PriorPolicy prior, Callback callback,
      long reportEvery) {
    ResidualSoftQConfig cfg = learner.config();
    if (env.autoresetMode() != AutoresetMode.SAME_STEP) {
      throw new IllegalArgumentException("training needs a SAME_STEP autoreset env, got " + env.autoresetMode());
    }
    if (!(env.actionSpace() instanceof Space.Discrete discrete) || discrete.n() != learner.nActions()) {
      throw new IllegalArgumentException("env " + env.envId() + " acts in " + env.actionSpace() + " but the learner has "
          + learner.nActions() + " discrete actions");
    }
    boolean usePrior = cfg.priorWeight() != 0;
    if (usePrior && prior == null) {
      throw new IllegalArgumentException("priorWeight is " + cfg.priorWeight() + " but no prior was given");
    }
    if (usePrior) {
      prior.spec().checkCompatible(env.envId(), env.observationSpace(), env.actionSpace());
    }
    int n = env.numEnvs();
    int d = (int) env.observationSpace().flatDim();
    int a = learner.nActions();
    long start = discrete.start();
    ReplayBuffer buffer = new ReplayBuffer(cfg.bufferSize(), d, usePrior ? a : 0);
    Random rng = new Random(cfg.seed());
    Timer envTime = new Timer();
    Timer priorTime = new Timer();
    Timer learnerTime = new Timer();

    float[] obs;
    try (Timer.Span s = envTime.span()) {
      obs = ((Tensor) env.reset(cfg.seed()).observations()).toFloatArray();
    }
    float[] logPrior = usePrior ? priorLogProbs(prior, obs, n, d, priorTime) : null;
    double[] epReturn = new double[n];
    double[] epBasic = new double[n];
    double[] epAddon = new double[n];
    Deque<double[]> recent = new ArrayDeque<>();
    int episodes = 0;
    double lastLoss = Double.NaN;
    long step = 0;
    long t0 = System.nanoTime();
    long nextReport = reportEvery;
    boolean stopped = false;
    while (step < cfg.totalSteps() && !stopped) {
      double eps = cfg.epsilon(step);
      long[] actions;
      try (Timer.Span s = learnerTime.span()) {
        actions = learner.act(obs, logPrior, eps, false, rng);
      }
      long[] envActions = actions.clone();
      if (start != 0) {
        for (int i = 0; i < n; i++) {
          envActions[i] += start;
        }
      }
      VectorStep st;
      float[] next;
      float[] finals = null;
      try (Timer.Span s = envTime.span()) {
        st = env.step(envActions);
        next = ((Tensor) st.observations()).toFloatArray();
        if (st.finalObservations() != null) {
          finals = ((Tensor) st.finalObservations()).toFloatArray();
        }
      }
      // s' of each transition: the final observation where the episode ended (SAME_STEP autoreset)
      float[] nextState = next;
      if (finals != null) {
        nextState = next.clone();
        for (int i = 0; i < n; i++) {
          if (st.done(i)) {
            System.arraycopy(finals, i * d, nextState, i * d, d);
          }
        }
      }
      float[] logPriorNext = null;
      float[] logPriorObs = null;
      if (usePrior) {
        logPriorNext = priorLogProbs(prior, nextState, n, d, priorTime);
        logPriorObs = nextState == next ? logPriorNext : priorLogProbs(prior, next, n, d, priorTime);
      }
      InfoColumn basic = st.info().get("basic_reward");
      InfoColumn addon = st.info().get("addon_reward");
      for (int i = 0; i < n; i++) {
        float[] o = java.util.Arrays.copyOfRange(obs, i * d, (i + 1) * d);
        float[] o2 = java.util.Arrays.copyOfRange(nextState, i * d, (i + 1) * d);
        float[] lp = usePrior ? java.util.Arrays.copyOfRange(logPriorNext, i * a, (i + 1) * a) : null;
        buffer.add(o, actions[i], (float) st.rewards()[i], o2, st.terminated()[i], lp);
        epReturn[i] += st.rewards()[i];
        epBasic[i] += basic == null ? Double.NaN : basic.get(i, Double.NaN);
        epAddon[i] += addon == null ? Double.NaN : addon.get(i, Double.NaN);
        if (st.done(i)) {
          episodes++;
          recent.addLast(new double[] {epReturn[i], epBasic[i], epAddon[i]});
          if (recent.size() > 20) {
            recent.removeFirst();
          }
          epReturn[i] = 0;
          epBasic[i] = 0;
          epAddon[i] = 0;
        }
      }
      obs = next;
      logPrior = logPriorObs;
      long before = step;
      step += n;
      // hard target copy every targetUpdateInterval env steps, counted while collecting
      if (step / cfg.targetUpdateInterval() != before / cfg.targetUpdateInterval()) {
        learner.syncTarget();
      }
      if (step > cfg.learningStarts() && step / cfg.trainFrequency() != before / cfg.trainFrequency()) {
        try (Timer.Span s = learnerTime.span()) {
          for (int g = 0; g < cfg.gradientSteps(); g++) {
            lastLoss = learner.update(buffer.sample(cfg.batchSize(), rng)).loss();
          }
        }
      }
      if (step >= nextReport || step >= cfg.totalSteps()) {
        nextReport += reportEvery;
        Progress p = progress(step, cfg, episodes, recent, cfg.epsilon(step), lastLoss, t0, envTime, priorTime,
            learnerTime, false);
        if (callback != null && !callback.onProgress(p)) {
          stopped = true;
        }
      }
    }
    return progress(step, cfg, episodes, recent, cfg.epsilon(step), lastLoss, t0, envTime, priorTime, learnerTime,
        stopped);
  }

  private static Progress progress(long step, ResidualSoftQConfig cfg, int episodes, Deque<double[]> recent, double eps,
      double loss, long t0, Timer env, Timer prior, Timer learner, boolean stopped) {
    double secs = (System.nanoTime() - t0) / 1e9;
    double[] mean = new double[3];
    for (double[] r : recent) {
      for (int k = 0; k < 3; k++) {
        mean[k] += r[k] / recent.size();
      }
    }
    if (recent.isEmpty()) {
      java.util.Arrays.fill(mean, Double.NaN);
    }
    return new Progress(step, cfg.totalSteps(), episodes, mean[0], mean[1], mean[2], eps, loss, step / secs,
        env.seconds(), prior.seconds(), learner.seconds(), stopped);
  }

  private static float[] priorLogProbs(PriorPolicy prior, float[] obs, int n, int d, Timer timer) {
    try (Timer.Span s = timer.span(); NDManager m = NDManager.newBaseManager("PyTorch")) {
      return prior.logProbsAll(m.create(obs, new Shape(n, d))).toFloatArray();
    }
  }
}
