"""halfcheetah-speedcap, hopper-height and ant-energy: Gymnasium MuJoCo v5 envs with add-on rewards.

The basic reward of each is the env's own reward, unchanged (the reward the PPO prior was trained
on); the add-on is ours (docs/tasks.md: "add-on rewards are ours to choose and document"):

- halfcheetah-speedcap: ``-max(0, v_x - SPEED_CAP)`` per step, ``v_x`` the torso's forward
  velocity (``qvel[0]``): a speed limit the prior, trained to run as fast as it can, breaks.
- hopper-height: ``-max(0, z - HEIGHT_CEILING)`` per step, ``z`` the torso's height (``qpos[1]``),
  and ``-FALL_PENALTY`` on the step where the hopper falls (the env ends the episode as unhealthy):
  hop low (a ceiling above the standing height of 1.25 m) without falling. Without the fall term a
  per-step penalty alone made falling pay: an episode that ends at step 280 collects less penalty
  than one that hops on, so both the add-on return and a learner that sees only the add-on (residual
  PPO) preferred falling (docs/results.md).
- ant-energy: ``-ENERGY_COEF * sum_i |tau_i * w_i|`` per step, the mechanical power of the eight
  motors: torque ``tau = ctrl * gear`` times the velocity ``w`` of the motor's joint after the step.

Needs the ``mujoco`` package (``pip install 'rql4j-bridge[mujoco]'``); importing this module without
it raises a ModuleNotFoundError that says so. Ant is made with ``include_cfrc_ext_in_observation=False``
(27 observations instead of 105: the contact forces are zero in MuJoCo >= 2 anyway, and a PPO prior
without observation normalization learns faster without 78 dead inputs).
"""

from __future__ import annotations

import logging
from typing import Any

import gymnasium
import numpy as np

try:
    import mujoco  # noqa: F401  (the import error below names the package)
except ImportError as e:
    raise ModuleNotFoundError(
        "the rql4j/halfcheetah-*, rql4j/hopper-* and rql4j/ant-* tasks need the mujoco package "
        f"(pip install 'rql4j-bridge[mujoco]' or pip install 'mujoco>=3.1,<4' imageio): {e}",
        name="mujoco",
    ) from e

from gymnasium.envs.mujoco.ant_v5 import AntEnv
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv

from rql4j_bridge.tasks.core import make_task

_log = logging.getLogger(__name__)


def _route_mujoco_warnings() -> None:
    """MuJoCo's default warning handler appends every warning to MUJOCO_LOG.TXT in the working
    directory (Gymnasium's Ant and HalfCheetah models trigger a deprecation warning at every
    ``make``). Unless the process already installed its own handler, log each distinct warning once
    instead."""
    if mujoco.get_mju_user_warning() is not None:
        return
    seen: set[str] = set()

    def warn(message: str) -> None:
        if message not in seen:
            seen.add(message)
            _log.warning("MuJoCo: %s", message.strip())

    mujoco.set_mju_user_warning(warn)


_route_mujoco_warnings()

SPEED_CAP = 2.5
"""halfcheetah-speedcap: the forward speed (m/s) above which the add-on penalizes, linearly."""

HEIGHT_CEILING = 1.3
"""hopper-height: the torso height (m) above which the add-on penalizes, linearly."""

FALL_PENALTY = 100.0
"""hopper-height: the add-on's charge for a fall (the step the env ends the episode as unhealthy); on
the scale of a whole episode of the prior's ceiling violations (its 1000-step episodes score -120
to -182, median -168)."""

ENERGY_COEF = 0.001
"""ant-energy: the add-on's weight on the motors' mechanical power (sum of |torque x joint velocity|)."""


def halfcheetah_speedcap_addon(env: gymnasium.Env, obs: Any, action: Any, next_obs: Any, reward: float,
                               terminated: bool, truncated: bool, info: dict[str, Any]) -> float:
    """``-max(0, v_x - SPEED_CAP)`` (the basic reward is the env's own: forward velocity - 0.1 |a|^2)."""
    return -max(0.0, float(env.unwrapped.data.qvel[0]) - SPEED_CAP)


def hopper_height_addon(env: gymnasium.Env, obs: Any, action: Any, next_obs: Any, reward: float,
                        terminated: bool, truncated: bool, info: dict[str, Any]) -> float:
    """``-max(0, z - HEIGHT_CEILING)``, and ``-FALL_PENALTY`` when the step left the hopper unhealthy (the step
    Hopper-v5 terminates on); the basic reward is the env's own (healthy 1 + v_x - 1e-3 |a|^2)."""
    hopper = env.unwrapped
    z = float(hopper.data.qpos[1])
    fell = hopper._terminate_when_unhealthy and not hopper.is_healthy
    return -max(0.0, z - HEIGHT_CEILING) - (FALL_PENALTY if fell else 0.0)


def ant_energy_addon(env: gymnasium.Env, obs: Any, action: Any, next_obs: Any, reward: float,
                     terminated: bool, truncated: bool, info: dict[str, Any]) -> float:
    """``-ENERGY_COEF * sum |tau w|`` (the basic reward is the env's own: healthy 1 + forward velocity - 0.5 |a|^2)."""
    model, data = env.unwrapped.model, env.unwrapped.data
    torque = data.ctrl * model.actuator_gear[:, 0]  # the motors' torques (ctrl: the action as applied)
    joint_velocity = data.qvel[model.jnt_dofadr[model.actuator_trnid[:, 0]]]  # each motor's joint, after the step
    return -ENERGY_COEF * float(np.abs(torque * joint_velocity).sum())


def ant_env(render_mode: str | None = None, **kwargs: Any) -> gymnasium.Env:
    """Ant-v5 with 27 observations (no contact forces) unless ``include_cfrc_ext_in_observation`` says otherwise."""
    kwargs.setdefault("include_cfrc_ext_in_observation", False)
    return AntEnv(render_mode=render_mode, **kwargs)


def make_halfcheetah_speedcap(variant: str = "total", render_mode: str | None = None, **kwargs: Any) -> gymnasium.Env:
    """HalfCheetah-v5 with the halfcheetah-speedcap rewards (no time limit: the registration's, 1000 steps)."""
    return make_task("rql4j/halfcheetah-speedcap", variant, render_mode, **kwargs)


def make_hopper_height(variant: str = "total", render_mode: str | None = None, **kwargs: Any) -> gymnasium.Env:
    """Hopper-v5 with the hopper-height rewards (no time limit: the registration's, 1000 steps)."""
    return make_task("rql4j/hopper-height", variant, render_mode, **kwargs)


def make_ant_energy(variant: str = "total", render_mode: str | None = None, **kwargs: Any) -> gymnasium.Env:
    """ant_env with the ant-energy rewards (no time limit: the registration's, 1000 steps)."""
    return make_task("rql4j/ant-energy", variant, render_mode, **kwargs)
