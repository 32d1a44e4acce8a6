package org.rql4j.train;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
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
 * pi_theta(a|s)}, the prior's log-prob of the action taken, as stored: unclipped for a Box), GAE
 * with truncated episodes bootstrapped from {@code V(final observation)}, then PPO's update. The env
 * must autoreset in SAME_STEP mode (the final observations come with the step). Progress after
 * every rollout. Not yet resumable (the off-policy loop's checkpoints are not wired here).
 */
public final class OnPolicyTraining {

  private OnPolicyTraining() {}

  /**
   * After a rollout and its update.
   *
   * @param recentEnvReturn mean env return of the last (up to) 20 finished episodes
   * @param recentBasicReturn their mean {@code info["basic_reward"]} sum (NaN when the env has none)
   * @param recentAddonReturn their mean {@code info["addon_reward"]} sum (NaN when none)
   */
  public record Progress(long step, long totalSteps, int episodes, double recentEnvReturn, double recentBasicReturn,
      double recentAddonReturn, ResidualPpo.Losses losses, double stepsPerSecond) {

    public String line() {
      return String.format(Locale.ROOT, "step %d/%d  episodes %d  return %.1f (basic %.1f, add-on %.1f)  "
          + "pg %.4f  value %.4f  entropy %.3f  kl %.4f  clip %.2f  %.0f steps/s", step, totalSteps, episodes,
          recentEnvReturn, recentBasicReturn, recentAddonReturn, losses.policyLoss(), losses.valueLoss(),
          losses.entropy(), losses.approxKl(), losses.clipFraction(), stepsPerSecond);
    }
  }

  /**
   * Trains for {@code ppo.config().totalSteps()} env steps (rounded up to whole rollouts).
   *
   * @param prior the frozen prior (needed when {@code priorWeight != 0}, else ignored)
   * @return the last progress
   */
  public static Progress run(VectorEnv env, PriorPolicy prior, ResidualPpo ppo, Consumer<Progress> progress) {
    ResidualPpoConfig cfg = ppo.config();
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
    boolean discrete = env.actionSpace() instanceof Space.Discrete;
    int d = (int) env.observationSpace().flatDim();
    int aw = ppo.actionWidth();
    RolloutBuffer buf = new RolloutBuffer(cfg.nSteps(), n, d, aw);
    Random rng = new Random(cfg.seed());
    EpisodeTracker episodes = new EpisodeTracker(n, 0, java.util.List.of());
    long step = 0;
    long t0 = System.nanoTime();
    Progress last = null;
    float[] obs = ((Tensor) env.reset(cfg.seed()).observations()).toFloatArray();
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      while (step < cfg.totalSteps()) {
        buf.reset();
        while (!buf.full()) {
          ResidualPpo.Decision dec = ppo.act(obs, false, rng);
          VectorStep st;
          if (discrete) {
            st = env.step(longs(dec.envActions()));
          } else {
            st = env.step(Tensor.ofFloats(dec.envActions(), n, aw));
          }
          float[] next = ((Tensor) st.observations()).toFloatArray();
          float[] priorLp = new float[n];
          if (usePrior) {
            try (NDManager pm = m.newSubManager()) {
              priorLp = prior.logProb(pm.create(obs, new Shape(n, d)), discrete
                  ? pm.create(longs(dec.actions()), new Shape(n)) : pm.create(dec.actions(), new Shape(n, aw)))
                  .toFloatArray();
            }
          }
          float[] shaped = new float[n];
          float[] truncValues = null;
          for (int i = 0; i < n; i++) {
            if (!Double.isFinite(st.rewards()[i])) {
              throw new IllegalStateException(env.envId() + " returned the reward " + st.rewards()[i] + " at env step "
                  + step + "; a learner cannot train on it: fix the env's reward");
            }
            shaped[i] = (float) ResidualPpo.shapedReward(st.rewards()[i], priorLp[i], dec.logProbs()[i],
                cfg.priorWeight(), cfg.alphaHat());
            if (!Float.isFinite(shaped[i])) {
              throw new IllegalStateException(usePrior && !Float.isFinite(priorLp[i])
                  ? "the prior " + prior.spec().label() + " gives the action taken at env step " + step + " the "
                      + "log-prob " + priorLp[i] + ": residual PPO needs a prior that gives every action a finite "
                      + "log-prob (a stochastic policy with full support)"
                  : "the policy's log-prob of its own action is " + dec.logProbs()[i] + " at env step " + step
                      + ": the policy diverged; lower the learning rate");
            }
            if (st.truncated()[i] && !st.terminated()[i] && truncValues == null) {
              truncValues = ppo.values(((Tensor) st.finalObservations()).toFloatArray());
            }
          }
          buf.add(obs, dec.actions(), shaped, dec.values(), dec.logProbs(), st.terminated(), st.truncated(),
              truncValues);
          episodes.record(st);
          obs = next;
          step += n;
        }
        buf.computeAdvantages(ppo.values(obs), cfg.gamma(), cfg.gaeLambda());
        ResidualPpo.Losses losses = ppo.update(buf, rng);
        double seconds = (System.nanoTime() - t0) / 1e9;
        double[] mean = episodes.recentMeans();
        last = new Progress(step, cfg.totalSteps(), episodes.episodes(), mean[0], mean[1], mean[2], losses,
            step / seconds);
        progress.accept(last);
      }
    }
    return last;
  }

  private static long[] longs(float[] a) {
    long[] out = new long[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = (long) a[i];
    }
    return out;
  }
}
