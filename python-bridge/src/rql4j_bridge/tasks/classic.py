"""cartpole-center and mountaincar-lessleft: Gymnasium classic-control envs with the tasks' rewards."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.envs.classic_control.continuous_mountain_car import Continuous_MountainCarEnv

from rql4j_bridge.tasks.core import TaskReward


def cartpole_center_parts(env: gymnasium.Env, action: Any, env_reward: float) -> tuple[float, float]:
    """basic `1 - 10 * |theta| / 0.2095` (stay upright), add-on `-|x| / 2.4` (stay near the centre)."""
    x, _, theta, _ = env.unwrapped.state
    return 1.0 - 10.0 * abs(theta) / 0.2095, -abs(x) / 2.4


def mountaincar_lessleft_parts(env: gymnasium.Env, action: Any, env_reward: float) -> tuple[float, float]:
    """basic: the env's own reward (`-0.1 a^2`, +100 at the goal), add-on `-0.1` when the action is < 0."""
    pushed_left = float(np.asarray(action, dtype=np.float64).reshape(-1)[0]) < 0.0
    return env_reward, -0.1 if pushed_left else 0.0


def make_cartpole_center(variant: str = "total", render_mode: str | None = None) -> gymnasium.Env:
    """CartPole-v1's dynamics and terminations with the cartpole-center rewards (time limit: the registration's)."""
    return TaskReward(CartPoleEnv(render_mode=render_mode), cartpole_center_parts, variant)


def make_mountaincar_lessleft(variant: str = "total", render_mode: str | None = None) -> gymnasium.Env:
    """MountainCarContinuous-v0 with the mountaincar-lessleft rewards (time limit: the registration's)."""
    return TaskReward(Continuous_MountainCarEnv(render_mode=render_mode), mountaincar_lessleft_parts, variant)
