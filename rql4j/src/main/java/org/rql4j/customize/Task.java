package org.rql4j.customize;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.rql4j.bridge.EnvSpec;
import org.rql4j.bridge.RewardVariant;
import org.rql4j.learner.LearnerConfig;
import org.rql4j.learner.ResidualSacConfig;
import org.rql4j.learner.ResidualSoftQConfig;

/**
 * What to customize for: the env a policy acts in and the requirement (the add-on reward), with the
 * ids of the variant a learner trains on and the one the results are evaluated on.
 *
 * <ul>
 *   <li>{@link #builtIn(String)}: one of the built-in tasks (docs/tasks.md), e.g. {@code cartpole-center}:
 *       trains on {@code rql4j/cartpole-center-addon-v0} (the oracle on {@code -total-v0}), evaluated on
 *       {@code -total-v0}, with the task's reference hyperparameters.
 *   <li>{@code Task.of("Pendulum-v1").withAddon("mytasks:gentle")}: any Gymnasium env plus an add-on
 *       reward function (docs/tasks.md, "Your own task") that the env server applies; the basic reward
 *       is the env's own. The server must import the function's module at start, which
 *       {@link Customization} does.
 *   <li>{@code Task.of("mytask-addon-v0").withEvalEnvId("mytask-total-v0")}: ids a module of yours
 *       registered (e.g. with {@code rql4j_bridge.tasks.register_task}); the first returns the add-on
 *       reward, the second the total one.
 * </ul>
 *
 * <p>Immutable; {@code withX} return copies.
 */
public final class Task {

  /** The built-in tasks, in the order of docs/tasks.md. */
  public static final List<String> BUILT_IN = List.of("cartpole-center", "mountaincar-lessleft", "highway-rightlane",
      "parking-boundary", "halfcheetah-speedcap", "hopper-height", "ant-energy");

  /** The built-in tasks that learn on-policy (residual PPO, {@code rql4j ppo}). */
  public static final List<String> ON_POLICY = List.of("halfcheetah-speedcap", "hopper-height", "ant-energy");

  private final String name;
  private final String envId;
  private final boolean builtIn;
  private final String addon;
  private final String evalEnvId;

  private Task(String name, String envId, boolean builtIn, String addon, String evalEnvId) {
    this.name = name;
    this.envId = envId;
    this.builtIn = builtIn;
    this.addon = addon;
    this.evalEnvId = evalEnvId;
  }

  /** A built-in task by name; an IllegalArgumentException listing the built-in ones for any other name. */
  public static Task builtIn(String name) {
    if (!BUILT_IN.contains(name)) {
      throw new IllegalArgumentException("unknown task '" + name + "'; the built-in tasks are " + BUILT_IN
          + " (docs/tasks.md); for your own env give its Gymnasium id (Task.of, or --env-id on the command line)");
    }
    return new Task(name, null, true, null, null);
  }

  /** A task on any Gymnasium env id registered in the env server (add an add-on with {@link #withAddon}). */
  public static Task of(String envId) {
    if (envId == null || envId.isBlank() || envId.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException("env id must be a Gymnasium id such as Pendulum-v1, got '" + envId + "'");
    }
    return new Task(envId, envId, false, null, null);
  }

  /**
   * This task with an add-on reward {@code "MODULE:FUNCTION"} applied by the env server (a function of
   * the form in docs/tasks.md, "Your own task"); the learner trains on it alone, the evaluation on
   * basic + add-on.
   */
  public Task withAddon(String moduleFunction) {
    if (builtIn) {
      throw new IllegalArgumentException("task " + name + " is built in and has its add-on; an add-on of yours "
          + "goes with your env id (Task.of)");
    }
    if (moduleFunction == null || !moduleFunction.matches("[A-Za-z_][\\w.]*:[A-Za-z_]\\w*")) {
      throw new IllegalArgumentException("an add-on reward is MODULE:FUNCTION (e.g. mytasks:gentle), got '"
          + moduleFunction + "'");
    }
    return new Task(name, envId, false, moduleFunction, evalEnvId);
  }

