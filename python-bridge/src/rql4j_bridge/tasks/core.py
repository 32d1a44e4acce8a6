"""The one wrapper shared by every task: reward = basic part, add-on part, or their sum."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, SupportsFloat

import gymnasium

VARIANTS = ("basic", "addon", "total")

RewardParts = Callable[[gymnasium.Env, Any, float], tuple[float, float]]
"""``parts(env, action, env_reward) -> (basic, addon)``, evaluated on the env's state after the step.

``env`` is the env under the :class:`TaskReward` wrapper (use ``env.unwrapped`` for the simulator
state); ``env_reward`` is that env's own reward for the step (only tasks whose basic reward *is* the
env's own reward use it; the others ignore it, so it is replaced, never added to).
"""


class TaskReward(gymnasium.Wrapper):
    """Replaces the env's reward by the task's basic part, add-on part or their sum.

    Every variant reports both parts as Python floats in ``info["basic_reward"]`` and
    ``info["addon_reward"]`` of every ``step`` (not of ``reset``: there is no reward there), so any
    policy can be scored on both whatever reward it was trained on. Observations, actions,
    ``terminated`` and ``truncated`` pass through unchanged.
    """

    def __init__(self, env: gymnasium.Env, parts: RewardParts, variant: str = "total") -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        super().__init__(env)
        self.parts = parts
        self.variant = variant

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        basic, addon = self.parts(self.env, action, float(env_reward))
        basic, addon = float(basic), float(addon)
        info = {**info, "basic_reward": basic, "addon_reward": addon}
        reward = {"basic": basic, "addon": addon, "total": basic + addon}[self.variant]
        return obs, reward, terminated, truncated, info
