"""The per-task defaults of the prior-training pipeline: ONE table, ``TASK_DEFAULTS``.

Each entry says which kind of pipeline the task gets, its run budget, and the hyperparameters
that differ from the config classes' own defaults (which are tasks.md's CartPole reference values
for the DQN expert and the soft DQN, SB3's for SAC, and ours for behaviour cloning):

- ``expert``: the SB3 algorithm of the expert (``dqn`` for Discrete actions: expert -> demos -> BC
  and a separate soft DQN; ``sac`` for Box actions: the SAC expert IS the max-entropy prior,
  and a Gaussian BC prior is cloned from its demos).
- ``budget``: env steps of every RL run of the task (the expert, and the soft DQN) -- the
  paper's budget where it fits docs/tasks.md's 2-hour rule on our 2-core machine, else the
  largest that fits; ``paper_budget`` is the paper's, written beside it in the README.
- ``demos``: expert transitions for behaviour cloning.
- ``rl``: fields of the RL configs (the expert's config class and, for discrete tasks,
  ``SoftDQNConfig``; each takes the fields it has); ``bc``: fields of the BC config.

The stage commands (``expert``, ``soft-dqn``, ``bc``, ...) start from a task's entry too, so
``python -m rql4j_bridge.train expert --task highway-rightlane`` trains with highway's values.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["TASK_DEFAULTS", "expert_config", "is_continuous", "task_config", "task_defaults"]

TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "cartpole-center": {
        "expert": "dqn",
        "budget": 100_000,
        "paper_budget": 100_000,
        "demos": 50_000,
        "rl": {},  # the configs' defaults are tasks.md's CartPole reference values
        "bc": {},
    },
    "highway-rightlane": {
        "expert": "dqn",
        # 5e5 does not fit in 2 h: highway-env runs ~27 env steps/s here (training included), and the pipeline
        # makes two RL runs (the DQN expert for the demos, and the soft DQN) plus 10k demos and the evaluations:
        # ~80 min for 2 x 6e4 at that speed, leaving a margin for a busier machine.
        "budget": 60_000,
        "paper_budget": 500_000,
        "demos": 10_000,
        "rl": {  # tasks.md's highway reference values
            "learning_rate": 1e-4,
            "batch_size": 32,
            "buffer_size": 15_000,
            "gamma": 0.8,
            "train_freq": 1,
            "gradient_steps": 1,
            "learning_starts": 200,
            "target_update_interval": 50,
            "exploration_fraction": 0.7,
            "exploration_final_eps": 0.05,
            "hidden": [256, 256],
        },
        "bc": {},
    },
    "mountaincar-lessleft": {
        "expert": "sac",
        "budget": 100_000,
        "paper_budget": 100_000,
        "demos": 50_000,
        "rl": {  # tasks.md's MountainCar SAC (= rl-baselines3-zoo's MountainCarContinuous-v0 SAC)
            "learning_rate": 3e-4,
            "batch_size": 512,
            "buffer_size": 50_000,
            "gamma": 0.9999,
            "tau": 0.01,
            "train_freq": 32,
            "gradient_steps": 32,
            "learning_starts": 0,
            "ent_coef": "0.1",
            "use_sde": True,
            "log_std_init": -3.67,
            "hidden": [64, 64],
        },
        "bc": {"hidden": [64, 64]},
    },
    "parking-boundary": {
        "expert": "sac",
        # 8e5 does not fit in 2 h: SAC with 4 envs runs ~100 env steps/s here (one gradient step per 4 env
        # steps); ~80 min for 4.5e5 with the demos and the evaluations, leaving a margin for a busier machine.
        "budget": 450_000,
        "paper_budget": 800_000,
        "demos": 20_000,
        "rl": {  # tasks.md's parking SAC
            "learning_rate": 1e-3,
            "batch_size": 256,
            "buffer_size": 1_000_000,
            "gamma": 0.95,
            "tau": 0.005,
            "train_freq": 1,
            "gradient_steps": 1,
            "learning_starts": 100,
            "ent_coef": "auto",
            "n_envs": 4,
            "hidden": [256, 256, 256],
        },
        "bc": {"hidden": [256, 256, 256]},
    },
    # The MuJoCo tasks of the residual policy gradient: the SB3 PPO expert IS the prior (a diagonal Gaussian,
    # exported as sb3-ppo); no demos, no BC. PPO's usual MuJoCo values (SB3 / CleanRL), rollouts of 2048 steps
    # collected by 4 envs, rewards scaled by their running std (observations stay raw: a prior reads raw ones).
    **{
        task: {
            "expert": "ppo",
            "budget": 1_000_000,
            "paper_budget": 1_000_000,
            "demos": 0,
            "rl": {
                "n_envs": 4,
                "n_steps": 512,
                "batch_size": 64,
                "n_epochs": 10,
                "gamma": 0.99,
                "gae_lambda": 0.95,
                "learning_rate": 3e-4,
                "clip_range": 0.2,
                "norm_reward": True,
                "hidden": [64, 64],
            },
            "bc": {},
        }
        for task in ("halfcheetah-speedcap", "hopper-height", "ant-energy")
    },
}


def task_defaults(task: str) -> dict[str, Any]:
    """The task's entry; SystemExit naming the known tasks otherwise."""
    try:
        return TASK_DEFAULTS[task]
    except KeyError:
        raise SystemExit(f"unknown task {task!r}; expected one of {sorted(TASK_DEFAULTS)}") from None


def is_continuous(task: str) -> bool:
    """Box actions (SAC or PPO expert, Gaussian priors) rather than Discrete (DQN expert, categorical priors)."""
    return task_defaults(task)["expert"] in ("sac", "ppo")


def task_config(task: str | None, cls: type, section: str = "rl", **fixed: Any) -> Any:
    """``cls()`` with the fields the task's ``section`` sets (and, for RL configs, ``total_steps`` =
    the task's budget), then ``fixed``. An unknown task (or None) gives ``cls(**fixed)``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    entry = TASK_DEFAULTS.get(task or "")
    if entry is not None:
        if section == "rl" and "total_steps" in fields:
            values["total_steps"] = entry["budget"]
        values.update({k: v for k, v in entry.get(section, {}).items() if k in fields})
    base = cls()
    for name, value in list(values.items()):
        default = getattr(base, name)
        if isinstance(default, tuple):
            values[name] = tuple(value)
        elif isinstance(default, list):
            values[name] = list(value)
    return dataclasses.replace(base, **{**values, **fixed})


def expert_config(task: str | None, algo: str, **fixed: Any) -> Any:
    """The expert's config: the task's ``rl`` values when ``algo`` is the task's expert algorithm,
    else the class's defaults (e.g. ``ppo`` on cartpole-center); ``total_steps`` = the task's budget."""
    from rql4j_bridge.train.expert import EXPERT_ALGOS

    cls = EXPERT_ALGOS[algo]
    entry = TASK_DEFAULTS.get(task or "")
    if entry is None or entry["expert"] == algo:
        return task_config(task, cls, **fixed)
    return dataclasses.replace(cls(), **{"total_steps": entry["budget"], **fixed})
