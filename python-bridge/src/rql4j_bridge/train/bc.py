"""Behaviour cloning on expert demos.

- Discrete actions: an MLP classifier (cross-entropy), exported as ``log_softmax(logits)`` (``categorical``).
- Box actions: an MLP -> ``(mean, log_std)`` of a tanh-squashed Gaussian, trained by maximum
  likelihood of the expert's actions normalized to [-1, 1] -- the loss is exactly the package's
  ``-log pi(a|s)`` (``squashed_gaussian_log_prob``, docs/prior-package.md) -- exported as
  ``squashed_gaussian``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rql4j_bridge.train.common import LogSoftmaxLogits, SquashedGaussianMLP, mlp, seed_everything

__all__ = ["BCConfig", "GaussianBCConfig", "normalize_actions", "train_bc", "train_gaussian_bc"]


@dataclass
class BCConfig:
    """Behaviour-cloning hyperparameters."""

    epochs: int = 10  # passes over the training split
    batch_size: int = 256  # minibatch
    learning_rate: float = 1e-3  # Adam step size
    holdout: float = 0.1  # fraction of the demos held out for the accuracy check
    hidden: tuple[int, ...] = (256, 256)  # ReLU MLP widths
    seed: int = 0  # seeds the split, the shuffles and the init


@dataclass
class GaussianBCConfig(BCConfig):
    """Gaussian (Box-action) behaviour cloning: BCConfig's fields and the log-std clamp.

    The expert's demos are deterministic, so the maximum-likelihood std shrinks to the fit's
    residual; ``log_std_min`` bounds how narrow (how close to a hard constraint) the prior gets."""

    log_std_min: float = -5.0  # lower clamp of the pre-tanh log std
    log_std_max: float = 2.0  # upper clamp (SB3's SAC value)


def normalize_actions(actions: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Env actions -> [-1, 1] (the inverse of the package's ``tanh_to_box``), clipped, float32 ``[N, d]``."""
    a = np.asarray(actions, np.float64).reshape(len(actions), -1)
    lo, hi = np.asarray(low, np.float64).reshape(-1), np.asarray(high, np.float64).reshape(-1)
    return np.clip(2.0 * (a - lo) / (hi - lo) - 1.0, -1.0, 1.0).astype(np.float32)


