"""Shared pieces of the prior-training pipeline: task ids, seeding, the MLP, the exported modules, provenance."""

from __future__ import annotations

import datetime as _dt
import json
import random
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from torch import Tensor, nn

import rql4j_bridge.tasks  # noqa: F401  (registers the rql4j/* ids)

__all__ = [
    "LogSoftmaxLogits",
    "LogSoftmaxQ",
    "SquashedGaussianMLP",
    "command_line",
    "env_id",
    "flat_obs",
    "library_versions",
    "make_env",
    "mlp",
    "seed_everything",
    "utc_now",
    "write_json",
]


def env_id(task: str, variant: str) -> str:
    """``cartpole-center`` + ``basic`` -> ``rql4j/cartpole-center-basic-v0`` (a full id passes through)."""
    if task.startswith("rql4j/"):
        return task
    return rql4j_bridge.tasks.env_id(task, variant)


def make_env(task: str, variant: str) -> gymnasium.Env:
    return gymnasium.make(env_id(task, variant))


def flat_obs(obs: Any) -> np.ndarray:
    """A Box observation as the flat float32 row the prior modules take (observation.flatten = "none": C order)."""
    return np.asarray(obs, dtype=np.float32).reshape(-1)


def seed_everything(seed: int, threads: int = 1) -> None:
    """Seeds Python, numpy's global RNG and torch, and pins torch to ``threads`` intra-op threads
    (1 on our 2-core machines: faster there, and bitwise reproducible)."""
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256)) -> nn.Sequential:
    """ReLU MLP ``in_dim -> hidden... -> out_dim`` (no output activation)."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        width = int(h)
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class LogSoftmaxLogits(nn.Module):
    """Categorical prior module of a classifier: ``log_softmax(logits(obs))`` (source kind ``bc``)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, obs: Tensor) -> Tensor:
        return torch.log_softmax(self.net(obs), dim=-1)


class LogSoftmaxQ(nn.Module):
    """Categorical prior module of a soft Q-network: ``log_softmax(Q(obs, .) / alpha)`` (method.md's
    max-entropy assumption ``pi(a|s) = exp((Q(s,a) - V(s)) / alpha)``; source kind ``soft-dqn``).

    ``alpha`` is a plain float attribute (no class-level annotation: under ``from __future__ import
    annotations`` TorchScript cannot resolve the string ``'float'`` and scripting fails)."""

    def __init__(self, q_net: nn.Module, alpha: float) -> None:
        super().__init__()
        self.q_net = q_net
        self.alpha = float(alpha)

    def forward(self, obs: Tensor) -> Tensor:
        return torch.log_softmax(self.q_net(obs) / self.alpha, dim=-1)


class SquashedGaussianMLP(nn.Module):
    """Gaussian prior module of a Box-action policy (``squashed_gaussian``, source kind ``bc``):
    ``h = trunk(obs)`` (ReLU MLP, ReLU after its last layer), ``mean = mu(h)``,
    ``log_std = clamp(log_std_head(h), log_std_min, log_std_max)``, both over the pre-tanh action.

    The bounds are plain float attributes (see LogSoftmaxQ on TorchScript and annotations)."""

    def __init__(
        self, obs_dim: int, action_dim: int, hidden: Sequence[int], log_std_min: float, log_std_max: float
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = obs_dim
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        self.trunk = nn.Sequential(*layers)
        self.mu = nn.Linear(width, action_dim)
        self.log_std_head = nn.Linear(width, action_dim)
        self.log_std_min = float(log_std_min)
        self.log_std_max = float(log_std_max)

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        h = self.trunk(obs)
        return self.mu(h), torch.clamp(self.log_std_head(h), self.log_std_min, self.log_std_max)


def library_versions() -> dict[str, str | None]:
    """Library versions for provenance: the same as a prior package's ``versions``."""
    from rql4j_bridge.prior.package import versions

    return versions()


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed (``python -m rql4j_bridge.train ...``), for provenance."""
    args = list(sys.argv[1:] if argv is None else argv)
    return shlex.join(["python", "-m", "rql4j_bridge.train", *args])


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def write_json(path: str | Path, data: Any) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return p
