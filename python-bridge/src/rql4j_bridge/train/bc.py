"""Behaviour cloning: an MLP classifier (cross-entropy) on expert demos, exported as ``log_softmax(logits)``."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rql4j_bridge.train.common import LogSoftmaxLogits, mlp, seed_everything

__all__ = ["BCConfig", "train_bc"]


@dataclass
class BCConfig:
    """Behaviour-cloning hyperparameters."""

    epochs: int = 10  # passes over the training split
    batch_size: int = 256  # minibatch
    learning_rate: float = 1e-3  # Adam step size
    holdout: float = 0.1  # fraction of the demos held out for the accuracy check
    hidden: tuple[int, ...] = (256, 256)  # ReLU MLP widths
    seed: int = 0  # seeds the split, the shuffles and the init


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
    }
    return LogSoftmaxLogits(net), summary


def save_bc_checkpoint(module: LogSoftmaxLogits, summary: dict[str, Any], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": "bc", "net": module.net.state_dict(), "summary": summary}, p)
    return p
