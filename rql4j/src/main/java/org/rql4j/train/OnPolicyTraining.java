package org.rql4j.train;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Consumer;
import org.rql4j.buffer.RolloutBuffer;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.env.VectorEnv;
import org.rql4j.env.VectorStep;
import org.rql4j.learner.ResidualPpo;
import org.rql4j.learner.ResidualPpoConfig;
import org.rql4j.prior.PriorPolicy;

/**
 * Trains {@link ResidualPpo} on a vector env: rollouts of {@code nSteps} steps of every copy,
 * each step's reward shaped as Algorithm 4 says ({@code r + w log pi(a|s) - alphaHat log
 * pi_theta(a|s)}, the prior's log-prob of the action taken, as stored: unclipped for a Box, on the
 * raw observation), then scaled by the running return std when the config says so; GAE with
 * truncated episodes bootstrapped from {@code V(final observation)}; then PPO's update. The
 * networks see normalized observations when the config says so (statistics updated with every
 * reset and step, as SB3's VecNormalize). The env must autoreset in SAME_STEP mode (the final
 * observations come with the step). Progress after every rollout; checkpoints between rollouts
 * ({@link OnPolicyCheckpoint}), and on an env failure the last rollout boundary's state (learner,
 * statistics and random generator as they were then, kept in memory) is saved before the
 * {@link TrainingException}.
 */
public final class OnPolicyTraining {

  private OnPolicyTraining() {}

  /**
   * After a rollout and its update.
   *
   * @param recentEnvReturn mean env return of the last (up to) 20 finished episodes
   * @param recentBasicReturn their mean {@code info["basic_reward"]} sum (NaN when the env has none)
   * @param recentAddonReturn their mean {@code info["addon_reward"]} sum (NaN when none)
   * @param stepsPerSecond env steps per second of this segment (since the start or the resume)
   * @param trainSeconds training wall time of the whole run, segments before a resume included
   */
  public record Progress(long step, long totalSteps, int episodes, double recentEnvReturn, double recentBasicReturn,
      double recentAddonReturn, ResidualPpo.Losses losses, double stepsPerSecond, double trainSeconds, double alphaHat,
      double klToPrior) implements TrainingProgress {

    /** Without a KL budget (its two figures NaN). */
    public Progress(long step, long totalSteps, int episodes, double recentEnvReturn, double recentBasicReturn,
        double recentAddonReturn, ResidualPpo.Losses losses, double stepsPerSecond, double trainSeconds) {
      this(step, totalSteps, episodes, recentEnvReturn, recentBasicReturn, recentAddonReturn, losses, stepsPerSecond,
          trainSeconds, Double.NaN, Double.NaN);
    }

    /** The last update's total loss (NaN before the first update). */
    @Override
    public double loss() {
      return losses == null ? Double.NaN : losses.loss();
    }

    @Override
    public String line() {
      return String.format(Locale.ROOT, "step %d/%d  episodes %d  return %.1f (basic %.1f, add-on %.1f)  "
          + "pg %.4f  value %.4f  entropy %.3f  kl %.4f  clip %.2f%s  %.0f steps/s", step, totalSteps, episodes,
          recentEnvReturn, recentBasicReturn, recentAddonReturn, losses.policyLoss(), losses.valueLoss(),
          losses.entropy(), losses.approxKl(), losses.clipFraction(), Double.isNaN(alphaHat) ? ""
              : String.format(Locale.ROOT, "  alphaHat %.4g  KL to prior %.4f%s", alphaHat, klToPrior,
                  org.rql4j.learner.KlBudget.clampNote(alphaHat)), stepsPerSecond);
    }
  }

  /** As {@link #run(VectorEnv, PriorPolicy, ResidualPpo, Consumer, Checkpointing)}, no checkpoints. */
  public static Progress run(VectorEnv env, PriorPolicy prior, ResidualPpo ppo, Consumer<Progress> progress) {
    return run(env, prior, ppo, progress, null);
  }

