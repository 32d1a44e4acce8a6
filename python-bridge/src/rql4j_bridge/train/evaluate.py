"""Evaluation as tasks.md reports it: seeded episodes of the TOTAL variant, deterministic policy,
mean +- std (population std, ddof 0) of the basic return, the add-on return (both summed from
``info``) and the episode length, and for the tasks with a success criterion (``SUCCESS``) the
success rate.

The deterministic policy is the argmax for a categorical prior and ``tanh(mean)`` rescaled to
the Box (``action_scaling``) for a squashed Gaussian one (the mean, clipped, for a diag Gaussian)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rql4j_bridge.train.common import env_id, make_env

__all__ = [
    "EVAL_EPISODES",
    "EVAL_SEED",
    "SUCCESS",
    "evaluate_act_fn",
    "evaluate_package",
    "gaussian_policy_stats",
    "gaussian_stats_header",
    "gaussian_stats_row",
    "markdown_header",
    "markdown_row",
    "policy_stats",
    "stats_header",
    "stats_row",
]

EVAL_EPISODES = 20
EVAL_SEED = 10_000  # episode i resets with seed EVAL_SEED + i (disjoint from the training seeds)

# task -> (what success means, success(terminated, truncated, info of the episode's last step)).
SUCCESS: dict[str, tuple[str, Callable[[bool, bool, dict[str, Any]], bool]]] = {
    # highway-env terminates on a crash; an episode that runs to the time limit reached the end.
    "highway-rightlane": ("reached the end without crash", lambda terminated, truncated, info: not terminated),
    # parking-v0 terminates on success (and on a crash, which this task's config cannot cause).
    "parking-boundary": ("parked (info is_success)", lambda terminated, truncated, info: info["is_success"] > 0.5),
}


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
    success_fn = SUCCESS[task][1] if task in SUCCESS else None
    basic, addon, length, success = [], [], [], []
    t0 = time.perf_counter()
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
            if success_fn is not None:
                success.append(bool(success_fn(bool(terminated), bool(truncated), info)))
    finally:
        env.close()
    wall = time.perf_counter() - t0

    def stats(xs: list[float]) -> dict[str, float]:
        arr = np.asarray(xs, np.float64)
        return {"mean": float(arr.mean()), "std": float(arr.std())}

    result: dict[str, Any] = {
        "env": env_id(task, variant),
        "episodes": episodes,
        "seeds": [seed, seed + episodes - 1],
        "policy": "deterministic (argmax)",
        "basic_return": stats(basic),
        "addon_return": stats(addon),
        "length": stats([float(n) for n in length]),
        "per_episode": {"basic_return": basic, "addon_return": addon, "length": length},
        "steps_per_s": sum(length) / max(wall, 1e-9),
    }
    if success_fn is not None:
        result["success"] = SUCCESS[task][0]
        result["success_rate"] = float(np.mean(success)) if success else float("nan")
        result["per_episode"]["success"] = success
    return result


def evaluate_package(
    path: str | Path,
    task: str,
    *,
    episodes: int = EVAL_EPISODES,
    seed: int = EVAL_SEED,
    variant: str = "total",
    sample: bool = False,
) -> dict[str, Any]:
    """Loads a prior package (``load_prior_package``) and evaluates its deterministic policy (argmax;
    ``tanh(mean)`` rescaled to the Box), or with ``sample`` the stochastic policy itself (actions
    drawn from ``pi(.|s)`` with a torch generator seeded with ``seed``; Box actions through the
    package's ``action_scaling``)."""
    import torch

    from rql4j_bridge.prior.package import load_prior_package

    prior = load_prior_package(path)
    generator = torch.Generator().manual_seed(seed)

    if prior.is_categorical:

        def act(obs: Any) -> Any:
            batch = prior.flatten_observations([obs])
            return int(prior.sample(batch, generator=generator, deterministic=not sample)[0])

    else:

        def act(obs: Any) -> Any:
            batch = prior.flatten_observations([obs])
            return prior.to_env_actions(prior.sample(batch, generator=generator, deterministic=not sample))[0]

    result = evaluate_act_fn(act, task, episodes=episodes, seed=seed, variant=variant)
    if not prior.is_categorical:
        result["policy"] = (
            "deterministic (tanh(mean) rescaled to the Box)"
            if prior.distribution == "squashed_gaussian"
            else "deterministic (mean, clipped to the Box)"
        )
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


def gaussian_policy_stats(path: str | Path, obs: np.ndarray, actions: np.ndarray) -> dict[str, Any]:
    """How peaked a squashed Gaussian prior is on a set of states and how well it explains the
    expert's actions there (``actions`` in env units, normalized with the package's Box): the
    pre-tanh std, ``log pi(expert action | s)`` and the deterministic action's error."""
    from rql4j_bridge.prior.package import load_prior_package
    from rql4j_bridge.train.bc import normalize_actions

    prior = load_prior_package(path)
    box = prior.action_space
    a = normalize_actions(actions, box.low, box.high)  # type: ignore[attr-defined]
    mean, log_std = prior.distribution_params(obs)
    std = np.exp(log_std.astype(np.float64))
    log_prob = prior.log_prob(obs, a)
    return {
        "states": int(len(obs)),
        "std_mean": float(std.mean()),
        "std_median": float(np.median(std)),
        "log_prob_expert_mean": float(log_prob.mean()),
        "log_prob_expert_p01": float(np.quantile(log_prob, 0.01)),
        "mae_vs_expert": float(np.abs(np.tanh(mean.astype(np.float64)) - a).mean()),
    }


def gaussian_stats_header() -> str:
    return (
        "| prior | pre-tanh std, mean (median) | log pi(expert action), mean (1% quantile) "
        "| mean abs(tanh(mean) - expert action) |\n"
        "|---|---|---|---|"
    )


def gaussian_stats_row(label: str, s: dict[str, Any]) -> str:
    return (
        f"| {label} | {s['std_mean']:.3f} ({s['std_median']:.3f}) | "
        f"{s['log_prob_expert_mean']:.2f} ({s['log_prob_expert_p01']:.2f}) | {s['mae_vs_expert']:.4f} |"
    )


def markdown_header(success: bool = False) -> str:
    """The evaluation table's header; ``success`` adds the success-rate column."""
    if success:
        return "| policy | basic return | add-on return | episode length | success rate |\n|---|---|---|---|---|"
    return "| policy | basic return | add-on return | episode length |\n|---|---|---|---|"


def stats_header() -> str:
    return (
        "| prior | entropy, mean (median) | least likely action's log pi, mean (1% quantile) "
        "| argmax = expert action |\n"
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

    row = f"| {label} | {pm('basic_return', 1)} | {pm('addon_return', 1)} | {pm('length', 1)} |"
    if "success_rate" in result:
        row += f" {100 * result['success_rate']:.0f} % |"
    return row