def _split(n: int, holdout: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    n_hold = max(1, int(round(holdout * n))) if holdout > 0 else 0
    return perm[:n_hold], perm[n_hold:]


def train_gaussian_bc(
    obs: np.ndarray, actions: np.ndarray, config: GaussianBCConfig, log: Any = print
) -> tuple[SquashedGaussianMLP, dict[str, Any]]:
    """Maximum likelihood of the squashed Gaussian on ``actions`` (normalized to [-1, 1], ``[N, d]``).

    Returns the prior module and a summary: per epoch the train / held-out negative log-likelihood
    (nats per transition, the package's log pi) and the held-out mean absolute error of the
    deterministic action ``tanh(mean)``; at the end the mean std (pre-tanh) on all demos."""
    from rql4j_bridge.prior.package import squashed_gaussian_log_prob

    seed_everything(config.seed)
    rng = np.random.default_rng(config.seed)
    a_all = np.asarray(actions, np.float32).reshape(len(actions), -1)
    if np.abs(a_all).max(initial=0.0) > 1.0:
        raise ValueError("train_gaussian_bc takes actions normalized to [-1, 1] (see normalize_actions)")
    n = len(a_all)
    hold, train = _split(n, config.holdout, rng)
    x = torch.from_numpy(np.ascontiguousarray(obs, np.float32))
    y = torch.from_numpy(np.ascontiguousarray(a_all))
    net = SquashedGaussianMLP(x.shape[1], y.shape[1], config.hidden, config.log_std_min, config.log_std_max)
    opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate)

    def nll(idx: torch.Tensor) -> torch.Tensor:
        mean, log_std = net(x[idx])
        return -squashed_gaussian_log_prob(mean, log_std, y[idx]).mean()

    history = []
    t0 = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        net.train()
        order = train[rng.permutation(len(train))]
        total = 0.0
        for i in range(0, len(order), config.batch_size):
            idx = torch.from_numpy(order[i : i + config.batch_size])
            loss = nll(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        row = {"epoch": epoch, "train_nll": total / max(len(order), 1)}
        if len(hold):
            with torch.no_grad():
                h = torch.from_numpy(hold)
                mean, _ = net(x[h])
                row["holdout_nll"] = float(nll(h))
                row["holdout_mae"] = float((torch.tanh(mean) - y[h]).abs().mean())
        history.append(row)
        if log is not None:
            log(
                f"bc  epoch {epoch:>3d}  train nll {row['train_nll']:.4f}"
                + (
                    f"  held-out nll {row['holdout_nll']:.4f}  held-out |tanh(mean) - a| {row['holdout_mae']:.4f}"
                    if len(hold)
                    else ""
                )
            )
    wall = time.perf_counter() - t0
    net.eval()
    with torch.no_grad():
        _, log_std = net(x)
        std = torch.exp(log_std)
    summary = {
        "config": asdict(config),
        "transitions": n,
        "train": len(train),
        "holdout": len(hold),
        "history": history,
        "holdout_nll": history[-1].get("holdout_nll") if history else None,
        "holdout_mae": history[-1].get("holdout_mae") if history else None,
        "mean_std_on_demos": float(std.mean()),
        "wall_s": wall,
        "samples_per_s": config.epochs * len(train) / max(wall, 1e-9),
    }
    return net, summary


def train_bc(
    obs: np.ndarray, actions: np.ndarray, n_actions: int, config: BCConfig, log: Any = print
) -> tuple[LogSoftmaxLogits, dict[str, Any]]:
    """Trains the classifier; returns the prior module and a summary (held-out accuracy per epoch, wall)."""
    seed_everything(config.seed)
    rng = np.random.default_rng(config.seed)
    n = len(actions)
    perm = rng.permutation(n)
    n_hold = max(1, int(round(config.holdout * n))) if config.holdout > 0 else 0
    hold, train = perm[:n_hold], perm[n_hold:]
    x = torch.from_numpy(np.ascontiguousarray(obs, np.float32))
    y = torch.from_numpy(np.ascontiguousarray(actions, np.int64))
    net = mlp(x.shape[1], n_actions, config.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    history = []
    t0 = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        net.train()
        order = train[rng.permutation(len(train))]
        total = 0.0
        for i in range(0, len(order), config.batch_size):
            idx = torch.from_numpy(order[i : i + config.batch_size])
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        row = {"epoch": epoch, "train_loss": total / max(len(order), 1)}
        if n_hold:
            with torch.no_grad():
                logits = net(x[torch.from_numpy(hold)])
                row["holdout_loss"] = float(F.cross_entropy(logits, y[torch.from_numpy(hold)]))
                row["holdout_accuracy"] = float((logits.argmax(1) == y[torch.from_numpy(hold)]).double().mean())
        history.append(row)
        if log is not None:
            log(
                f"bc  epoch {epoch:>3d}  train loss {row['train_loss']:.4f}"
                + (
                    f"  held-out loss {row['holdout_loss']:.4f}  held-out accuracy {row['holdout_accuracy']:.4f}"
                    if n_hold
                    else ""
                )
            )
    wall = time.perf_counter() - t0
    net.eval()
    with torch.no_grad():
        log_probs = torch.log_softmax(net(x), dim=-1)
        entropy = float(-(log_probs.exp() * log_probs).sum(1).mean())
    summary = {
        "config": asdict(config),
        "transitions": n,
        "train": len(train),
        "holdout": n_hold,
        "history": history,
        "holdout_accuracy": history[-1].get("holdout_accuracy") if history else None,
        "mean_entropy_on_demos": entropy,
        "wall_s": wall,
        "samples_per_s": config.epochs * len(train) / max(wall, 1e-9),
    }
    return LogSoftmaxLogits(net), summary


def save_bc_checkpoint(
    module: LogSoftmaxLogits | SquashedGaussianMLP, summary: dict[str, Any], path: str | Path
) -> Path:
    """The raw checkpoint (the package's ``source.file``): the network's state dict and the summary."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    net = module.net if isinstance(module, LogSoftmaxLogits) else module
    torch.save({"kind": "bc", "net": net.state_dict(), "summary": summary}, p)
    return p
