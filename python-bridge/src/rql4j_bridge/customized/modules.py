"""The TorchScript-able modules of an exported customized policy (one per Java learner).

Each takes ONE argument, the flat float32 observation batch ``[B, obs_dim]`` (as a prior
package's module, docs/prior-package.md), and mirrors the Java policy it was saved from operation
by operation (the same float32 / float64 steps in the same order), so that the exported module
acts as the Java ``act(obs, deterministic)`` does:

- :class:`SoftQWithPrior` (``CustomizedPolicy``, residual soft Q-learning): ``forward`` returns
  ``log_softmax((Q_R(obs) + w * log_pi(obs)) / alphaHat)``, ``log_pi`` from the prior's own
  TorchScript module (a submodule); ``act`` the argmax of ``Q_R + w * log_pi`` (method.md) plus
  the Discrete space's start. :class:`SoftQAlone` is the same with ``w = 0`` (no prior).
- :class:`SacActor` (``SacPolicy``, residual SAC): ``forward`` returns the actor's pre-tanh
  ``(mean, clamp(log_std, -20, 2))``; ``act`` is ``tanh(mean)`` rescaled to the Box bounds.
- :class:`PpoGaussian` / :class:`PpoCategorical` (``PpoPolicy``): the observation normalization
  ``clip((obs - mean) / sqrt(var + 1e-8), -10, 10)`` (float64, as Java's RunningMeanStd) inside,
  then the tanh MLP; ``(mean, log_std)`` with ``act`` the mean clipped to the Box, or normalized
  log-probabilities with ``act`` the argmax plus the start.

:class:`OnnxCategorical` / :class:`OnnxGaussian` wrap a scripted policy for the ONNX export: one
graph whose outputs are ``forward``'s and then ``act``'s (``action``).
"""

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "LOG_STD_MAX",
    "LOG_STD_MIN",
    "NORM_CLIP",
    "NORM_EPS",
    "NoNormalizer",
    "ObservationNormalizer",
    "OnnxCategorical",
    "OnnxGaussian",
    "PpoCategorical",
    "PpoGaussian",
    "SacActor",
    "SoftQAlone",
    "SoftQWithPrior",
]

# ResidualSacConfig.LOG_STD_MIN / LOG_STD_MAX (SB3's SAC clamp).
LOG_STD_MIN = -20.0
LOG_STD_MAX = 2.0
# ResidualPpo.NORM_EPS / NORM_CLIP (SB3's VecNormalize constants).
NORM_EPS = 1e-8
NORM_CLIP = 10.0


def _f64(values: np.ndarray | list[float]) -> Tensor:
    return torch.tensor(np.asarray(values, dtype=np.float64), dtype=torch.float64)


class SoftQWithPrior(nn.Module):
    """``pi_hat(a|s) ∝ exp((Q_R(s,a) + w log pi(a|s)) / alphaHat)`` with the prior's module inside."""

    def __init__(self, q: nn.Module, prior: nn.Module, prior_weight: float, alpha_hat: float, action_start: int):
        super().__init__()
        self.q = q
        self.prior = prior
        self.prior_weight = float(prior_weight)
        self.alpha_hat = float(alpha_hat)
        self.action_start = int(action_start)

    def logits(self, obs: Tensor) -> Tensor:
        # ResidualSoftQLearning.customizedLogits: (Q_R + log_pi * w) / alphaHat, in float32
        return (self.q(obs) + self.prior(obs) * self.prior_weight) / self.alpha_hat

    def forward(self, obs: Tensor) -> Tensor:
        return torch.log_softmax(self.logits(obs), dim=1)

    @torch.jit.export
    def act(self, obs: Tensor) -> Tensor:
        """The deterministic action (int64 ``[B]``): argmax of ``Q_R + w log pi`` (first of ties), plus start."""
        return torch.argmax(self.logits(obs), dim=1) + self.action_start


class SoftQAlone(nn.Module):
    """``w = 0``: ``pi_hat ∝ exp(Q_R / alphaHat)``; the prior drops out (Java does not query it)."""

    def __init__(self, q: nn.Module, alpha_hat: float, action_start: int):
        super().__init__()
        self.q = q
        self.alpha_hat = float(alpha_hat)
        self.action_start = int(action_start)

    def logits(self, obs: Tensor) -> Tensor:
        return self.q(obs) / self.alpha_hat

    def forward(self, obs: Tensor) -> Tensor:
        return torch.log_softmax(self.logits(obs), dim=1)

    @torch.jit.export
    def act(self, obs: Tensor) -> Tensor:
        return torch.argmax(self.logits(obs), dim=1) + self.action_start


