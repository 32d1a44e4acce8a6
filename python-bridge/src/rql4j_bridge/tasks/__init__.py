"""The customization tasks of docs/tasks.md as Gymnasium ids; importing this package registers them.

Ids, each in the variants ``basic`` (reward = basic part), ``addon`` (add-on part only) and
``total`` (their sum)::

    rql4j/cartpole-center-{basic,addon,total}-v0        CartPole-v1, 500 steps
    rql4j/mountaincar-lessleft-{basic,addon,total}-v0   MountainCarContinuous-v0, 999 steps
    rql4j/highway-rightlane-{basic,addon,total}-v0      highway-v0, 40 policy steps (1 Hz)
    rql4j/parking-boundary-{basic,addon,total}-v0       parking-v0, 100 policy steps (5 Hz)
    rql4j/halfcheetah-speedcap-{basic,addon,total}-v0   HalfCheetah-v5, 1000 steps
    rql4j/hopper-height-{basic,addon,total}-v0          Hopper-v5, 1000 steps
    rql4j/ant-energy-{basic,addon,total}-v0             Ant-v5 (no contact forces observed), 1000 steps

The highway / parking ids are registered only when the ``highway_env`` package is installed
(``pip install 'rql4j-bridge[tasks]'``), the MuJoCo ones only when ``mujoco`` is
(``pip install 'rql4j-bridge[mujoco]'``); making them through ``rql4j_bridge.tasks.driving`` /
``rql4j_bridge.tasks.locomotion`` without it raises a ModuleNotFoundError naming the package.

Every variant's ``step`` reports both parts as floats in ``info["basic_reward"]`` and
``info["addon_reward"]``; ``reset`` does not (no reward there). parking-boundary also reports
``info["is_success"]`` (float 0/1, on reset and step). Each is registered with
:func:`register_task`, the same function a user's own task goes through (a base env, an add-on
reward function, the basic one where it is not the env's own; docs/tasks.md, "Your own task"); each
env is a :class:`TaskReward` wrapper over the base env, and ``gymnasium.make`` adds the time limit. The entry points
take ``variant`` and ``render_mode``; the highway-env ones also ``config`` (top-level keys that
replace the task's config), e.g. ``gymnasium.make("rql4j/highway-rightlane-total-v0",
config={"vehicles_count": 10})``.
"""

from __future__ import annotations

import importlib.util

from rql4j_bridge.tasks.core import (
    VARIANTS,
    RewardFunction,
    Task,
    TaskReward,
    make_task,
    register_task,
    registered_tasks,
)

__all__ = [
    "TASKS",
    "VARIANTS",
    "RewardFunction",
    "Task",
    "TaskReward",
    "env_id",
    "make_task",
    "register_task",
    "registered_ids",
    "registered_tasks",
]

_C, _D, _L = "rql4j_bridge.tasks.classic", "rql4j_bridge.tasks.driving", "rql4j_bridge.tasks.locomotion"

# task -> (base env factory, add-on reward, basic reward (None: the env's own), max episode steps, optional package)
TASKS: dict[str, tuple[str, str, str | None, int, str | None]] = {
    "cartpole-center": (
        "gymnasium.envs.classic_control.cartpole:CartPoleEnv", f"{_C}:cartpole_center_addon",
        f"{_C}:cartpole_center_basic", 500, None,
    ),
    "mountaincar-lessleft": (
        "gymnasium.envs.classic_control.continuous_mountain_car:Continuous_MountainCarEnv",
        f"{_C}:mountaincar_lessleft_addon", None, 999, None,
    ),
    "highway-rightlane": (
        f"{_D}:highway_rightlane_env", f"{_D}:highway_rightlane_addon", f"{_D}:highway_rightlane_basic", 40,
        "highway_env",
    ),
    "parking-boundary": (
        f"{_D}:parking_boundary_env", f"{_D}:parking_boundary_addon", f"{_D}:parking_boundary_basic", 100,
        "highway_env",
    ),
    "halfcheetah-speedcap": (
        "gymnasium.envs.mujoco.half_cheetah_v5:HalfCheetahEnv", f"{_L}:halfcheetah_speedcap_addon", None, 1000,
        "mujoco",
    ),
    "hopper-height": ("gymnasium.envs.mujoco.hopper_v5:HopperEnv", f"{_L}:hopper_height_addon", None, 1000, "mujoco"),
    "ant-energy": (f"{_L}:ant_env", f"{_L}:ant_energy_addon", None, 1000, "mujoco"),
}
"""The built-in tasks (docs/tasks.md), each registered as ``rql4j/TASK`` with :func:`register_task`."""


def _installed(package: str | None) -> bool:
    return package is None or importlib.util.find_spec(package) is not None


HAVE_HIGHWAY_ENV = _installed("highway_env")
HAVE_MUJOCO = _installed("mujoco")


def env_id(task: str, variant: str) -> str:
    """The Gymnasium id of a built-in task's variant, e.g. ``rql4j/cartpole-center-total-v0``."""
    return f"rql4j/{task}-{variant}-v0"


def registered_ids() -> list[str]:
    """The built-in ids this package registered (highway / parking only with highway-env installed, the MuJoCo
    ones only with mujoco)."""
    return [env_id(t, v) for t, (*_, needs) in TASKS.items() for v in VARIANTS if _installed(needs)]


def _register() -> None:
    for task, (base, addon, basic, max_steps, needs) in TASKS.items():
        if _installed(needs):
            register_task(f"rql4j/{task}", base, addon, basic_reward=basic, max_episode_steps=max_steps)


_register()
