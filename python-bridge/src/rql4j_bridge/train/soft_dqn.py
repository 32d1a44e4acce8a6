"""A compact maximum-entropy (soft) DQN in PyTorch: the "max-entropy DQN" prior of the RQL paper.

Stable-Baselines3 has no soft DQN, so this file is one: online and target Q-networks, a replay
buffer, and the soft Bellman target of method.md (Algorithm 1 with ``w = 0``, i.e. no prior):

    y = r + gamma * (1 - terminated) * alpha * logsumexp_{a'}(Q_target(s', a') / alpha)

Loss: Huber between ``Q(s, a)`` and ``y``; Adam; global gradient-norm clipping; hard target copy
every ``target_update_interval`` env steps (counted while collecting, as the reference does, so
with training bursts the target is the online network at the start of each burst). Acting:
epsilon-uniform early, otherwise a sample from the soft policy ``softmax(Q(s, .) / alpha)``.
``truncated`` (time limit) does NOT stop bootstrapping; only ``terminated`` does.

The trained network is exported as a ``categorical`` prior whose module is
``log_softmax(Q / alpha)`` -- method.md's max-entropy assumption
``pi(a|s) = exp((Q*(s,a) - V*(s)) / alpha)`` with ``V* = alpha * logsumexp(Q* / alpha)``.

Defaults are tasks.md's CartPole reference values (lr 2.3e-3, batch 64, buffer 1e5, gamma 0.99,
train every 256 steps for 128 gradient steps, learning starts 1000, target copy every 10 env
steps, epsilon 1 -> 0.04 over 16% of the run, Huber, clip 10) and alpha = 1.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rql4j_bridge.train.common import LogSoftmaxQ, flat_obs, mlp, seed_everything

__all__ = ["ReplayBuffer", "SoftDQN", "SoftDQNConfig", "soft_target", "soft_value"]


@dataclass
class SoftDQNConfig:
    """Soft DQN hyperparameters; defaults = tasks.md's CartPole reference values, alpha 1."""

    total_steps: int = 100_000  # env steps (paper-scale CartPole budget: 1e5)
    alpha: float = 1.0  # temperature of the soft value / soft policy (the RQL reference fixes 1)
    learning_rate: float = 2.3e-3  # Adam step size
    batch_size: int = 64  # transitions per gradient step
    buffer_size: int = 100_000  # replay capacity (transitions)
    gamma: float = 0.99  # discount
    train_freq: int = 256  # env steps between training bursts
    gradient_steps: int = 128  # gradient steps per burst
    learning_starts: int = 1000  # env steps of uniform-random acting before the first burst
    target_update_interval: int = 10  # env steps between hard copies online -> target
    exploration_fraction: float = 0.16  # fraction of the run over which epsilon decays linearly
    exploration_initial_eps: float = 1.0  # epsilon at step 0
    exploration_final_eps: float = 0.04  # epsilon after the decay
    max_grad_norm: float = 10.0  # global gradient-norm clip
    hidden: tuple[int, ...] = (256, 256)  # ReLU MLP widths of the Q-network
    seed: int = 0  # seeds torch (init), the replay / action RNG and the env's first reset
    log_interval: int = 5000  # env steps between progress lines (0: silent)

    def epsilon(self, step: int) -> float:
        """Linear decay from initial to final over ``exploration_fraction * total_steps`` env steps."""
        horizon = max(self.exploration_fraction * self.total_steps, 1.0)
        frac = min(step / horizon, 1.0)
        return self.exploration_initial_eps + frac * (self.exploration_final_eps - self.exploration_initial_eps)


def soft_value(q: Tensor, alpha: float, log_prior: Tensor | None = None, w: float = 0.0) -> Tensor:
    """``V(s) = alpha * logsumexp_a((Q(s,a) + w * log pi(a|s)) / alpha)`` over the last dimension."""
    logits = q if (log_prior is None or w == 0.0) else q + w * log_prior
    return alpha * torch.logsumexp(logits / alpha, dim=-1)


def soft_target(
    r: Tensor,
    terminated: Tensor,
    q_next: Tensor,
    alpha: float,
    gamma: float,
    log_prior: Tensor | None = None,
    w: float = 0.0,
) -> Tensor:
    """method.md, Algorithm 1's target:
    ``y = r + gamma * (1 - terminated) * alpha * logsumexp_{a'}((Q_target(s',a') + w * log pi(a'|s')) / alpha)``.

    The soft DQN prior uses ``w = 0`` (plain soft Q-learning); with ``log_prior`` and ``w`` this is
    the residual target. ``terminated`` is 1.0 / 0.0 (never the time-limit ``truncated``).
    """
    return r + gamma * (1.0 - terminated) * soft_value(q_next, alpha, log_prior, w)


class ReplayBuffer:
    """A ring buffer of ``(s, a, r, s', terminated)`` in numpy arrays."""

    def __init__(self, capacity: int, obs_dim: int) -> None:
        self.capacity = int(capacity)
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.pos = 0
        self.size = 0

    def add(self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray, terminated: bool) -> None:
        i = self.pos
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.terminated[i] = next_obs, float(terminated)
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[Tensor, ...]:
        idx = rng.integers(0, self.size, size=batch_size)
        return (
            torch.from_numpy(self.obs[idx]),
            torch.from_numpy(self.actions[idx]),
            torch.from_numpy(self.rewards[idx]),
            torch.from_numpy(self.next_obs[idx]),
            torch.from_numpy(self.terminated[idx]),
        )


