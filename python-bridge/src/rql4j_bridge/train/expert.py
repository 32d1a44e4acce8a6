"""The expert: a Stable-Baselines3 agent on a task's BASIC variant, seeded.

For Discrete tasks the expert only makes the demos of the BC prior; for Box tasks it is SAC, and
the SAC agent itself is the max-entropy prior (exported as a ``squashed_gaussian`` package).
The config classes' defaults are CartPole's (DQN, PPO) and SB3's (SAC); a task's own values come
from ``rql4j_bridge.train.defaults.TASK_DEFAULTS``:

- ``dqn`` (the Discrete tasks' expert): lr 2.3e-3, batch 64, buffer 1e5, gamma 0.99, train every 256 steps for 128
  gradient steps, learning starts 1000, target copy every 10 steps, epsilon 1 -> 0.04 over 16%,
  [256, 256] -- the same values tasks.md lists for the reference CartPole learner.
- ``ppo``: 8 envs, n_steps 32, batch 256, GAE 0.8, gamma 0.98, 20 epochs, linear lr 1e-3 and
  clip 0.2 -> 0, [64, 64] Tanh.

On cartpole-center's basic reward ``1 - 10 |theta| / 0.2095`` (in [-9, 1]) PPO is NOT reliable:
a random policy's steps are mostly negative near the end of an episode, and for some seeds PPO
converges to "drop the pole as fast as possible" (~9-step episodes, return ~ -30) instead of
balancing. DQN's bootstrapped targets find the balancing optimum; hence the default.

- ``sac``: SB3 SAC (squashed Gaussian actor; gSDE exploration with ``use_sde``), ``n_envs``
  DummyVecEnv copies in one process (SB3 counts ``train_freq`` in steps of all of them at once).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rql4j_bridge.train.common import env_id, seed_everything

__all__ = [
    "EXPERT_ALGOS",
    "DQNExpertConfig",
    "PPOExpertConfig",
    "SACExpertConfig",
    "UNPICKLE_REFUSED",
    "expert_act_fn",
    "load_expert",
    "train_expert",
]


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
    max_grad_norm: float = 0.5  # global gradient-norm clip (SB3's default)
    log_std_init: float = 0.0  # initial log std of a Box policy (SB3's default)
    norm_reward: bool = False  # scale rewards by VecNormalize's running return std (observations stay raw)
    hidden: list[int] = field(default_factory=lambda: [64, 64])  # SB3 MlpPolicy default (Tanh)
    seed: int = 0  # seeds SB3 (torch, numpy, envs)


@dataclass
class SACExpertConfig:
    """SB3 SAC hyperparameters (defaults: SB3's); ``total_steps`` counts all envs' steps."""

    total_steps: int = 100_000  # env steps (all envs together)
    learning_rate: float = 3e-4  # Adam step size (actor, critics, entropy coefficient)
    batch_size: int = 256  # transitions per gradient step
    buffer_size: int = 1_000_000  # replay capacity
    learning_starts: int = 100  # env steps of uniform-random acting before learning
    gamma: float = 0.99  # discount
    tau: float = 0.005  # Polyak coefficient of the target critics
    train_freq: int = 1  # vector-env steps between training bursts
    gradient_steps: int = 1  # gradient steps per burst
    ent_coef: str = "auto"  # entropy coefficient: "auto" (learned, target entropy -dim(A)) or a number, e.g. "0.1"
    use_sde: bool = False  # gSDE exploration (state-dependent noise)
    log_std_init: float = -3.0  # initial log std (SB3's policy_kwargs.log_std_init)
    n_envs: int = 1  # parallel envs (DummyVecEnv, one process)
    hidden: list[int] = field(default_factory=lambda: [256, 256])  # ReLU MLP widths (actor and critics)
    seed: int = 0  # seeds SB3 (torch, numpy, envs)


EXPERT_ALGOS: dict[str, type] = {"dqn": DQNExpertConfig, "ppo": PPOExpertConfig, "sac": SACExpertConfig}


def _linear(start: float) -> Any:
    return lambda progress_remaining: progress_remaining * start


def _ent_coef(value: str) -> str | float:
    """``"auto"`` / ``"auto_0.1"`` pass through (learned); a number is a fixed coefficient."""
    try:
        return float(value)
    except ValueError:
        if not value.startswith("auto"):
            raise ValueError(f"ent_coef must be 'auto', 'auto_<init>' or a number, got {value!r}") from None
        return value


def _ent_coef_now(model: Any) -> float | None:
    """SAC's current entropy coefficient (learned or fixed); None for other algorithms."""
    import torch

    if getattr(model, "log_ent_coef", None) is not None:
        return float(torch.exp(model.log_ent_coef.detach()).item())
    coef = getattr(model, "ent_coef_tensor", None)
    return float(coef.item()) if coef is not None else None


def _progress_callback(log_interval: int, log: Callable[[str], None] | None, algo: str) -> Any:
    """An SB3 callback that records (and prints) progress every ``log_interval`` env steps."""
    from stable_baselines3.common.callbacks import BaseCallback

    class Progress(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.history: list[dict[str, Any]] = []
            self.t0 = time.perf_counter()
            self.next_at = log_interval

        def _row(self) -> dict[str, Any]:
            episodes = list(self.model.ep_info_buffer)[-20:]
            row: dict[str, Any] = {
                "steps": int(self.num_timesteps),
                "episodes": int(getattr(self.model, "_episode_num", 0)),
                "mean_return": float(np.mean([e["r"] for e in episodes])) if episodes else float("nan"),
                "mean_length": float(np.mean([e["l"] for e in episodes])) if episodes else float("nan"),
                "steps_per_s": self.num_timesteps / max(time.perf_counter() - self.t0, 1e-9),
            }
            ent = _ent_coef_now(self.model)
            if ent is not None:
                row["ent_coef"] = ent
            return row

        def _on_step(self) -> bool:
            if log_interval and self.num_timesteps >= self.next_at:
                self.next_at += log_interval
                row = self._row()
                self.history.append(row)
                if log is not None:
                    log(
                        f"expert ({algo})  steps {row['steps']:>7d}  episodes {row['episodes']:>5d}  "
                        f"return(last 20) {row['mean_return']:8.2f}  length {row['mean_length']:6.1f}"
                        + (f"  ent_coef {row['ent_coef']:.4f}" if "ent_coef" in row else "")
                        + f"  {row['steps_per_s']:.0f} steps/s"
                    )
            return True

        def _on_training_end(self) -> None:
            if not self.history or self.history[-1]["steps"] != self.num_timesteps:
                self.history.append(self._row())

    return Progress()


def train_expert(
    task: str,
    algo: str,
    config: Any,
    out_zip: str | Path,
    verbose: int = 0,
    *,
    log_interval: int = 0,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Trains ``algo`` on ``task``'s basic variant, saves the zip (and ``<zip>.json`` naming the
    algorithm and config); returns a summary (wall time, env steps/s, config, progress rows every
    ``log_interval`` env steps -- printed with ``log`` -- and the last one)."""
    from stable_baselines3 import DQN, PPO, SAC
    from stable_baselines3.common.env_util import make_vec_env

    seed_everything(config.seed)
    if algo == "ppo":
        venv = make_vec_env(env_id(task, "basic"), n_envs=config.n_envs, seed=config.seed)
        if config.norm_reward:
            # Only the rewards are scaled: the policy still reads raw observations, so the zip exports as is.
            from stable_baselines3.common.vec_env import VecNormalize

            venv = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=config.gamma)
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
            max_grad_norm=config.max_grad_norm,
            policy_kwargs={"net_arch": list(config.hidden), "log_std_init": config.log_std_init},
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
    elif algo == "sac":
        venv = make_vec_env(env_id(task, "basic"), n_envs=config.n_envs, seed=config.seed)
        model = SAC(
            "MlpPolicy",
            venv,
            learning_rate=config.learning_rate,
            batch_size=config.batch_size,
            buffer_size=config.buffer_size,
            learning_starts=config.learning_starts,
            gamma=config.gamma,
            tau=config.tau,
            train_freq=config.train_freq,
            gradient_steps=config.gradient_steps,
            ent_coef=_ent_coef(config.ent_coef),
            use_sde=config.use_sde,
            policy_kwargs={"net_arch": list(config.hidden), "log_std_init": config.log_std_init},
            seed=config.seed,
            device="cpu",
            verbose=verbose,
        )
    else:
        raise ValueError(f"unknown expert algorithm {algo!r}; expected one of {list(EXPERT_ALGOS)}")
    progress = _progress_callback(log_interval, log, algo)
    t0 = time.perf_counter()
    model.learn(total_timesteps=config.total_steps, callback=progress)
    wall = time.perf_counter() - t0
    out = Path(out_zip)
    if out.suffix != ".zip":
        out = out.with_name(out.name + ".zip")
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    venv.close()
    summary = {
        "task": task,
        "algo": algo,
        "config": asdict(config),
        "wall_s": wall,
        "steps_per_s": model.num_timesteps / max(wall, 1e-9),
        "zip": str(out),
        "history": progress.history,
        "final_train": progress.history[-1] if progress.history else {},
    }
    if algo == "sac":
        summary["final_ent_coef"] = _ent_coef_now(model)
    out.with_name(out.name + ".json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


UNPICKLE_REFUSED = (
    "{path}: loading an SB3 zip unpickles the objects stored in it (its policy class, spaces and schedules), "
    "which runs code from the file. Pass --allow-unpickle only for a zip you trust, e.g. one `train expert` made "
    "(the pipeline loads its own experts without it)"
)


def load_expert(path: str | Path, algo: str | None = None, *, allow_unpickle: bool = False) -> Any:
    """Loads an expert zip; the algorithm comes from ``algo`` or the ``<zip>.json`` written beside it.

    SB3's ``load`` unpickles (runs code from the file): a ValueError unless ``allow_unpickle`` (the
    ``--allow-unpickle`` flag, or the pipeline loading the zip it has just written)."""
    p = Path(path)
    if not allow_unpickle:
        raise ValueError(UNPICKLE_REFUSED.format(path=p))
    from stable_baselines3 import DQN, PPO, SAC

    if algo is None:
        meta = p.with_name(p.name + ".json")
        algo = json.loads(meta.read_text(encoding="utf-8"))["algo"] if meta.is_file() else None
    if algo is None:
        raise ValueError(f"{p}: no {p.name}.json beside it saying which algorithm made it; pass --algo")
    return {"ppo": PPO, "dqn": DQN, "sac": SAC}[algo].load(str(p), device="cpu")


def expert_act_fn(model: Any) -> Any:
    """``obs -> action`` with the expert's deterministic policy: the argmax (Discrete) or, for a
    Box, SB3's deterministic action (SAC: ``tanh(mean)`` rescaled to the Box) as a float32 array."""
    import gymnasium

    space = model.action_space
    if isinstance(space, gymnasium.spaces.Box):
        shape = space.shape

        def act_box(obs: Any) -> np.ndarray:
            action, _ = model.predict(np.asarray(obs, dtype=np.float32), deterministic=True)
            return np.asarray(action, dtype=np.float32).reshape(shape)

        return act_box

    def act(obs: Any) -> int:
        action, _ = model.predict(np.asarray(obs, dtype=np.float32), deterministic=True)
        return int(np.asarray(action).reshape(()))

    return act
