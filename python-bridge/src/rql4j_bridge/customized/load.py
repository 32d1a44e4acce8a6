"""``load_policy``: an exported customized policy (or any ``rql4j-prior/1`` package) as a torch module.

No Java and no run folder: the package's ``policy.pt`` is loaded with ``torch.jit.load`` after the
package loader validated it (docs/prior-package.md). The returned :class:`ExportedPolicy` has

- ``forward(obs)``: the module's outputs for a float32 ``[B, obs_dim]`` tensor (``log_probs``, or
  ``(mean, log_std)``);
- ``act(obs)``: the deterministic action in env units for that tensor (the module's own ``act``
  when it has one, as ``export_policy`` writes it; else the package format's mode: argmax + start,
  ``tanh(mean)`` rescaled to the Box, the mean clipped to the Box);
- ``predict(observation, state=None, episode_start=None, deterministic=True)`` in the manner of
  Stable-Baselines3: numpy (or the env's raw observation) in, ``(actions, None)`` out, for one
  observation or a batch; ``deterministic=False`` samples the policy's distribution.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from rql4j_bridge.prior.package import PriorPackage, load_prior_package, quiet_jit

__all__ = ["ExportedPolicy", "load_policy"]


def load_policy(path: str | Path, *, seed: int | None = None) -> ExportedPolicy:
    """Loads an exported policy folder (a prior package); ``seed`` seeds ``predict``'s sampling.

    FileNotFoundError when there is no package at ``path``; PriorPackageError (a ValueError naming
    the file and field) when it is malformed.
    """
    return ExportedPolicy(load_prior_package(path), seed=seed)


class ExportedPolicy(nn.Module):
    """A loaded package: ``forward``, ``act`` and SB3-style ``predict``."""

    def __init__(self, package: PriorPackage, *, seed: int | None = None) -> None:
        super().__init__()
        self.module = package.module
        self.package = package
        self.distribution = package.distribution
        self.observation_space = package.observation_space
        self.action_space = package.action_space
        self.obs_dim = package.obs_dim
        self._has_act = _has_method(package.module, "act")
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(int(seed))
        scaling = package.sidecar.get("action_scaling")
        if isinstance(self.action_space, spaces.Box):
            self._low = torch.tensor(np.asarray(self.action_space.low, np.float64).ravel())
            self._high = torch.tensor(np.asarray(self.action_space.high, np.float64).ravel())
        self._scaling = None if scaling is None else scaling["kind"]

    def extra_repr(self) -> str:
        return f"{self.package.name!r}, {self.distribution}, obs_dim={self.obs_dim}, action_space={self.action_space}"

    def forward(self, obs: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return self.module(obs)

    def act(self, obs: Tensor) -> Tensor:
        """The deterministic action for a float32 ``[B, obs_dim]`` batch, in env units."""
        if self._has_act:
            return self.module.act(obs)
        out = self.module(obs)
        if self.distribution == "categorical":
            return torch.argmax(out, dim=1) + int(self.action_space.start)  # type: ignore[attr-defined]
        return self._to_box(out[0], squash=self.distribution == "squashed_gaussian")

    def _to_box(self, u: Tensor, *, squash: bool) -> Tensor:
        if squash:
            half = ((torch.tanh(u) + 1.0) / 2.0).to(torch.float64)  # (a + 1) / 2 in float32, as Java's Box
            return (self._low + half * (self._high - self._low)).to(torch.float32)
        return torch.minimum(torch.maximum(u.to(torch.float64), self._low), self._high).to(torch.float32)

    def sample(self, obs: Tensor) -> Tensor:
        """A sample of the policy for a float32 ``[B, obs_dim]`` batch, in env units (Box: clipped / scaled)."""
        out = self.module(obs)
        if self.distribution == "categorical":
            index = torch.multinomial(torch.exp(out), 1, generator=self.generator).squeeze(1)
            return index + int(self.action_space.start)  # type: ignore[attr-defined]
        mean, log_std = out
        noise = torch.randn(mean.shape, generator=self.generator, dtype=mean.dtype)
        return self._to_box(mean + torch.exp(log_std) * noise, squash=self.distribution == "squashed_gaussian")

    def observations(self, observation: Any) -> tuple[Tensor, bool]:
        """(float32 ``[B, obs_dim]`` batch, whether ``observation`` was a single one)."""
        space = self.observation_space
        if isinstance(space, spaces.Box) and self.package.sidecar["observation"]["flatten"] == "none":
            x = np.asarray(observation, dtype=np.float32)
            if x.shape == space.shape:
                return torch.from_numpy(x.reshape(1, -1).copy()), True
            if x.ndim == len(space.shape) + 1 and x.shape[1:] == space.shape:
                return torch.from_numpy(x.reshape(x.shape[0], -1).copy()), False
            raise ValueError(
                f"observation of shape {list(x.shape)}: expected {list(space.shape)} (one observation) or "
                f"[B, {', '.join(map(str, space.shape))}] (a batch)"
            )
        if isinstance(observation, list):
            rows = self.package.flatten_observations(observation)
            return torch.from_numpy(rows), False
        if isinstance(space, spaces.Dict) and isinstance(observation, dict):
            first = next(iter(space.spaces))
            leaf = np.asarray(observation[first])
            shape = space.spaces[first].shape or ()
            if leaf.shape != tuple(shape) and leaf.ndim == len(shape) + 1:  # a batch of dicts, SB3's VecEnv layout
                batch = [{k: np.asarray(v)[i] for k, v in observation.items()} for i in range(leaf.shape[0])]
                return torch.from_numpy(self.package.flatten_observations(batch)), False
        return torch.from_numpy(self.package.flatten_observations([observation])), True

    @torch.no_grad()
    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        """SB3's ``predict``: ``(actions, None)``; one observation gives one action (no batch axis)."""
        obs, single = self.observations(observation)
        actions = self.act(obs) if deterministic else self.sample(obs)
        out = actions.numpy()
        if isinstance(self.action_space, spaces.Box):
            out = out.reshape(-1, *self.action_space.shape).astype(self.action_space.dtype)
        return (out[0] if single else out), None


def _has_method(module: Any, name: str) -> bool:
    with quiet_jit():
        try:
            return callable(getattr(module, name))
        except AttributeError:
            return False
