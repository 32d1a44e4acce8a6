"""Small TorchScript-able modules that the exporter wraps checkpoints in.

Every module takes ONE argument, the flat float32 observation batch ``[B, obs_dim]``, and returns
what ``docs/prior-package.md`` prescribes for its distribution: normalized log-probabilities
``[B, n]`` (categorical) or a tuple ``(mean, log_std)`` of ``[B, d]`` tensors (Gaussians).

The MLP rebuilders read the layer sizes from the state dict itself (``<prefix>.<i>.weight``), so
they do not need the checkpoint's ``net_arch``; only the activation function is not in the
weights and must be given.
"""

import re
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "ACTIVATIONS",
    "LOG_STD_MAX",
    "LOG_STD_MIN",
    "ActionWithFixedNoise",
    "CategoricalFromLogits",
    "CategoricalFromQ",
    "DiagGaussian",
    "GSDEGaussian",
    "MLP",
    "SquashedGaussian",
    "activation_class",
    "linear_from_state_dict",
    "mlp_from_state_dict",
    "sequential_indices",
]

# SB3's clamp of SAC's state-dependent log std (stable_baselines3.sac.policies).
LOG_STD_MIN = -20.0
LOG_STD_MAX = 2.0

ACTIVATIONS: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in (
        nn.ReLU,
        nn.Tanh,
        nn.ELU,
        nn.LeakyReLU,
        nn.SiLU,
        nn.GELU,
        nn.Sigmoid,
        nn.Softplus,
        nn.Mish,
        nn.SELU,
        nn.CELU,
        nn.ReLU6,
        nn.Hardswish,
        nn.Softsign,
        nn.Identity,
    )
}


def activation_class(name: str) -> type[nn.Module]:
    """An activation class from ``ReLU`` / ``relu`` / ``torch.nn.ReLU`` / ``<class 'torch.nn....ReLU'>``.

    Only parameter-free use is supported: the class is instantiated with its default arguments
    (e.g. LeakyReLU's slope 0.01).
    """
    match = re.fullmatch(r"<class '([\w.]+)'>", name.strip())
    text = match.group(1) if match else name.strip()
    short = text.rsplit(".", 1)[-1]
    if match and not text.startswith("torch.nn."):
        raise ValueError(f"activation {name!r} is not a torch.nn activation; supported: {sorted(ACTIVATIONS)}")
    for key, cls in ACTIVATIONS.items():
        if key.lower() == short.lower():
            return cls
    raise ValueError(f"unknown activation {name!r}; supported: {sorted(ACTIVATIONS)}")