  /**
   * Trains for {@code ppo.config().totalSteps()} env steps (rounded up to whole rollouts),
   * checkpointing every {@code checkpointing.every()} env steps (at the first rollout boundary past
   * each multiple, and at the end) and resuming from one when it says so.
   *
   * @param prior the frozen prior (needed when {@code priorWeight != 0}, else ignored)
   * @param checkpointing where and how often to save; null: never
   * @return the last progress (a resumed checkpoint that had finished: its counters, NaN losses)
   */
  public static Progress run(VectorEnv env, PriorPolicy prior, ResidualPpo ppo, Consumer<Progress> progress,
      Checkpointing checkpointing) {
    try (Interruption.Scope scope = Interruption.training()) {
      return runLoop(env, prior, ppo, progress, checkpointing);
    }
  }

  private static Progress runLoop(VectorEnv env, PriorPolicy prior, ResidualPpo ppo, Consumer<Progress> progress,
      Checkpointing checkpointing) {
    ResidualPpoConfig cfg = ppo.config();
    org.rql4j.env.SupportedSpaces.checkObservation(env.envId(), env.observationSpace());
    int n = env.numEnvs();
    if (n != cfg.numEnvs()) {
      throw new IllegalArgumentException("the env has " + n + " copies but the PPO config asks for " + cfg.numEnvs());
    }
    if (env.autoresetMode() != AutoresetMode.SAME_STEP) {
      throw new IllegalArgumentException("PPO's rollouts need the env in SAME_STEP autoreset mode (final observations "
          + "with the step), got " + env.autoresetMode() + "; make the env with AutoresetMode.SAME_STEP");
    }
    boolean usePrior = cfg.priorWeight() != 0;
    if (usePrior && prior == null) {
      throw new IllegalArgumentException("the PPO config's priorWeight is " + cfg.priorWeight() + " but no prior was "
          + "given");
    }
    if (usePrior) {
      prior.spec().checkCompatible(env.envId(), env.observationSpace(), env.actionSpace());
    }
    String priorHash;
    try {
      priorHash = usePrior ? org.rql4j.prior.PriorPackage.identity(prior.spec()) : null;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot hash the prior package for the checkpoints: " + e.getMessage(), e);
    }
    boolean discrete = env.actionSpace() instanceof Space.Discrete;
    int d = (int) env.observationSpace().flatDim();
    int aw = ppo.actionWidth();
    RolloutBuffer buf = new RolloutBuffer(cfg.nSteps(), n, d, aw);
    if (ppo.klBudget() != null) {
      if (!usePrior) {
        throw new IllegalArgumentException("a KL budget needs the prior, and none was given");
      }
      ppo.checkKlPrior(prior.spec());
    }
    // under a KL budget: the rollout's raw observations, for the KL to the prior after the update
    float[] budgetObs = ppo.klBudget() == null ? null : new float[cfg.nSteps() * n * d];
    Random rng = new Random(cfg.seed());
    long step = 0;
    int episodesBefore = 0;
    List<double[]> recentBefore = List.of();
    double secondsBefore = 0;
    if (checkpointing != null && checkpointing.resume() && TrainingCheckpoint.exists(checkpointing.dir())) {
      try {
        OnPolicyCheckpoint.Restored r = OnPolicyCheckpoint.load(checkpointing.dir(), ppo, env.envId(), priorHash);
        step = r.loop().step();
        episodesBefore = r.loop().episodes();
        recentBefore = r.loop().recent();
        secondsBefore = r.loop().trainSeconds();
        rng = r.rng();
      } catch (IOException e) {
        throw new java.io.UncheckedIOException("cannot resume from " + checkpointing.dir() + ": " + e.getMessage(), e);
      }
      if (step >= cfg.totalSteps()) { // finished before: its counters, no new losses
        double[] mean = new EpisodeTracker(n, episodesBefore, recentBefore).recentMeans();
        double nan = Double.NaN;
        return new Progress(step, cfg.totalSteps(), episodesBefore, mean[0], mean[1], mean[2],
            new ResidualPpo.Losses(nan, nan, nan, nan, nan, nan, nan), nan, secondsBefore);
      }
    }
    EpisodeTracker episodes = new EpisodeTracker(n, episodesBefore, recentBefore);
    long startStep = step;
    long nextCheckpoint = checkpointing == null ? Long.MAX_VALUE
        : (step / checkpointing.every() + 1) * checkpointing.every();
    long t0 = System.nanoTime();
    Progress last = null;
    OnPolicyCheckpoint.Loop boundary = new OnPolicyCheckpoint.Loop(step, episodesBefore, recentBefore, secondsBefore);
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      float[] obs;
      try {
        obs = ((Tensor) env.reset(cfg.seed() + step).observations()).toFloatArray();
      } catch (RuntimeException e) {
        // nothing learned in this segment yet: a checkpoint to resume from is the one there already (if any)
        throw new TrainingException("training on " + env.envId() + " could not start: the env "
            + "failed to reset (" + e.getMessage() + ")", step, e);
      }
      ppo.resetRunningReturns(); // a fresh episode in every copy (SB3's VecNormalize.reset zeroes them too)
      ppo.observe(obs);
      OnPolicyCheckpoint.Snapshot snapshot = checkpointing == null ? null : snapshot(ppo, rng);
      while (step < cfg.totalSteps()) {
        buf.reset();
        while (!buf.full()) {
          if (Interruption.requested()) { // Ctrl-C / SIGTERM: the last whole rollout is what can be saved
            if (checkpointing == null) {
              throw Interruption.stopped(env.envId(), step, null, null);
            }
            try {
              OnPolicyCheckpoint.save(checkpointing.dir(), snapshot, boundary, env.envId(), priorHash);
            } catch (IOException | RuntimeException e) {
              throw Interruption.stopped(env.envId(), step, null, "saving a checkpoint to " + checkpointing.dir()
                  + " failed (" + e.getMessage() + "); the last periodic checkpoint there (if any) can be resumed "
                  + "with --resume");
            }
            throw Interruption.stopped(env.envId(), boundary.step(), checkpointing.dir(), null);
          }
          if (budgetObs != null) {
            System.arraycopy(obs, 0, budgetObs, buf.size() * d, obs.length);
          }
          float[] netObs = ppo.networkInput(obs);
          ResidualPpo.Decision dec = ppo.actOnInput(netObs, false, rng);
          VectorStep st;
          float[] next;
          try {
            st = discrete ? env.step(longs(dec.envActions())) : env.step(Tensor.ofFloats(dec.envActions(), n, aw));
            next = ((Tensor) st.observations()).toFloatArray();
          } catch (RuntimeException e) {
            // saves the last rollout boundary's snapshot (updates happen between rollouts)
            throw failed(e, env, checkpointing, snapshot, boundary, priorHash);
          }
          float[] priorLp = new float[n];
          if (usePrior) {
            try (NDManager pm = m.newSubManager()) {
              priorLp = prior.logProb(pm.create(obs, new Shape(n, d)), discrete
                  ? pm.create(longs(dec.actions()), new Shape(n)) : pm.create(dec.actions(), new Shape(n, aw)))
                  .toFloatArray();
            }
          }
          // before V(final obs) below: SB3 normalizes terminal observations with the updated statistics
          ppo.observe(next);
          float[] shaped = new float[n];
          boolean[] done = new boolean[n];
          float[] truncValues = null;
          for (int i = 0; i < n; i++) {
            if (!Double.isFinite(st.rewards()[i])) {
              // nothing of this rollout is used; the last rollout boundary is saved, as for a dead env
              throw failed(new IllegalStateException(env.envId() + " returned the reward " + st.rewards()[i]
                  + " at env step " + step + ", which a learner cannot train on; fix the env's reward"), env,
                  checkpointing, snapshot, boundary, priorHash);
            }
            shaped[i] = (float) ResidualPpo.shapedReward(st.rewards()[i], priorLp[i], dec.logProbs()[i],
                ppo.priorWeight(), ppo.alphaHat(), cfg.survivalBonus());
            if (!Float.isFinite(shaped[i])) {
              // not saved: a diverged policy must not overwrite the last good checkpoint
              throw new TrainingException((usePrior && !Float.isFinite(priorLp[i])
                  ? "the prior " + prior.spec().label() + " gives the action taken at env step " + step + " the "
                      + "log-prob " + priorLp[i] + ": residual PPO needs a prior that gives every action a finite "
                      + "log-prob (a stochastic policy with full support)"
                  : "the policy's log-prob of its own action is " + dec.logProbs()[i] + " at env step " + step
                      + ": the policy diverged; lower the learning rate")
                  + (checkpointing == null ? "" : ". The last checkpoint in " + checkpointing.dir()
                      + " (if any) is kept."), boundary.step(), null);
            }
            done[i] = st.terminated()[i] || st.truncated()[i];
            if (st.truncated()[i] && !st.terminated()[i] && truncValues == null) {
              truncValues = ppo.values(((Tensor) st.finalObservations()).toFloatArray());
            }
          }
          buf.add(netObs, dec.actions(), ppo.scaleRewards(shaped, done), dec.values(), dec.logProbs(),
              st.terminated(), st.truncated(), truncValues);
          episodes.record(st);
          obs = next;
          step += n;
        }
        buf.computeAdvantages(ppo.values(obs), cfg.gamma(), cfg.gaeLambda());
        ResidualPpo.Losses losses = ppo.update(buf, rng);
        if (budgetObs != null) { // the KL of the updated policy on the rollout's states, then the dual step
          ppo.dualStep(ppo.klToPrior(budgetObs, prior), ppo.gradientStepsPerUpdate(buf.size()));
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        double[] mean = episodes.recentMeans();
        last = new Progress(step, cfg.totalSteps(), episodes.episodes(), mean[0], mean[1], mean[2], losses,
            (step - startStep) / seconds, secondsBefore + seconds, ppo.budgetTemperature(), ppo.budgetKl());
        progress.accept(last);
        boundary = new OnPolicyCheckpoint.Loop(step, episodes.episodes(), episodes.recent(), secondsBefore + seconds);
        if (checkpointing != null) {
          snapshot = snapshot(ppo, rng);
        }
        if (checkpointing != null && (step >= nextCheckpoint || step >= cfg.totalSteps())) {
          save(checkpointing.dir(), snapshot, boundary, env.envId(), priorHash);
          nextCheckpoint = (step / checkpointing.every() + 1) * checkpointing.every();
        }
      }
    }
    return last;
  }

