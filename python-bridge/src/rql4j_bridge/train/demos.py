"""Demonstrations: the expert rolled out deterministically on the BASIC variant, seeded, saved as .npz."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rql4j_bridge.train.common import flat_obs, make_env

__all__ = ["collect_demos", "load_demos"]


def collect_demos(
    act: Callable[[Any], int], task: str, n_transitions: int, seed: int, out_npz: str | Path
) -> dict[str, Any]:
    """Rolls ``act`` out until ``n_transitions`` (obs, action) pairs are stored; the first reset uses
    ``seed``, the later ones continue the env's RNG (so the whole set is a function of ``seed``).
    The last episode is cut at ``n_transitions``. Saves ``obs`` float32 [N, obs_dim] (flattened),
    ``actions`` int64 [N], ``episode_starts`` bool [N] and the finished episodes' returns/lengths."""
    env = make_env(task, "basic")
    obs_rows = np.zeros((n_transitions, int(np.prod(env.observation_space.shape))), np.float32)
    actions = np.zeros(n_transitions, np.int64)
    starts = np.zeros(n_transitions, bool)
    returns, lengths = [], []
    obs, _ = env.reset(seed=seed)
    ep_return, ep_len = 0.0, 0
    for i in range(n_transitions):
        a = act(obs)
        obs_rows[i], actions[i], starts[i] = flat_obs(obs), a, ep_len == 0
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
    return {
        "npz": str(out),
        "transitions": n_transitions,
        "complete_episodes": len(returns),
        "mean_return": float(np.mean(returns)) if returns else float("nan"),
        "mean_length": float(np.mean(lengths)) if lengths else float("nan"),
        "action_counts": np.bincount(actions).tolist(),
    }


def load_demos(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        return data["obs"].astype(np.float32), data["actions"].astype(np.int64)