def sequential_indices(state_dict: Mapping[str, Tensor], prefix: str) -> list[int]:
    """The sorted indices ``i`` of ``<prefix>.<i>.weight`` entries (the Linear layers of a Sequential)."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.weight$")
    return sorted(int(m.group(1)) for key in state_dict if (m := pattern.match(key)))


def linear_from_state_dict(state_dict: Mapping[str, Tensor], prefix: str) -> nn.Linear:
    """An ``nn.Linear`` holding ``<prefix>.weight`` (and ``<prefix>.bias`` when present)."""
    weight = state_dict[f"{prefix}.weight"]
    if weight.ndim != 2:
        raise ValueError(f"{prefix}.weight has shape {list(weight.shape)}, expected a 2-D Linear weight")
    bias = state_dict.get(f"{prefix}.bias")
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight.float())
        if bias is not None:
            if tuple(bias.shape) != (weight.shape[0],):
                raise ValueError(f"{prefix}.bias has shape {list(bias.shape)}, expected [{weight.shape[0]}]")
            layer.bias.copy_(bias.float())
    return layer


def mlp_from_state_dict(
    state_dict: Mapping[str, Tensor],
    prefix: str,
    activation: type[nn.Module],
    *,
    final_activation: bool,
    in_features: int | None = None,
) -> nn.Sequential:
    """Rebuilds an SB3 ``create_mlp`` Sequential (Linear, act, Linear, act, ...) from its weights.

    The Linear layers must sit at indices 0, 2, 4, ... (as SB3 writes them), activations between
    them, and after the last one when ``final_activation`` (SB3's latent nets; not its Q-nets).
    An absent prefix gives an empty Sequential (SB3's ``net_arch=[]``), whose width is
    ``in_features``.
    """
    indices = sequential_indices(state_dict, prefix)
    if not indices:
        stray = [k for k in state_dict if k.startswith(prefix + ".")]
        if stray:
            raise ValueError(f"{prefix}: expected Linear layers {prefix}.0.weight, ...; found {stray[:4]}")
        return nn.Sequential()
    if indices != list(range(0, 2 * len(indices), 2)):
        raise ValueError(
            f"{prefix}: Linear layers at indices {indices}; expected 0, 2, 4, ... (Linear / activation "
            "alternating, as SB3's create_mlp builds them). Other layer kinds (dropout, layer norm) are not "
            "supported: export the policy with --kind torch-module"
        )
    layers: list[nn.Module] = []
    width = in_features
    for n, i in enumerate(indices):
        linear = linear_from_state_dict(state_dict, f"{prefix}.{i}")
        if width is not None and linear.in_features != width:
            raise ValueError(f"{prefix}.{i}.weight takes {linear.in_features} inputs, the layer before gives {width}")
        width = linear.out_features
        layers.append(linear)
        if n < len(indices) - 1 or final_activation:
            layers.append(activation())
    expected = {f"{prefix}.{i}.{p}" for i in indices for p in ("weight", "bias")}
    stray = [k for k in state_dict if k.startswith(prefix + ".") and k not in expected]
    if stray:
        raise ValueError(f"{prefix}: unexpected entries {stray[:4]} (only Linear layers are supported)")
    return nn.Sequential(*layers)


def out_width(net: nn.Module, in_features: int) -> int:
    """The output width of an MLP Sequential (``in_features`` when it has no Linear layer)."""
    width = in_features
    for layer in net.modules():
        if isinstance(layer, nn.Linear):
            width = layer.out_features
    return width


class MLP(nn.Module):
    """A plain MLP ``sizes[0] -> ... -> sizes[-1]``, for ``--module-class rql4j_bridge.prior.modules:MLP``.

    ``--module-kwargs '{"sizes": [4, 64, 2], "activation": "Tanh"}'`` and a state dict whose keys
    are ``net.0.weight``, ``net.0.bias``, ``net.2.weight``, ...
    """

    def __init__(self, sizes: Sequence[int], activation: str = "ReLU", final_activation: bool = False) -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {list(sizes)}")
        act = activation_class(activation)
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(int(a), int(b)))
            if i < len(sizes) - 2 or final_activation:
                layers.append(act())
        self.net = nn.Sequential(*layers)

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs)


class CategoricalFromQ(nn.Module):
    """``log_softmax(Q(s, .) / temperature)``: a soft / max-entropy Q-network as a categorical policy."""

    temperature: float

    def __init__(self, q_net: nn.Module, temperature: float) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.q_net = q_net
        self.temperature = float(temperature)

    def forward(self, obs: Tensor) -> Tensor:
        return torch.log_softmax(self.q_net(obs) / self.temperature, dim=-1)


class CategoricalFromLogits(nn.Module):
    """``log_softmax(logits(s))`` (idempotent on inputs that already are log-probabilities)."""

    def __init__(self, logits_net: nn.Module) -> None:
        super().__init__()
        self.logits_net = logits_net

    def forward(self, obs: Tensor) -> Tensor:
        return torch.log_softmax(self.logits_net(obs), dim=-1)


class DiagGaussian(nn.Module):
    """SB3's DiagGaussianDistribution (PPO / A2C on a Box): ``mean = mu(latent(s))``, state-independent log std."""

    def __init__(self, latent: nn.Module, mu: nn.Module, log_std: Tensor) -> None:
        super().__init__()
        self.latent = latent
        self.mu = mu
        self.log_std = nn.Parameter(log_std.detach().float().clone(), requires_grad=False)

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        mean = self.mu(self.latent(obs))
        return mean, torch.zeros_like(mean) + self.log_std


class SquashedGaussian(nn.Module):
    """SB3's SAC actor without gSDE, with ``h = latent(s)``:
    ``mean = mu(h)``, ``log_std = clamp(log_std_head(h), -20, 2)``."""

    log_std_min: float
    log_std_max: float

    def __init__(
        self,
        latent: nn.Module,
        mu: nn.Module,
        log_std_head: nn.Module,
        log_std_min: float = LOG_STD_MIN,
        log_std_max: float = LOG_STD_MAX,
    ) -> None:
        super().__init__()
        self.latent = latent
        self.mu = mu
        self.log_std_head = log_std_head
        self.log_std_min = float(log_std_min)
        self.log_std_max = float(log_std_max)

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        h = self.latent(obs)
        log_std = torch.clamp(self.log_std_head(h), self.log_std_min, self.log_std_max)
        return self.mu(h), log_std


class GSDEGaussian(nn.Module):
    """SB3's StateDependentNoiseDistribution as a Gaussian with a state-dependent std (gSDE).

    With ``h = latent(s)`` (SB3's ``latent_sde``): ``mean = mean_head(h)`` (SAC: Linear then
    Hardtanh(+-clip_mean)); ``std_w = get_std(log_std)`` as in SB3 (``exp``, or ``expln`` when
    ``use_expln``; broadcast to ``[latent, d]`` when not ``full_std``);
    ``sigma = sqrt((h ** 2) @ (std_w ** 2) + epsilon)``; returns ``(mean, log(sigma))``.
    """

    full_std: bool
    use_expln: bool
    epsilon: float
    action_dim: int

    def __init__(
        self,
        latent: nn.Module,
        mean_head: nn.Module,
        log_std: Tensor,
        action_dim: int,
        *,
        full_std: bool = True,
        use_expln: bool = False,
        epsilon: float = 1e-6,
    ) -> None:
        super().__init__()
        if log_std.ndim != 2 or log_std.shape[1] not in (1, action_dim):
            raise ValueError(f"gSDE log_std must be [latent, {action_dim}] or [latent, 1], got {list(log_std.shape)}")
        self.latent = latent
        self.mean_head = mean_head
        self.log_std = nn.Parameter(log_std.detach().float().clone(), requires_grad=False)
        self.action_dim = int(action_dim)
        self.full_std = bool(full_std)
        self.use_expln = bool(use_expln)
        self.epsilon = float(epsilon)

    def weight_std(self) -> Tensor:
        log_std = self.log_std
        if self.use_expln:
            below_threshold = torch.exp(log_std) * (log_std <= 0)
            safe_log_std = log_std * (log_std > 0) + self.epsilon
            above_threshold = (torch.log1p(safe_log_std) + 1.0) * (log_std > 0)
            std = below_threshold + above_threshold
        else:
            std = torch.exp(log_std)
        if self.full_std:
            return std
        return torch.ones(log_std.shape[0], self.action_dim, dtype=std.dtype, device=std.device) * std

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        h = self.latent(obs)
        mean = self.mean_head(h)
        variance = torch.mm(h**2, self.weight_std() ** 2)
        return mean, torch.log(torch.sqrt(variance + self.epsilon))


class ActionWithFixedNoise(nn.Module):
    """A deterministic actor made stochastic by an explicit, user-chosen noise model:
    ``N(actor(s), noise_std^2)`` per dimension (``--noise-std``)."""

    def __init__(self, actor: nn.Module, log_std: Tensor) -> None:
        super().__init__()
        self.actor = actor
        self.log_std = nn.Parameter(log_std.detach().float().clone(), requires_grad=False)

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        mean = self.actor(obs)
        return mean, torch.zeros_like(mean) + self.log_std
