package org.rql4j.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Random;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.Tensor;
import org.rql4j.env.VectorEnv;
import org.rql4j.env.VectorStep;
import org.rql4j.learner.OffPolicyLearner;
import org.rql4j.prior.PriorPackage;
import org.rql4j.prior.PriorPolicy;

/**
 * The shared collection and training loop of the off-policy learners ({@link OffPolicyLearner}:
 * residual soft Q-learning, residual SAC): act with the learner's exploration policy, store each
 * transition with what the prior says about its state and next state (computed once), and let the
 * learner train every {@code trainFrequency} env steps after {@code learningStarts}. The env's
 * reward is what the learner optimizes (the add-on reward for residual customization: use the
 * task's {@code addon} variant); {@code info["basic_reward"]} and {@code info["addon_reward"]} are
 * tracked for progress reports. Checkpoints, resume, and saving on env failure are the same for
 * every learner.
 */
public final class OffPolicyTraining {

  private OffPolicyTraining() {}

  /**
   * A progress report; returned by {@link #run} as the final one. The seconds (env, prior,
   * learner, and {@code trainSeconds}, the training loop's wall time) count the whole run, resumed
   * segments included; {@code stepsPerSecond} is this segment's.
   */
  public record Progress(long step, long totalSteps, int episodes, double recentEnvReturn, double recentBasicReturn,
      double recentAddonReturn, String explorationName, double exploration, double loss, double stepsPerSecond, double envSeconds,
      double priorSeconds, double learnerSeconds, double trainSeconds, boolean stopped, double alphaHat,
      double klToPrior, double greedyMoved) implements TrainingProgress {

    /** A report without {@code greedyMoved} (NaN): the learners and runs that do not measure it. */
    public Progress(long step, long totalSteps, int episodes, double recentEnvReturn, double recentBasicReturn,
        double recentAddonReturn, String explorationName, double exploration, double loss, double stepsPerSecond,
        double envSeconds, double priorSeconds, double learnerSeconds, double trainSeconds, boolean stopped,
        double alphaHat, double klToPrior) {
      this(step, totalSteps, episodes, recentEnvReturn, recentBasicReturn, recentAddonReturn, explorationName,
          exploration, loss, stepsPerSecond, envSeconds, priorSeconds, learnerSeconds, trainSeconds, stopped, alphaHat,
          klToPrior, Double.NaN);
    }

    /**
     * One line for logs (with a KL budget: the temperature and the KL to the prior after the loss, and for
     * Discrete actions the share of states whose most likely action is no longer the prior's).
     */
    public String line() {
      return String.format(java.util.Locale.ROOT,
          "step %d/%d  episodes %d  return %.1f (basic %.1f, add-on %.1f)  %s %.3f  loss %.4f%s  %.0f steps/s"
              + "  [env %.1fs, prior %.1fs, learner %.1fs]",
          step, totalSteps, episodes, recentEnvReturn, recentBasicReturn, recentAddonReturn, explorationName, exploration, loss,
          Double.isNaN(alphaHat) ? "" : String.format(java.util.Locale.ROOT, "  alphaHat %.4g  KL %.4f%s%s", alphaHat,
              klToPrior, Double.isNaN(greedyMoved) ? "" : String.format(java.util.Locale.ROOT, "  greedy moved %.1f%%",
                  100 * greedyMoved), org.rql4j.learner.KlBudget.clampNote(alphaHat)),
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
   * @param prior the frozen prior (null, or ignored, when the learner does not use one)
   * @param reportEvery env steps between progress reports
   */
  public static Progress run(OffPolicyLearner learner, VectorEnv env, PriorPolicy prior, Callback callback,
      long reportEvery) {
    return run(learner, env, prior, callback, reportEvery, null);
  }

  /**
   * As {@link #run(OffPolicyLearner, VectorEnv, PriorPolicy, Callback, long)}, saving
   * checkpoints as {@code checkpointing} says (null: none) and resuming from one. When the env
   * fails mid-run (e.g. a dead server), the run is saved before the {@link TrainingException}
   * that reports it, so that nothing learned is lost.
   */
  public static Progress run(OffPolicyLearner learner, VectorEnv env, PriorPolicy prior, Callback callback,
      long reportEvery, Checkpointing checkpointing) {
    try (Interruption.Scope scope = Interruption.training()) {
      return runLoop(learner, env, prior, callback, reportEvery, checkpointing);
    }
  }

  private static Progress runLoop(OffPolicyLearner learner, VectorEnv env, PriorPolicy prior, Callback callback,
      long reportEvery, Checkpointing checkpointing) {
    OffPolicyLearner.Schedule cfg = learner.schedule();
    if (env.autoresetMode() != AutoresetMode.SAME_STEP) {
      throw new IllegalArgumentException("training needs a SAME_STEP autoreset env, got " + env.autoresetMode());
    }
    learner.checkSpaces(env.envId(), env.observationSpace(), env.actionSpace());
    boolean usePrior = learner.usesPrior();
    if (usePrior && prior == null) {
      throw new IllegalArgumentException("the " + learner.kind() + " learner's priorWeight is not 0 but no prior "
          + "was given");
    }
    if (usePrior) {
      learner.checkPrior(prior.spec());
      prior.spec().checkCompatible(env.envId(), env.observationSpace(), env.actionSpace());
    }
    int n = env.numEnvs();
    int d = (int) env.observationSpace().flatDim();
    int pw = usePrior ? learner.priorWidth() : 0;
    int aw = learner.actionWidth();
    ReplayBuffer buffer = new ReplayBuffer(cfg.bufferSize(), d, aw, pw);
    Random rng = new Random(cfg.seed());
    Timer envTime = new Timer();
    Timer priorTime = new Timer();
    Timer learnerTime = new Timer();
    int restoredEpisodes = 0;
    List<double[]> restoredRecent = List.of();
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
      if (r.buffer().obsDim() != d || r.buffer().priorWidth() != pw || r.buffer().actionWidth() != aw) {
        throw new IllegalArgumentException("the checkpoint in " + checkpointing.dir() + " holds transitions of "
            + r.buffer().obsDim() + " observation values, " + r.buffer().actionWidth() + " action values and "
            + r.buffer().priorWidth() + " prior values, but this run on " + env.envId() + " has " + d + ", " + aw
            + " and " + pw + "; use a new --checkpoint-dir for this run");
      }
      buffer = r.buffer();
      rng = r.rng();
      TrainingCheckpoint.Loop l = r.loop();
      step = l.step();
      restoredEpisodes = l.episodes();
      lastLoss = l.lastLoss();
      envTime.add(l.envSeconds());
      priorTime.add(l.priorSeconds());
      learnerTime.add(l.learnerSeconds());
      wallBefore = l.wallSeconds();
      restoredRecent = l.recent();
    }
    long startStep = step;

    float[] obs;
    try (Timer.Span s = envTime.span()) {
      // a resumed run starts new episodes: the envs' state is not part of a checkpoint
      obs = ((Tensor) env.reset(step == 0 ? cfg.seed() : cfg.seed() + step).observations()).toFloatArray();
    }
    float[] priorObs = usePrior ? priorFeatures(learner, prior, obs, n, priorTime) : null;
    EpisodeTracker episodes = new EpisodeTracker(n, restoredEpisodes, restoredRecent);
    long t0 = System.nanoTime();
    long nextReport = (step / reportEvery + 1) * reportEvery;
    long every = checkpointing == null ? Long.MAX_VALUE : checkpointing.every();
    long nextCheckpoint = checkpointing == null ? Long.MAX_VALUE : (step / every + 1) * every;
    boolean stopped = false;
    while (step < cfg.totalSteps() && !stopped) {
      if (Interruption.requested()) { // Ctrl-C / SIGTERM: learner and buffer are consistent between steps
        if (checkpointing == null) {
          throw Interruption.stopped(env.envId(), step, null, null);
        }
        try {
          TrainingCheckpoint.save(checkpointing.dir(), learner, buffer, rng, loop(step, episodes, lastLoss, envTime,
              priorTime, learnerTime, wallBefore, t0), env.envId(), priorHash);
        } catch (IOException | RuntimeException e) {
          throw Interruption.stopped(env.envId(), step, null, "saving a checkpoint to " + checkpointing.dir()
              + " failed (" + e.getMessage() + "); the last periodic checkpoint there (if any) can be resumed with "
              + "--resume");
        }
        throw Interruption.stopped(env.envId(), step, checkpointing.dir(), null);
      }
      OffPolicyLearner.Actions actions;
      try (Timer.Span s = learnerTime.span()) {
        actions = learner.act(obs, priorObs, step, rng);
      }
      VectorStep st;
      float[] next;
      float[] finals = null;
      try (Timer.Span s = envTime.span()) {
        st = env.step(actions.env());
        next = ((Tensor) st.observations()).toFloatArray();
        if (st.finalObservations() != null) {
          finals = ((Tensor) st.finalObservations()).toFloatArray();
        }
      } catch (RuntimeException e) {
        // the learner and buffer are consistent here (this step added nothing): save them
        throw interrupted(e, env, step, checkpointing, learner, buffer, rng, loop(step, episodes, lastLoss,
            envTime, priorTime, learnerTime, wallBefore, t0), priorHash);
      }
      String badReward = nonFinite(st.rewards());
      if (badReward != null) {
        // nothing from this step is stored; what was learned so far is saved, as for a dead env
        throw interrupted(new IllegalStateException("it returned the reward " + badReward + ", which a learner cannot "
            + "train on; fix the env's reward"), env, step, checkpointing, learner, buffer, rng, loop(step, episodes,
            lastLoss, envTime, priorTime, learnerTime, wallBefore, t0), priorHash);
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
      float[] priorNext = null;
      float[] priorNextObs = null;
      if (usePrior) {
        priorNext = priorFeatures(learner, prior, nextState, n, priorTime);
        priorNextObs = nextState == next ? priorNext : priorFeatures(learner, prior, next, n, priorTime);
      }
      for (int i = 0; i < n; i++) {
        buffer.add(obs, i * d, actions.stored(), i * aw, (float) st.rewards()[i], nextState, i * d,
            st.terminated()[i], priorObs, i * pw, priorNext, i * pw);
      }
      episodes.record(st);
      obs = next;
      priorObs = priorNextObs;
      long before = step;
      step += n;
      learner.afterEnvSteps(before, step);
      if (step > cfg.learningStarts() && step / cfg.trainFrequency() != before / cfg.trainFrequency()) {
        try (Timer.Span s = learnerTime.span()) {
          lastLoss = learner.train(buffer, step, rng);
        }
        if (!Double.isFinite(lastLoss) && cfg.gradientSteps() > 0) {
          // a diverged learner: keep the last good checkpoint, do not overwrite it with NaN weights
          throw new TrainingException("training on " + env.envId() + " diverged at env step " + step + ": the "
              + learner.kind() + " loss is " + lastLoss + ". Lower the learning rate (or check the rewards); "
              + (checkpointing == null ? "no checkpoint folder was set."
                  : "the last checkpoint in " + checkpointing.dir() + " (before the divergence) is kept."),
              before, null);
        }
      }
      if (step >= nextReport || step >= cfg.totalSteps()) {
        nextReport = (step / reportEvery + 1) * reportEvery;
        Progress p = progress(step, startStep, cfg, episodes, learner, lastLoss, t0, wallBefore, envTime,
            priorTime, learnerTime, false);
        if (callback != null && !callback.onProgress(p)) {
          stopped = true;
        }
      }
      if (step >= nextCheckpoint || (checkpointing != null && (stopped || step >= cfg.totalSteps()))) {
        nextCheckpoint = (step / every + 1) * every;
        save(checkpointing, learner, buffer, rng, loop(step, episodes, lastLoss, envTime, priorTime, learnerTime,
            wallBefore, t0), env.envId(), priorHash);
      }
    }
    return progress(step, startStep, cfg, episodes, learner, lastLoss, t0, wallBefore, envTime, priorTime,
        learnerTime, stopped);
  }

  /** The first reward that is NaN or infinite, as text; null when all are finite. */
  private static String nonFinite(double[] rewards) {
    for (double r : rewards) {
      if (!Double.isFinite(r)) {
        return Double.toString(r);
      }
    }
    return null;
  }



  private static TrainingException interrupted(RuntimeException e, VectorEnv env, long step,
      Checkpointing checkpointing, OffPolicyLearner learner, ReplayBuffer buffer, Random rng,
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

  private static TrainingCheckpoint.Loop loop(long step, EpisodeTracker episodes, double lastLoss, Timer env,
      Timer prior, Timer learner, double wallBefore, long t0) {
    return new TrainingCheckpoint.Loop(step, episodes.episodes(), lastLoss, env.seconds(), prior.seconds(),
        learner.seconds(), wallBefore + (System.nanoTime() - t0) / 1e9, episodes.recent());
  }

  private static void save(Checkpointing checkpointing, OffPolicyLearner learner, ReplayBuffer buffer, Random rng,
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

  private static Progress progress(long step, long startStep, OffPolicyLearner.Schedule cfg,
      EpisodeTracker episodes, OffPolicyLearner l, double loss, long t0, double wallBefore, Timer env, Timer prior,
      Timer learner, boolean stopped) {
    double secs = (System.nanoTime() - t0) / 1e9;
    double[] mean = episodes.recentMeans();
    return new Progress(step, cfg.totalSteps(), episodes.episodes(), mean[0], mean[1], mean[2], l.explorationName(),
        l.exploration(step), loss,
        (step - startStep) / secs,
        env.seconds(), prior.seconds(), learner.seconds(), wallBefore + secs, stopped, l.budgetTemperature(),
        l.budgetKl(), l.budgetGreedyMoved());
  }

  private static float[] priorFeatures(OffPolicyLearner learner, PriorPolicy prior, float[] obs, int n, Timer timer) {
    try (Timer.Span s = timer.span()) {
      return learner.priorFeatures(prior, obs, n);
    }
  }
}
