"""Demonstrations: the expert rolled out deterministically on the BASIC variant, seeded, saved as .npz.

Discrete actions are stored as int64 ``[N]``; Box actions as float32 ``[N, d]`` in the env's units
(what the env was given); BC normalizes them to [-1, 1] with the Box's bounds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from rql4j_bridge.train.common import flat_obs, make_env

__all__ = ["collect_demos", "load_demos"]


def collect_demos(
    act: Callable[[Any], Any], task: str, n_transitions: int, seed: int, out_npz: str | Path
) -> dict[str, Any]:
    """Rolls ``act`` out until ``n_transitions`` (obs, action) pairs are stored; the first reset uses
    ``seed``, the later ones continue the env's RNG (so the whole set is a function of ``seed``).
    The last episode is cut at ``n_transitions``. Saves ``obs`` float32 [N, obs_dim] (flattened),
    ``actions`` (int64 [N], or float32 [N, d] for a Box), ``episode_starts`` bool [N] and the
    finished episodes' returns/lengths."""
    env = make_env(task, "basic")
    box = isinstance(env.action_space, gymnasium.spaces.Box)
    obs_rows = np.zeros((n_transitions, int(np.prod(env.observation_space.shape))), np.float32)
    if box:
        actions = np.zeros((n_transitions, int(np.prod(env.action_space.shape))), np.float32)
    else:
        actions = np.zeros(n_transitions, np.int64)
    starts = np.zeros(n_transitions, bool)
    returns, lengths = [], []
    obs, _ = env.reset(seed=seed)
    ep_return, ep_len = 0.0, 0
    for i in range(n_transitions):
        a = act(obs)
        obs_rows[i], starts[i] = flat_obs(obs), ep_len == 0
        actions[i] = np.asarray(a, np.float32).reshape(-1) if box else a
        obs, reward, terminated, truncated, _ = env.step(a)
        ep_return += float(reward)
        ep_len += 1
        if terminated or truncated:
            returns.append(ep_return)
            lengths.append(ep_len)
            ep_return, ep_len = 0.0, 0
            obs, _ = env.reset()
    env.close()
    out = Path(out_npz)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        obs=obs_rows,
        actions=actions,
        episode_starts=starts,
        episode_returns=np.asarray(returns, np.float64),
        episode_lengths=np.asarray(lengths, np.int64),
        seed=np.int64(seed),
    )
    summary: dict[str, Any] = {
        "npz": str(out),
        "transitions": n_transitions,
        "complete_episodes": len(returns),
        "mean_return": float(np.mean(returns)) if returns else float("nan"),
        "mean_length": float(np.mean(lengths)) if lengths else float("nan"),
    }
    if box:
        summary["action_mean"] = actions.mean(axis=0).tolist()
        summary["action_std"] = actions.std(axis=0).tolist()
    else:
        summary["action_counts"] = np.bincount(actions).tolist()
    return summary


def load_demos(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(obs float32 [N, obs_dim], actions)``: int64 ``[N]``, or float32 ``[N, d]`` for Box actions."""
    with np.load(path) as data:
        actions = data["actions"]
        actions = actions.astype(np.float32) if actions.dtype.kind == "f" else actions.astype(np.int64)
        return data["obs"].astype(np.float32), actions
