"""Evaluation as tasks.md reports it: seeded episodes of the TOTAL variant, deterministic policy,
mean +- std (population std, ddof 0) of the basic return, the add-on return (both summed from
``info``) and the episode length."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rql4j_bridge.train.common import env_id, make_env

__all__ = [
    "EVAL_EPISODES",
    "EVAL_SEED",
    "evaluate_act_fn",
    "evaluate_package",
    "markdown_header",
    "markdown_row",
    "policy_stats",
    "stats_header",
    "stats_row",
]

EVAL_EPISODES = 20
EVAL_SEED = 10_000  # episode i resets with seed EVAL_SEED + i (disjoint from the training seeds)


def evaluate_act_fn(
    act: Callable[[Any], int | np.ndarray],
    task: str,
    *,
    episodes: int = EVAL_EPISODES,
    seed: int = EVAL_SEED,
    variant: str = "total",
) -> dict[str, Any]:
    """Runs ``episodes`` episodes (episode i reset with ``seed + i``) with ``act(obs) -> action``."""
    env = make_env(task, variant)
    basic, addon, length = [], [], []
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            b = a = 0.0
            n = 0
            while True:
                obs, _, terminated, truncated, info = env.step(act(obs))
                b += float(info["basic_reward"])
                a += float(info["addon_reward"])
                n += 1
                if terminated or truncated:
                    break
            basic.append(b)
            addon.append(a)
            length.append(n)
    finally:
        env.close()

    def stats(xs: list[float]) -> dict[str, float]:
        arr = np.asarray(xs, np.float64)
        return {"mean": float(arr.mean()), "std": float(arr.std())}

    return {
        "env": env_id(task, variant),
        "episodes": episodes,
        "seeds": [seed, seed + episodes - 1],
        "policy": "deterministic (argmax)",
        "basic_return": stats(basic),
        "addon_return": stats(addon),
        "length": stats([float(n) for n in length]),
        "per_episode": {"basic_return": basic, "addon_return": addon, "length": length},
    }


def evaluate_package(
    path: str | Path,
    task: str,
    *,
    episodes: int = EVAL_EPISODES,
    seed: int = EVAL_SEED,
    variant: str = "total",
    sample: bool = False,
) -> dict[str, Any]:
    """Loads a prior package (``load_prior_package``) and evaluates its argmax policy, or with
    ``sample`` the stochastic policy itself (actions drawn from ``pi(.|s)`` with a torch generator
    seeded with ``seed``)."""
    import torch

    from rql4j_bridge.prior.package import load_prior_package

    prior = load_prior_package(path)
    generator = torch.Generator().manual_seed(seed)

    def act(obs: Any) -> int:
        return int(prior.sample(prior.flatten_observations([obs]), generator=generator, deterministic=not sample)[0])

    result = evaluate_act_fn(act, task, episodes=episodes, seed=seed, variant=variant)
    if sample:
        result["policy"] = f"sampled from pi(.|s) (torch generator seed {seed})"
    result["package"] = str(path)
    result["name"] = prior.name
    return result


def policy_stats(path: str | Path, obs: np.ndarray, actions: np.ndarray | None = None) -> dict[str, Any]:
    """How stochastic a categorical prior is on a set of states: entropy (nats) and the log-prob of
    its least likely action; with ``actions``, how often its argmax agrees with them."""
    from rql4j_bridge.prior.package import load_prior_package

    prior = load_prior_package(path)
    log_probs = prior.log_probs_all(obs).astype(np.float64)
    entropy = -(np.exp(log_probs) * log_probs).sum(axis=1)
    least = log_probs.min(axis=1)
    stats = {
        "states": int(len(obs)),
        "entropy_mean": float(entropy.mean()),
        "entropy_median": float(np.median(entropy)),
        "min_log_prob_mean": float(least.mean()),
        "min_log_prob_p01": float(np.quantile(least, 0.01)),
    }
    if actions is not None:
        start = int(prior.action_space.start)  # type: ignore[attr-defined]
        stats["argmax_agreement"] = float((log_probs.argmax(axis=1) + start == actions).mean())
    return stats


def markdown_header() -> str:
    return (
        "| policy | basic return | add-on return | episode length |\n"
        "|---|---|---|---|"
    )


def stats_header() -> str:
    return (
        "| prior | entropy, mean (median) | least likely action's log pi, mean (1% quantile) | argmax = expert action |\n"
        "|---|---|---|---|"
    )


def stats_row(label: str, s: dict[str, Any]) -> str:
    agree = f"{100 * s['argmax_agreement']:.1f} %" if "argmax_agreement" in s else "-"
    return (
        f"| {label} | {s['entropy_mean']:.3f} ({s['entropy_median']:.3f}) | "
        f"{s['min_log_prob_mean']:.2f} ({s['min_log_prob_p01']:.2f}) | {agree} |"
    )


def markdown_row(label: str, result: dict[str, Any]) -> str:
    def pm(key: str, digits: int) -> str:
        s = result[key]
        return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"

    return f"| {label} | {pm('basic_return', 1)} | {pm('addon_return', 1)} | {pm('length', 1)} |"