class SoftDQN:
    """Soft DQN learner: ``train(env)`` then ``policy_module()`` (the prior) or ``save(path)``."""

    def __init__(self, obs_dim: int, n_actions: int, config: SoftDQNConfig) -> None:
        self.config = config
        self.obs_dim = obs_dim
        self.n_actions = n_actions
        seed_everything(config.seed)
        self.q_net = mlp(obs_dim, n_actions, config.hidden)
        self.q_target = mlp(obs_dim, n_actions, config.hidden)
        self.q_target.load_state_dict(self.q_net.state_dict())
        self.q_target.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.q_net.parameters(), lr=config.learning_rate)
        self.buffer = ReplayBuffer(config.buffer_size, obs_dim)
        self.rng = np.random.default_rng(config.seed)
        self.num_steps = 0
        self.num_updates = 0
        self.history: list[dict[str, float]] = []

    # -- acting -----------------------------------------------------------------------------------

    def act(self, obs: np.ndarray, epsilon: float) -> int:
        """Uniform with probability epsilon, else a sample from ``softmax(Q(s, .) / alpha)``."""
        if self.rng.random() < epsilon:
            return int(self.rng.integers(self.n_actions))
        with torch.no_grad():
            q = self.q_net(torch.from_numpy(obs).unsqueeze(0))[0]
            probs = torch.softmax(q.double() / self.config.alpha, dim=-1).numpy()
        return int(min(np.searchsorted(np.cumsum(probs), self.rng.random() * probs.sum()), self.n_actions - 1))

    # -- learning ---------------------------------------------------------------------------------

    def update(self) -> float:
        """One gradient step on a replay batch; returns the Huber loss."""
        cfg = self.config
        obs, actions, rewards, next_obs, terminated = self.buffer.sample(cfg.batch_size, self.rng)
        with torch.no_grad():
            y = soft_target(rewards, terminated, self.q_target(next_obs), cfg.alpha, cfg.gamma)
        q = self.q_net(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
        loss = F.smooth_l1_loss(q, y)
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.q_net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        self.num_updates += 1
        return float(loss.detach())

    def train(self, env: gymnasium.Env, log: Any = print) -> list[dict[str, float]]:
        """Runs ``total_steps`` env steps on ``env`` (its reward is what is learned); returns the log rows."""
        cfg = self.config
        obs = flat_obs(env.reset(seed=cfg.seed)[0])
        env.action_space.seed(cfg.seed)
        returns: deque[float] = deque(maxlen=20)
        lengths: deque[int] = deque(maxlen=20)
        ep_return, ep_len, episodes = 0.0, 0, 0
        losses: list[float] = []
        t0 = time.perf_counter()
        for step in range(1, cfg.total_steps + 1):
            epsilon = cfg.epsilon(step)
            action = int(self.rng.integers(self.n_actions)) if step <= cfg.learning_starts else self.act(obs, epsilon)
            next_obs_raw, reward, terminated, truncated, _ = env.step(action)
            next_obs = flat_obs(next_obs_raw)
            # s' is the real next state even on truncation: bootstrapping continues there.
            self.buffer.add(obs, action, float(reward), next_obs, bool(terminated))
            ep_return += float(reward)
            ep_len += 1
            obs = next_obs
            if terminated or truncated:
                returns.append(ep_return)
                lengths.append(ep_len)
                episodes += 1
                ep_return, ep_len = 0.0, 0
                obs = flat_obs(env.reset()[0])
            self.num_steps = step
            if step % cfg.target_update_interval == 0:
                self.q_target.load_state_dict(self.q_net.state_dict())
            if step % cfg.train_freq == 0 and step > cfg.learning_starts:
                losses.extend(self.update() for _ in range(cfg.gradient_steps))
            if cfg.log_interval and (step % cfg.log_interval == 0 or step == cfg.total_steps):
                elapsed = time.perf_counter() - t0
                row = {
                    "steps": step,
                    "episodes": episodes,
                    "mean_return": float(np.mean(returns)) if returns else float("nan"),
                    "mean_length": float(np.mean(lengths)) if lengths else float("nan"),
                    "epsilon": epsilon,
                    "loss": float(np.mean(losses)) if losses else float("nan"),
                    "updates": self.num_updates,
                    "steps_per_s": step / elapsed,
                }
                self.history.append(row)
                losses = []
                if log is not None:
                    log(
                        f"soft-dqn  steps {step:>7d}  episodes {episodes:>5d}  "
                        f"return(last 20) {row['mean_return']:8.2f}  "
                        f"length {row['mean_length']:6.1f}  eps {epsilon:.3f}  loss {row['loss']:.4f}  "
                        f"updates {self.num_updates:>6d}  {row['steps_per_s']:.0f} steps/s"
                    )
        return self.history

    # -- export -----------------------------------------------------------------------------------

    def policy_module(self) -> LogSoftmaxQ:
        """The prior module ``log_softmax(Q / alpha)`` over a copy of the online network."""
        q = mlp(self.obs_dim, self.n_actions, self.config.hidden)
        q.load_state_dict(self.q_net.state_dict())
        return LogSoftmaxQ(q, self.config.alpha).eval()

    def save(self, path: str | Path, **extra: Any) -> Path:
        """The raw checkpoint (Q-network state dict, config): the package's ``source.file``."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "kind": "soft-dqn",
                "config": asdict(self.config),
                "obs_dim": self.obs_dim,
                "n_actions": self.n_actions,
                "q_net": self.q_net.state_dict(),
                "history": self.history,
                **extra,
            },
            p,
        )
        return p
