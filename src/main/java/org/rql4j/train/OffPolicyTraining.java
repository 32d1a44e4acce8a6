package org.rql4j.train;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
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
import org.rql4j.prior.PriorPackage;
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
   * Where and how often a run saves {@link TrainingCheckpoint}s.
   *
   * @param dir the checkpoint folder
   * @param every env steps between checkpoints (one is also saved at the end, when a callback
   *     stops the run, and when the env fails)
   * @param resume continue from the checkpoint in {@code dir} if there is one; without it a run
   *     refuses to start over an existing checkpoint (it would be overwritten)
   */
  public record Checkpointing(Path dir, long every, boolean resume) {
    public Checkpointing {
      java.util.Objects.requireNonNull(dir, "dir");
      if (every <= 0) {
        throw new IllegalArgumentException("checkpoint interval must be > 0 env steps, got " + every);
      }
    }

    /**
     * Refuses, before anything is trained or written, a folder that is not a checkpoint folder
     * and a fresh start over an existing checkpoint (it would be overwritten).
     */
    public void checkStartable() throws IOException {
      TrainingCheckpoint.checkUsable(dir);
      if (!resume && TrainingCheckpoint.exists(dir)) {
        throw new IllegalArgumentException("checkpoint folder " + dir + " already holds a checkpoint; resume it "
            + "(--resume), or choose another --out / --checkpoint-dir (or delete it) to start over");
      }
    }
  }

  /**
   * Trains {@code learner} on {@code env}.
   *
   * @param prior the frozen prior (null, or ignored, when the learner's priorWeight is 0)
   * @param reportEvery env steps between progress reports
   */
  public static Progress run(ResidualSoftQLearning learner, VectorEnv env, PriorPolicy prior, Callback callback,
      long reportEvery) {
    return run(learner, env, prior, callback, reportEvery, null);
  }

  /**
   * As {@link #run(ResidualSoftQLearning, VectorEnv, PriorPolicy, Callback, long)}, saving
   * checkpoints as {@code checkpointing} says (null: none) and resuming from one. When the env
   * fails mid-run (e.g. a dead server), the run is saved before the {@link TrainingException}
   * that reports it, so that nothing learned is lost.
   */
  public static Progress run(ResidualSoftQLearning learner, VectorEnv env, PriorPolicy prior, Callback callback,
      long reportEvery, Checkpointing checkpointing) {
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
    Deque<double[]> recent = new ArrayDeque<>();
    int episodes = 0;
    double lastLoss = Double.NaN;
    long step = 0;
    double wallBefore = 0;
    String priorHash = usePrior ? priorHash(prior) : null;
    if (checkpointing != null) {
      try {
        checkpointing.checkStartable();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the checkpoint folder " + checkpointing.dir() + ": " + e, e);
      }
    }
    if (checkpointing != null && TrainingCheckpoint.exists(checkpointing.dir())) {
      TrainingCheckpoint.Restored r;
      try {
        r = TrainingCheckpoint.load(checkpointing.dir(), learner, env.envId(), priorHash);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the checkpoint in " + checkpointing.dir() + ": " + e.getMessage(), e);
      }
      if (r.buffer().obsDim() != d || r.buffer().priorWidth() != buffer.priorWidth()) {
        throw new IllegalArgumentException("the checkpoint in " + checkpointing.dir() + " holds transitions of "
            + r.buffer().obsDim() + " observation values, but " + env.envId() + " has " + d);
      }
      buffer = r.buffer();
      rng = r.rng();
      TrainingCheckpoint.Loop l = r.loop();
      step = l.step();
      episodes = l.episodes();
      lastLoss = l.lastLoss();
      envTime.add(l.envSeconds());
      priorTime.add(l.priorSeconds());
      learnerTime.add(l.learnerSeconds());
      wallBefore = l.wallSeconds();
      recent.addAll(l.recent());
    }
    long startStep = step;

    float[] obs;
    try (Timer.Span s = envTime.span()) {
      // a resumed run starts new episodes: the envs' state is not part of a checkpoint
      obs = ((Tensor) env.reset(step == 0 ? cfg.seed() : cfg.seed() + step).observations()).toFloatArray();
    }
    float[] logPrior = usePrior ? priorLogProbs(prior, obs, n, d, priorTime) : null;
    double[] epReturn = new double[n];
    double[] epBasic = new double[n];
    double[] epAddon = new double[n];
    long t0 = System.nanoTime();
    long nextReport = (step / reportEvery + 1) * reportEvery;
    long every = checkpointing == null ? Long.MAX_VALUE : checkpointing.every();
    long nextCheckpoint = checkpointing == null ? Long.MAX_VALUE : (step / every + 1) * every;
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
      } catch (RuntimeException e) {
        // the learner and buffer are consistent here (this step added nothing): save them
        throw interrupted(e, env, step, checkpointing, learner, buffer, rng, loop(step, episodes, lastLoss,
            envTime, priorTime, learnerTime, wallBefore, t0, recent), priorHash);
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
        nextReport = (step / reportEvery + 1) * reportEvery;
        Progress p = progress(step, startStep, cfg, episodes, recent, cfg.epsilon(step), lastLoss, t0, envTime,
            priorTime, learnerTime, false);
        if (callback != null && !callback.onProgress(p)) {
          stopped = true;
        }
      }
      if (step >= nextCheckpoint || (checkpointing != null && (stopped || step >= cfg.totalSteps()))) {
        nextCheckpoint = (step / every + 1) * every;
        save(checkpointing, learner, buffer, rng, loop(step, episodes, lastLoss, envTime, priorTime, learnerTime,
            wallBefore, t0, recent), env.envId(), priorHash);
      }
    }
    return progress(step, startStep, cfg, episodes, recent, cfg.epsilon(step), lastLoss, t0, envTime, priorTime,
        learnerTime, stopped);
  }

  /** Raised when the env fails mid-run; says where the run was saved and how to resume it. */
  public static final class TrainingException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final long step;

    TrainingException(String message, long step, Throwable cause) {
      super(message, cause);
      this.step = step;
    }

    /** Env steps completed (and saved, when checkpointing) before the failure. */
    public long step() {
      return step;
    }
  }

  private static TrainingException interrupted(RuntimeException e, VectorEnv env, long step,
      Checkpointing checkpointing, ResidualSoftQLearning learner, ReplayBuffer buffer, Random rng,
      TrainingCheckpoint.Loop loop, String priorHash) {
    String head = "training on " + env.envId() + " stopped at env step " + step + ": the env failed (" + e.getMessage()
        + ").";
    if (checkpointing == null) {
      return new TrainingException(head + " No checkpoint folder was set, so this run's learning is lost; "
          + "set one (--checkpoint-dir, or --out) to make runs resumable.", step, e);
    }
    try {
      TrainingCheckpoint.save(checkpointing.dir(), learner, buffer, rng, loop, env.envId(), priorHash);
      return new TrainingException(head + " Everything learned up to step " + step + " is saved in "
          + checkpointing.dir() + "; fix the env server and rerun the same command with --resume to continue.",
          step, e);
    } catch (IOException | RuntimeException saveError) {
      e.addSuppressed(saveError);
      return new TrainingException(head + " Saving a checkpoint to " + checkpointing.dir() + " also failed ("
          + saveError.getMessage() + "); the last periodic checkpoint there (if any) can be resumed with --resume.",
          step, e);
    }
  }

  private static TrainingCheckpoint.Loop loop(long step, int episodes, double lastLoss, Timer env, Timer prior,
      Timer learner, double wallBefore, long t0, Deque<double[]> recent) {
    return new TrainingCheckpoint.Loop(step, episodes, lastLoss, env.seconds(), prior.seconds(), learner.seconds(),
        wallBefore + (System.nanoTime() - t0) / 1e9, new ArrayList<>(recent));
  }

  private static void save(Checkpointing checkpointing, ResidualSoftQLearning learner, ReplayBuffer buffer, Random rng,
      TrainingCheckpoint.Loop loop, String envId, String priorHash) {
    try {
      TrainingCheckpoint.save(checkpointing.dir(), learner, buffer, rng, loop, envId, priorHash);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot save a training checkpoint to " + checkpointing.dir() + ": "
          + e.getMessage() + " (training stopped at env step " + loop.step() + "; free disk space or choose another "
          + "--checkpoint-dir, then rerun with --resume to continue from the previous checkpoint)", e);
    }
  }

  private static String priorHash(PriorPolicy prior) {
    try {
      return PriorPackage.identity(prior.spec());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the prior package " + prior.spec().packageDir() + ": "
          + e.getMessage(), e);
    }
  }

  private static Progress progress(long step, long startStep, ResidualSoftQConfig cfg, int episodes,
      Deque<double[]> recent, double eps, double loss, long t0, Timer env, Timer prior, Timer learner,
      boolean stopped) {
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
    return new Progress(step, cfg.totalSteps(), episodes, mean[0], mean[1], mean[2], eps, loss,
        (step - startStep) / secs,
        env.seconds(), prior.seconds(), learner.seconds(), stopped);
  }

  private static float[] priorLogProbs(PriorPolicy prior, float[] obs, int n, int d, Timer timer) {
    try (Timer.Span s = timer.span(); NDManager m = NDManager.newBaseManager("PyTorch")) {
      return prior.logProbsAll(m.create(obs, new Shape(n, d))).toFloatArray();
    }
  }
}
