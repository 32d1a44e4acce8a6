package org.rql4j.mcts;

import java.util.Collection;
import java.util.List;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.InfoColumn;
import org.rql4j.env.Snapshottable;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.env.VectorEnv;
import org.rql4j.env.VectorStep;

/**
 * A {@link Simulator} over copy 0 of a one-copy vector env without autoreset whose transport can
 * snapshot (the gRPC env server's deep copies). The search's reward is an info entry
 * ({@code addon_reward} for residual search) or, with a null key, the env's own reward (the total
 * variant's, for the plain baseline).
 */
public final class EnvSimulator implements Simulator<String> {

  private final VectorEnv env;
  private final Snapshottable snapshots;
  private final String rewardKey;
  private final int numActions;

  public EnvSimulator(VectorEnv env, String rewardKey) {
    if (!(env instanceof Snapshottable s)) {
      throw new IllegalArgumentException(env.envId() + " is served by a transport without snapshots ("
          + env.getClass().getSimpleName() + "); tree search needs one that can snapshot and restore");
    }
    if (env.numEnvs() != 1 || env.autoresetMode() != AutoresetMode.DISABLED) {
      throw new IllegalArgumentException("tree search steps one copy without autoreset; got " + env.numEnvs()
          + " copies of " + env.envId() + " in " + env.autoresetMode() + " mode");
    }
    if (!(env.actionSpace() instanceof Space.Discrete d) || d.start() != 0) {
      throw new IllegalArgumentException("tree search needs Discrete actions from 0; " + env.envId() + " has "
          + env.actionSpace());
    }
    org.rql4j.env.SupportedSpaces.checkObservation(env.envId(), env.observationSpace());
    this.env = env;
    this.snapshots = s;
    this.rewardKey = rewardKey;
    this.numActions = (int) ((Space.Discrete) env.actionSpace()).n();
  }

  @Override
  public int numActions() {
    return numActions;
  }

  @Override
  public String save() {
    return snapshots.snapshot(0);
  }

  @Override
  public void load(String state) {
    snapshots.restore(0, state);
  }

  @Override
  public void discard(Collection<String> states) {
    snapshots.releaseSnapshots(List.copyOf(states));
  }

  @Override
  public Transition step(int action) {
    VectorStep s = env.step(new long[] {action});
    double reward;
    if (rewardKey == null) {
      reward = s.rewards()[0];
    } else {
      InfoColumn c = s.info().get(rewardKey);
      if (c == null || !c.present()[0]) {
        throw new IllegalStateException(env.envId() + " reported no info[\"" + rewardKey + "\"]: residual search "
            + "needs the add-on reward of every step (the rql4j task envs report it)");
      }
      reward = c.values()[0];
    }
    return new Transition(((Tensor) s.observations().row(0)).toFloatArray(), reward, s.terminated()[0],
        s.truncated()[0]);
  }
}
