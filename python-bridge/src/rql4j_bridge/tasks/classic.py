"""cartpole-center and mountaincar-lessleft: Gymnasium classic-control envs with the tasks' rewards.

Reward functions in the form of :mod:`rql4j_bridge.tasks.core` (the env first where the simulator's
state is needed); the tasks are registered in :mod:`rql4j_bridge.tasks`.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np


def cartpole_center_basic(env: gymnasium.Env, obs: Any, action: Any, next_obs: Any, reward: float,
                          terminated: bool, truncated: bool, info: dict[str, Any]) -> float:
    """``1 - 10 * |theta| / 0.2095`` (stay upright), from the state after the step."""
    return 1.0 - 10.0 * abs(env.unwrapped.state[2]) / 0.2095


def cartpole_center_addon(env: gymnasium.Env, obs: Any, action: Any, next_obs: Any, reward: float,
                          terminated: bool, truncated: bool, info: dict[str, Any]) -> float:
    """``-|x| / 2.4`` (stay near the centre), from the state after the step."""
    return -abs(env.unwrapped.state[0]) / 2.4


def mountaincar_lessleft_addon(obs: Any, action: Any, next_obs: Any, reward: float, terminated: bool,
                               truncated: bool, info: dict[str, Any]) -> float:
    """``-0.1`` when the action is < 0 (the basic reward is the env's own: ``-0.1 a^2``, +100 at the goal)."""
    return -0.1 if float(np.asarray(action, dtype=np.float64).reshape(-1)[0]) < 0.0 else 0.0


def make_cartpole_center(variant: str = "total", render_mode: str | None = None) -> gymnasium.Env:
    """CartPole-v1's dynamics and terminations with the cartpole-center rewards (no time limit: the registration's)."""
    from rql4j_bridge.tasks.core import make_task

    return make_task("rql4j/cartpole-center", variant, render_mode)


def make_mountaincar_lessleft(variant: str = "total", render_mode: str | None = None) -> gymnasium.Env:
    """MountainCarContinuous-v0 with the mountaincar-lessleft rewards (no time limit: the registration's)."""
    from rql4j_bridge.tasks.core import make_task

    return make_task("rql4j/mountaincar-lessleft", variant, render_mode)