  /** This task evaluated on another env id (the total-reward variant of the training env). */
  public Task withEvalEnvId(String id) {
    if (builtIn) {
      throw new IllegalArgumentException("task " + name + " is built in; it is evaluated on rql4j/" + name
          + "-total-v0");
    }
    of(id); // the same check
    return new Task(name, envId, false, addon, id);
  }

  /** The env id of a task of the user's (null for a built-in task). */
  public String envId() {
    return envId;
  }

  /** The evaluation env id given with {@link #withEvalEnvId}, if any. */
  public Optional<String> evalEnvId() {
    return Optional.ofNullable(evalEnvId);
  }

  /** The built-in task's name, or the training env id of another task. */
  public String name() {
    return name;
  }

  /** A label for tables and run folders: the name, and the add-on where there is one. */
  public String label() {
    return addon == null ? name : name + " + " + addon;
  }

  public boolean isBuiltIn() {
    return builtIn;
  }

  /** The add-on reward the env server applies ({@code MODULE:FUNCTION}), if any. */
  public Optional<String> addon() {
    return Optional.ofNullable(addon);
  }

  /** The Python modules the env server must import at start (the add-on's). */
  public List<String> modules() {
    return addon == null ? List.of() : List.of(addon.substring(0, addon.indexOf(':')));
  }

  /** The env a baseline trains on (set the copies with {@code optNumEnvs}). */
  public EnvSpec.Builder trainEnv(Baseline baseline) {
    boolean total = baseline == Baseline.ORACLE;
    if (builtIn) {
      return EnvSpec.builder("rql4j/" + name + (total ? "-total-v0" : "-addon-v0"));
    }
    if (addon != null) {
      return EnvSpec.builder(envId).optAddonReward(addon, total ? RewardVariant.TOTAL : RewardVariant.ADDON);
    }
    if (total) {
      if (evalEnvId == null) {
        throw new IllegalArgumentException("the oracle baseline trains on the total reward: give the total-reward "
            + "env id of " + envId + " (withEvalEnvId, or --eval-env-id), or an add-on (withAddon, --addon)");
      }
      return EnvSpec.builder(evalEnvId);
    }
    return EnvSpec.builder(envId);
  }

  /** The env results are evaluated on: basic + add-on. */
  public EnvSpec.Builder evalEnv() {
    if (builtIn) {
      return EnvSpec.builder("rql4j/" + name + "-total-v0");
    }
    EnvSpec.Builder b = EnvSpec.builder(evalEnvId != null ? evalEnvId : envId);
    return addon == null ? b : b.optAddonReward(addon, RewardVariant.TOTAL);
  }

  /**
   * A built-in off-policy task's reference learner and hyperparameters (docs/tasks.md); empty for the
   * on-policy built-ins (their reference is {@code ResidualPpoConfig.mujoco()}) and for other tasks,
   * whose learner {@link Customization} picks from the action space.
   */
  public Optional<LearnerConfig> referenceConfig() {
    if (!builtIn) {
      return Optional.empty();
    }
    return Optional.ofNullable(switch (name) {
      case "cartpole-center" -> ResidualSoftQConfig.cartpole();
      case "highway-rightlane" -> ResidualSoftQConfig.highway();
      case "mountaincar-lessleft" -> ResidualSacConfig.mountaincar();
      case "parking-boundary" -> ResidualSacConfig.parking();
      default -> null;
    });
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Task t && t.name.equals(name) && Objects.equals(t.envId, envId) && t.builtIn == builtIn
        && Objects.equals(t.addon, addon) && Objects.equals(t.evalEnvId, evalEnvId);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, envId, builtIn, addon, evalEnvId);
  }

  @Override
  public String toString() {
    return "Task[" + label() + (evalEnvId == null ? "" : ", evaluated on " + evalEnvId) + "]";
  }
}