class SacActor(nn.Module):
    """The residual SAC actor: ``[mean | log_std]`` of the pre-tanh Gaussian, log-std clamped."""

    action_low: Tensor
    action_high: Tensor

    def __init__(self, actor: nn.Module, action_low: np.ndarray, action_high: np.ndarray):
        super().__init__()
        self.actor = actor
        self.act_dim = int(len(action_low))
        self.log_std_min = LOG_STD_MIN
        self.log_std_max = LOG_STD_MAX
        self.register_buffer("action_low", _f64(action_low))
        self.register_buffer("action_high", _f64(action_high))

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        out = self.actor(obs)
        mean = out[:, : self.act_dim]
        log_std = torch.clamp(out[:, self.act_dim :], self.log_std_min, self.log_std_max)
        return mean, log_std

    @torch.jit.export
    def act(self, obs: Tensor) -> Tensor:
        """float32 ``[B, d]`` in env units: Space.Box.fromUnitInterval(tanh(mean)) as Java computes it,
        ``(a + 1) / 2`` in float32, the rescale to the bounds in float64."""
        mean, _ = self.forward(obs)
        half = ((torch.tanh(mean) + 1.0) / 2.0).to(torch.float64)
        return (self.action_low + half * (self.action_high - self.action_low)).to(torch.float32)


class ObservationNormalizer(nn.Module):
    """Java's RunningMeanStd.normalize: ``clip((x - mean) / sqrt(var + eps), -clip, clip)`` in float64, then float32."""

    mean: Tensor
    var: Tensor

    def __init__(self, mean: np.ndarray, var: np.ndarray, eps: float = NORM_EPS, clip: float = NORM_CLIP):
        super().__init__()
        self.register_buffer("mean", _f64(mean))
        self.register_buffer("var", _f64(var))
        self.eps = float(eps)
        self.clip = float(clip)

    def forward(self, obs: Tensor) -> Tensor:
        z = (obs.to(torch.float64) - self.mean) / torch.sqrt(self.var + self.eps)
        return torch.clamp(z, -self.clip, self.clip).to(torch.float32)


class NoNormalizer(nn.Module):
    """Observations as they are (a PPO run without observation normalization)."""

    def forward(self, obs: Tensor) -> Tensor:
        return obs


class PpoGaussian(nn.Module):
    """PPO's diagonal Gaussian: mean from the tanh MLP, one state-independent log-std vector."""

    action_low: Tensor
    action_high: Tensor

    def __init__(
        self, normalizer: nn.Module, policy: nn.Module, log_std: Tensor, action_low: np.ndarray, action_high: np.ndarray
    ):
        super().__init__()
        self.obs_norm = normalizer
        self.policy = policy
        self.log_std = nn.Parameter(log_std.detach().clone().to(torch.float32), requires_grad=False)
        self.register_buffer("action_low", _f64(action_low))
        self.register_buffer("action_high", _f64(action_high))

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        mean = self.policy(self.obs_norm(obs))
        return mean, self.log_std.unsqueeze(0).expand(mean.shape[0], -1).contiguous()

    @torch.jit.export
    def act(self, obs: Tensor) -> Tensor:
        """float32 ``[B, d]``: the mean clipped to the Box (Math.min(high, Math.max(low, x)) in float64, as Java)."""
        mean, _ = self.forward(obs)
        clipped = torch.minimum(torch.maximum(mean.to(torch.float64), self.action_low), self.action_high)
        return clipped.to(torch.float32)


class PpoCategorical(nn.Module):
    """PPO's categorical policy over a Discrete space: log_softmax of the tanh MLP's logits."""

    def __init__(self, normalizer: nn.Module, policy: nn.Module, action_start: int):
        super().__init__()
        self.obs_norm = normalizer
        self.policy = policy
        self.action_start = int(action_start)

    def forward(self, obs: Tensor) -> Tensor:
        return torch.log_softmax(self.policy(self.obs_norm(obs)), dim=1)

    @torch.jit.export
    def act(self, obs: Tensor) -> Tensor:
        # ResidualPpo.actOnInput: the argmax of the log-softmax (first of ties), plus start
        return torch.argmax(self.forward(obs), dim=1) + self.action_start


class OnnxCategorical(nn.Module):
    """``(log_probs, action)`` of a scripted categorical policy, for one ONNX graph."""

    def __init__(self, policy: nn.Module):
        super().__init__()
        self.policy = policy

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        return self.policy(obs), self.policy.act(obs)  # type: ignore[operator]


class OnnxGaussian(nn.Module):
    """``(mean, log_std, action)`` of a scripted Gaussian policy, for one ONNX graph."""

    def __init__(self, policy: nn.Module):
        super().__init__()
        self.policy = policy

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mean, log_std = self.policy(obs)
        return mean, log_std, self.policy.act(obs)  # type: ignore[operator]