  /** The TrainingException for an env failure, after saving the last rollout boundary's learner when checkpointing. */
  private static TrainingException failed(RuntimeException e, VectorEnv env,
      Checkpointing checkpointing, OnPolicyCheckpoint.Snapshot snapshot,
      OnPolicyCheckpoint.Loop boundary, String priorHash) {
    long step = boundary.step();
    String head = "training on " + env.envId() + " stopped after env step " + step + ": the env failed ("
        + e.getMessage() + ").";
    if (checkpointing == null) {
      return new TrainingException(head + " No checkpoint folder was set, so this run's learning is "
          + "lost; set one (--checkpoint-dir, or --out) to make runs resumable.", step, e);
    }
    try {
      OnPolicyCheckpoint.save(checkpointing.dir(), snapshot, boundary, env.envId(), priorHash);
      return new TrainingException(head + " Everything learned up to step " + step + " (the last "
          + "whole rollout) is saved in " + checkpointing.dir() + "; fix the env server and rerun the same command "
          + "with --resume to continue.", step, e);
    } catch (IOException | RuntimeException saveError) {
      e.addSuppressed(saveError);
      return new TrainingException(head + " Saving a checkpoint to " + checkpointing.dir()
          + " also failed (" + saveError.getMessage() + "); the last periodic checkpoint there (if any) can be "
          + "resumed with --resume.", step, e);
    }
  }

  private static OnPolicyCheckpoint.Snapshot snapshot(ResidualPpo ppo, Random rng) {
    try {
      return OnPolicyCheckpoint.Snapshot.of(ppo, rng);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot snapshot the PPO learner: " + e.getMessage(), e);
    }
  }

  private static void save(java.nio.file.Path dir, OnPolicyCheckpoint.Snapshot snapshot, OnPolicyCheckpoint.Loop loop,
      String envId, String priorHash) {
    try {
      OnPolicyCheckpoint.save(dir, snapshot, loop, envId, priorHash);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot save the PPO checkpoint in " + dir + ": " + e.getMessage(), e);
    }
  }

  private static long[] longs(float[] a) {
    long[] out = new long[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = (long) a[i];
    }
    return out;
  }
}
