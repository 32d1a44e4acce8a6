"""The expert for behaviour cloning: a Stable-Baselines3 agent on a task's BASIC variant, seeded.

Two algorithms, both with rl-baselines3-zoo's tuned CartPole-v1 hyperparameters:

- ``dqn`` (default): lr 2.3e-3, batch 64, buffer 1e5, gamma 0.99, train every 256 steps for 128
  gradient steps, learning starts 1000, target copy every 10 steps, epsilon 1 -> 0.04 over 16%,
  [256, 256] -- the same values tasks.md lists for the reference CartPole learner.
- ``ppo``: 8 envs, n_steps 32, batch 256, GAE 0.8, gamma 0.98, 20 epochs, linear lr 1e-3 and
  clip 0.2 -> 0, [64, 64] Tanh.

On cartpole-center's basic reward ``1 - 10 |theta| / 0.2095`` (in [-9, 1]) PPO is NOT reliable:
a random policy's steps are mostly negative near the end of an episode, and for some seeds PPO
converges to "drop the pole as fast as possible" (~9-step episodes, return ~ -30) instead of
balancing. DQN's bootstrapped targets find the balancing optimum; hence the default.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rql4j_bridge.train.common import env_id, seed_everything

__all__ = ["EXPERT_ALGOS", "DQNExpertConfig", "PPOExpertConfig", "expert_act_fn", "load_expert", "train_expert"]


@dataclass
class DQNExpertConfig:
    """SB3 DQN hyperparameters (rl-baselines3-zoo CartPole-v1 = tasks.md's reference CartPole values)."""

    total_steps: int = 100_000  # env steps
    learning_rate: float = 2.3e-3  # Adam step size
    batch_size: int = 64  # transitions per gradient step
    buffer_size: int = 100_000  # replay capacity
    learning_starts: int = 1000  # env steps before learning
    gamma: float = 0.99  # discount
    target_update_interval: int = 10  # env steps between target copies
    train_freq: int = 256  # env steps between training bursts
    gradient_steps: int = 128  # gradient steps per burst
    exploration_fraction: float = 0.16  # epsilon decay horizon (fraction of the run)
    exploration_final_eps: float = 0.04  # final epsilon
    hidden: list[int] = field(default_factory=lambda: [256, 256])  # ReLU MLP widths
    seed: int = 0  # seeds SB3 (torch, numpy, env)


@dataclass
class PPOExpertConfig:
    """SB3 PPO hyperparameters (rl-baselines3-zoo CartPole-v1); ``total_steps`` counts all envs' steps."""

    total_steps: int = 100_000  # env steps (all envs together)
    n_envs: int = 8  # parallel envs (DummyVecEnv, one process)
    n_steps: int = 32  # rollout length per env
    batch_size: int = 256  # minibatch
    n_epochs: int = 20  # passes over each rollout
    gamma: float = 0.98  # discount
    gae_lambda: float = 0.8  # GAE lambda
    ent_coef: float = 0.0  # entropy bonus
    learning_rate: float = 1e-3  # initial Adam lr, decayed linearly to 0
    clip_range: float = 0.2  # initial PPO clip, decayed linearly to 0
    hidden: list[int] = field(default_factory=lambda: [64, 64])  # SB3 MlpPolicy default (Tanh)
    seed: int = 0  # seeds SB3 (torch, numpy, envs)


EXPERT_ALGOS: dict[str, type] = {"dqn": DQNExpertConfig, "ppo": PPOExpertConfig}


def _linear(start: float) -> Any:
    return lambda progress_remaining: progress_remaining * start


def train_expert(task: str, algo: str, config: Any, out_zip: str | Path, verbose: int = 0) -> dict[str, Any]:
    """Trains ``algo`` on ``task``'s basic variant, saves the zip (and ``<zip>.json`` naming the
    algorithm and config); returns a summary (wall time, config)."""
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.env_util import make_vec_env

    seed_everything(config.seed)
    if algo == "ppo":
        venv = make_vec_env(env_id(task, "basic"), n_envs=config.n_envs, seed=config.seed)
        model: Any = PPO(
            "MlpPolicy",
            venv,
            n_steps=config.n_steps,
            batch_size=config.batch_size,
            n_epochs=config.n_epochs,
            gamma=config.gamma,
            gae_lambda=config.gae_lambda,
            ent_coef=config.ent_coef,
            learning_rate=_linear(config.learning_rate),
            clip_range=_linear(config.clip_range),
            policy_kwargs={"net_arch": list(config.hidden)},
            seed=config.seed,
            device="cpu",
            verbose=verbose,
        )
    elif algo == "dqn":
        venv = make_vec_env(env_id(task, "basic"), n_envs=1, seed=config.seed)
        model = DQN(
            "MlpPolicy",
            venv,
            learning_rate=config.learning_rate,
            batch_size=config.batch_size,
            buffer_size=config.buffer_size,
            learning_starts=config.learning_starts,
            gamma=config.gamma,
            target_update_interval=config.target_update_interval,
            train_freq=config.train_freq,
            gradient_steps=config.gradient_steps,
            exploration_fraction=config.exploration_fraction,
            exploration_final_eps=config.exploration_final_eps,
            policy_kwargs={"net_arch": list(config.hidden)},
            seed=config.seed,
            device="cpu",
            verbose=verbose,
        )
    else:
        raise ValueError(f"unknown expert algorithm {algo!r}; expected one of {list(EXPERT_ALGOS)}")
    t0 = time.perf_counter()
    model.learn(total_timesteps=config.total_steps)
    wall = time.perf_counter() - t0
    out = Path(out_zip)
    if out.suffix != ".zip":
        out = out.with_name(out.name + ".zip")
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    venv.close()
    summary = {"task": task, "algo": algo, "config": asdict(config), "wall_s": wall, "zip": str(out)}
    out.with_name(out.name + ".json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def load_expert(path: str | Path, algo: str | None = None) -> Any:
    """Loads an expert zip; the algorithm comes from ``algo`` or the ``<zip>.json`` written beside it."""
    from stable_baselines3 import DQN, PPO

    p = Path(path)
    if algo is None:
        meta = p.with_name(p.name + ".json")
        algo = json.loads(meta.read_text(encoding="utf-8"))["algo"] if meta.is_file() else None
    if algo is None:
        raise ValueError(f"{p}: no {p.name}.json beside it saying which algorithm made it; pass --algo")
    return {"ppo": PPO, "dqn": DQN}[algo].load(str(p), device="cpu")


def expert_act_fn(model: Any) -> Any:
    """``obs -> action`` with the expert's deterministic (argmax) policy."""

    def act(obs: Any) -> int:
        action, _ = model.predict(np.asarray(obs, dtype=np.float32), deterministic=True)
        return int(np.asarray(action).reshape(()))

    return act
