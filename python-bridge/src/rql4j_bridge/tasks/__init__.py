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
``info["is_success"]`` (float 0/1, on reset and step). Each env is a :class:`TaskReward` wrapper
(one ``parts(env, action, env_reward) -> (basic, addon)`` function per task, evaluated on the
state after the step) over the base env; ``gymnasium.make`` adds the time limit. The entry points
take ``variant`` and ``render_mode``; the highway-env ones also ``config`` (top-level keys that
replace the task's config), e.g. ``gymnasium.make("rql4j/highway-rightlane-total-v0",
config={"vehicles_count": 10})``.
"""

from __future__ import annotations

import importlib.util

from gymnasium.envs.registration import register, registry

from rql4j_bridge.tasks.classic import (
    cartpole_center_parts,
    make_cartpole_center,
    make_mountaincar_lessleft,
    mountaincar_lessleft_parts,
)
from rql4j_bridge.tasks.core import VARIANTS, RewardParts, TaskReward

__all__ = [
    "TASKS",
    "VARIANTS",
    "RewardParts",
    "TaskReward",
    "cartpole_center_parts",
    "env_id",
    "make_cartpole_center",
    "make_mountaincar_lessleft",
    "mountaincar_lessleft_parts",
    "registered_ids",
]

# task -> (entry point, max episode steps, the optional package it needs or None)
TASKS: dict[str, tuple[str, int, str | None]] = {
    "cartpole-center": ("rql4j_bridge.tasks.classic:make_cartpole_center", 500, None),
    "mountaincar-lessleft": ("rql4j_bridge.tasks.classic:make_mountaincar_lessleft", 999, None),
    "highway-rightlane": ("rql4j_bridge.tasks.driving:make_highway_rightlane", 40, "highway_env"),
    "parking-boundary": ("rql4j_bridge.tasks.driving:make_parking_boundary", 100, "highway_env"),
    "halfcheetah-speedcap": ("rql4j_bridge.tasks.locomotion:make_halfcheetah_speedcap", 1000, "mujoco"),
    "hopper-height": ("rql4j_bridge.tasks.locomotion:make_hopper_height", 1000, "mujoco"),
    "ant-energy": ("rql4j_bridge.tasks.locomotion:make_ant_energy", 1000, "mujoco"),
}


def _installed(package: str | None) -> bool:
    return package is None or importlib.util.find_spec(package) is not None


HAVE_HIGHWAY_ENV = _installed("highway_env")
HAVE_MUJOCO = _installed("mujoco")


def env_id(task: str, variant: str) -> str:
    """The Gymnasium id of a task's variant, e.g. ``rql4j/cartpole-center-total-v0``."""
    return f"rql4j/{task}-{variant}-v0"


def registered_ids() -> list[str]:
    """The ids this package registered (highway / parking only with highway-env installed, the MuJoCo ones only
    with mujoco)."""
    return [env_id(t, v) for t, (_, _, needs) in TASKS.items() for v in VARIANTS if _installed(needs)]


def _register() -> None:
    for task, (entry_point, max_steps, needs) in TASKS.items():
        if not _installed(needs):
            continue
        for variant in VARIANTS:
            if env_id(task, variant) not in registry:
                register(
                    id=env_id(task, variant),
                    entry_point=entry_point,
                    max_episode_steps=max_steps,
                    kwargs={"variant": variant},
                )


_register()
