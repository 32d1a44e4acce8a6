"""Prior packages (``rql4j-prior/1``, docs/prior-package.md): writing, validating loading, and querying.

A package is a folder with ``prior.json`` (the sidecar) and ``policy.pt`` (a TorchScript module
taking the flat float32 observation batch ``[B, obs_dim]``). :func:`save_prior_package` writes
one from an ``nn.Module``; :func:`load_prior_package` validates every field of the sidecar, probes
the module with a ``[2, obs_dim]`` zero batch and returns a :class:`PriorPackage`, whose methods
compute exactly the log-probabilities of the doc (and of ``method.md``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import math
import os
import platform
import re
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from rql4j_bridge import __version__
from rql4j_bridge.prior.spaces_json import SpaceJsonError, flat_dim, space_from_json, space_to_json

__all__ = [
    "DISTRIBUTIONS",
    "FORMAT",
    "OUTPUTS",
    "SIDE_CAR",
    "SOURCE_KINDS",
    "SQUASH_CLIP",
    "SQUASH_EPSILON",
    "PriorOutputError",
    "PriorPackage",
    "PriorPackageError",
    "PriorQueryError",
    "content_hash",
    "diag_gaussian_log_prob",
    "file_sha256",
    "load_prior_package",
    "save_prior_package",
    "squashed_gaussian_log_prob",
    "versions",
]

_log = logging.getLogger(__name__)

FORMAT = "rql4j-prior/1"
SIDE_CAR = "prior.json"
MODULE_FILE = "policy.pt"
DISTRIBUTIONS = ("categorical", "diag_gaussian", "squashed_gaussian")
OUTPUTS: dict[str, list[str]] = {
    "categorical": ["log_probs"],
    "diag_gaussian": ["mean", "log_std"],
    "squashed_gaussian": ["mean", "log_std"],
}
SCALING_KIND = {"diag_gaussian": "clip_to_box", "squashed_gaussian": "tanh_to_box"}
SOURCE_KINDS = (
    "sb3-dqn",
    "sb3-sac",
    "sb3-ppo",
    "sb3-a2c",
    "rql-ref-softdqn",
    "rql-ref-sac",
    "torch-module",
    "bc",
    "soft-dqn",
    "rql4j-customized",  # a policy customized by rql4j, exported by rql4j-bridge export-policy
)
Q_VALUE_SOURCES = ("sb3-dqn", "rql-ref-softdqn", "soft-dqn")
FLATTEN = ("none", "gymnasium")

# method.md: u = atanh(clip(a, -(1 - 1.19e-7), 1 - 1.19e-7)); the tanh correction adds 1e-6.
SQUASH_CLIP = 1.0 - 1.19e-7
SQUASH_EPSILON = 1e-6
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_NORMALIZED_ATOL = 1e-3  # |logsumexp(log_probs)| above this: the module did not apply log_softmax


@contextmanager
def quiet_jit() -> Iterator[None]:
    """Silences torch 2.13's DeprecationWarnings of torch.jit.* (TorchScript is this format's module file)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning)
        yield


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class PriorPackageError(ValueError):
    """A prior package is malformed. The message names the file, the field and what to do."""

    def __init__(self, file: str | Path, field: str, problem: str) -> None:
        self.file = str(file)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.file}: {field}: {problem}")


class PriorQueryError(ValueError):
    """A query does not fit the prior (wrong shape / dtype, a query for another distribution)."""


class PriorOutputError(RuntimeError):
    """The module produced unusable outputs (NaN, wrong shape) for a query batch."""


# ---------------------------------------------------------------------------------------------
# The formulas (docs/prior-package.md, method.md) -- on tensors of any floating dtype
# ---------------------------------------------------------------------------------------------


def diag_gaussian_log_prob(mean: Tensor, log_std: Tensor, actions: Tensor) -> Tensor:
    """``sum_i log N(a_i; mean_i, exp(log_std_i))`` over the last dimension."""
    z = (actions - mean) * torch.exp(-log_std)
    return (-0.5 * z * z - log_std - _HALF_LOG_2PI).sum(dim=-1)


def squashed_gaussian_log_prob(mean: Tensor, log_std: Tensor, actions: Tensor) -> Tensor:
    """method.md: ``u = atanh(clip(a, +-(1 - 1.19e-7)))``,
    ``sum_i [log N(u_i; mean_i, exp(log_std_i)) - log(1 - tanh(u_i)^2 + 1e-6)]`` (actions in [-1, 1])."""
    u = torch.atanh(torch.clamp(actions, -SQUASH_CLIP, SQUASH_CLIP))
    return diag_gaussian_log_prob(mean, log_std, u) - torch.log(1.0 - torch.tanh(u) ** 2 + SQUASH_EPSILON).sum(dim=-1)


# ---------------------------------------------------------------------------------------------
# The loaded package
# ---------------------------------------------------------------------------------------------


def _as_tensor(x: Any, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x.detach().cpu()
    try:
        return torch.from_numpy(np.array(x, copy=True, order="C"))
    except (TypeError, ValueError) as e:
        raise PriorQueryError(f"{name}: cannot be read as an array: {e}") from None


@dataclass(eq=False)
class PriorPackage:
    """A validated, loaded prior package; the query methods take numpy arrays or tensors."""

    path: Path  # the package folder
    sidecar: dict[str, Any]
    sidecar_text: str
    module: torch.jit.ScriptModule
    distribution: str
    observation_space: spaces.Space
    action_space: spaces.Space
    obs_dim: int
    action_dim: int  # n (categorical) or d (Gaussians)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # serializes module calls

    @property
    def name(self) -> str:
        return str(self.sidecar["name"])

    @property
    def is_categorical(self) -> bool:
        return self.distribution == "categorical"

    def describe(self) -> str:
        return f"prior {self.name!r} ({self.distribution}, {self.path})"

    # -- raw module ---------------------------------------------------------------------------

    def observations(self, obs: Any) -> Tensor:
        """The observation batch as a float32 tensor ``[B, obs_dim]``; PriorQueryError otherwise."""
        t = _as_tensor(obs, "observations")
        if t.ndim != 2 or t.shape[1] != self.obs_dim:
            raise PriorQueryError(
                f"observations must be [B, {self.obs_dim}] (B rows of the flat observation, observation.flatten "
                f"= {self.sidecar['observation']['flatten']!r}), got shape {list(t.shape)}"
            )
        if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64, torch.int8, torch.uint8, torch.bool)):
            raise PriorQueryError(f"observations must be float32, got {t.dtype}")
        t = t.to(torch.float32)
        if not torch.isfinite(t).all():
            rows = torch.nonzero(~torch.isfinite(t).all(dim=1)).flatten().tolist()
            raise PriorQueryError(f"observations hold NaN or infinity in rows {rows[:20]}")
        return t

    def forward(self, obs: Any) -> tuple[Tensor, ...]:
        """The module's outputs (float32), checked: ``(log_probs,)`` or ``(mean, log_std)``."""
        t = self.observations(obs)
        with self.lock, torch.no_grad():
            out = self.module(t)
        try:
            return _check_outputs(out, self.distribution, t.shape[0], self.action_dim, what="forward")
        except ValueError as e:
            raise PriorOutputError(f"{self.path / self.sidecar['module']['file']}: {e}") from None

    # -- queries ------------------------------------------------------------------------------

    def log_probs_all(self, obs: Any) -> np.ndarray:
        """float32 ``[B, n]``: log pi(a|s) of every action (categorical priors only)."""
        if not self.is_categorical:
            raise PriorQueryError(
                f"{self.describe()} is a {self.distribution}: LogProbsAll needs a categorical prior; "
                "use Distribution / LogProb instead"
            )
        return self.forward(obs)[0].numpy()

    def distribution_params(self, obs: Any) -> tuple[np.ndarray, np.ndarray]:
        """float32 ``(mean, log_std)``, each ``[B, d]`` (Gaussian priors; squashed: of the pre-tanh action)."""
        if self.is_categorical:
            raise PriorQueryError(
                f"{self.describe()} is categorical: Distribution needs a Gaussian prior; use LogProbsAll instead"
            )
        mean, log_std = self.forward(obs)
        return mean.numpy(), log_std.numpy()

    def actions_tensor(self, actions: Any, batch: int) -> Tensor:
        """Validates a batch of actions (int [B] for categorical; float [B, d] for Gaussians)."""
        a = _as_tensor(actions, "actions")
        if self.is_categorical:
            if a.shape != (batch,):
                raise PriorQueryError(f"actions must be INT64 [{batch}] for a categorical prior, got {list(a.shape)}")
            if a.is_floating_point() or a.dtype == torch.bool:
                raise PriorQueryError(f"actions must be integers (INT64) for a categorical prior, got {a.dtype}")
            a = a.to(torch.int64)
            start = int(self.action_space.start)  # type: ignore[attr-defined]
            bad = (a < start) | (a >= start + self.action_dim)
            if bad.any():
                i = int(torch.nonzero(bad)[0])
                raise PriorQueryError(
                    f"action {int(a[i])} (row {i}) is outside {self.action_space}: "
                    f"expected {start} .. {start + self.action_dim - 1}"
                )
            return a
        if a.shape != (batch, self.action_dim):
            raise PriorQueryError(f"actions must be FLOAT32 [{batch}, {self.action_dim}], got {list(a.shape)}")
        if not a.is_floating_point():
            raise PriorQueryError(f"actions must be FLOAT32 for a {self.distribution} prior, got {a.dtype}")
        if not torch.isfinite(a).all():
            raise PriorQueryError("actions hold NaN or infinity")
        if self.distribution == "squashed_gaussian" and (a.abs() > 1.0).any():
            i = int(torch.nonzero((a.abs() > 1.0).any(dim=1))[0])
            raise PriorQueryError(
                f"squashed_gaussian actions are normalized to [-1, 1], row {i} holds {a[i].tolist()}: map env "
                "actions with a = 2 * (x - low) / (high - low) - 1 (prior.json's action_scaling)"
            )
        return a

    def log_prob(self, obs: Any, actions: Any) -> np.ndarray:
        """float64 ``[B]``: log pi(a|s) (computed in float64 from the module's float32 outputs)."""
        t = self.observations(obs)
        a = self.actions_tensor(actions, t.shape[0])
        out = self.forward(t)
        if self.is_categorical:
            start = int(self.action_space.start)  # type: ignore[attr-defined]
            return out[0].gather(1, (a - start).unsqueeze(1)).squeeze(1).double().numpy()
        mean, log_std = (x.double() for x in out)
        formula = squashed_gaussian_log_prob if self.distribution == "squashed_gaussian" else diag_gaussian_log_prob
        return formula(mean, log_std, a.double()).numpy()

    def sample(self, obs: Any, generator: torch.Generator | None = None, deterministic: bool = False) -> np.ndarray:
        """Actions: int64 ``[B]`` (categorical, in the Discrete's range) or float32 ``[B, d]``
        (diag_gaussian: env units, not clipped; squashed_gaussian: in [-1, 1]).
        ``deterministic`` returns the mode (argmax / mean / tanh(mean))."""
        out = self.forward(obs)
        if self.is_categorical:
            log_probs = out[0]
            if deterministic:
                index = log_probs.argmax(dim=1)
            else:
                index = torch.multinomial(torch.exp(log_probs), 1, generator=generator).squeeze(1)
            return (index + int(self.action_space.start)).numpy()  # type: ignore[attr-defined]
        mean, log_std = out
        if deterministic:
            u = mean
        else:
            noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
            u = mean + torch.exp(log_std) * noise
        return (torch.tanh(u) if self.distribution == "squashed_gaussian" else u).numpy()

    # -- conveniences -------------------------------------------------------------------------

    def flatten_observations(self, batch: list[Any]) -> np.ndarray:
        """Single (unflattened) observations -> the float32 ``[B, obs_dim]`` batch the module takes."""
        rows = [np.asarray(spaces.flatten(self.observation_space, o), dtype=np.float32).ravel() for o in batch]
        return np.stack(rows) if rows else np.zeros((0, self.obs_dim), np.float32)

    def to_env_actions(self, actions: np.ndarray) -> np.ndarray:
        """Applies ``action_scaling`` (tanh_to_box: low + (a + 1) / 2 * (high - low); clip_to_box: clip)."""
        scaling = self.sidecar.get("action_scaling")
        if scaling is None:
            return actions
        low = np.asarray(_floats(scaling["low"]), np.float64).reshape(self.action_space.shape)  # type: ignore[arg-type]
        high = np.asarray(_floats(scaling["high"]), np.float64).reshape(self.action_space.shape)  # type: ignore[arg-type]
        a = np.asarray(actions, np.float64).reshape(-1, *self.action_space.shape)  # type: ignore[misc]
        out = low + (a + 1.0) / 2.0 * (high - low) if scaling["kind"] == "tanh_to_box" else np.clip(a, low, high)
        return out.astype(self.action_space.dtype)  # type: ignore[arg-type]


def _floats(values: list[Any]) -> list[float]:
    return [float(v) for v in values]


# ---------------------------------------------------------------------------------------------
# Output checks (probe at load, every query)
# ---------------------------------------------------------------------------------------------


def _check_outputs(out: Any, distribution: str, batch: int, width: int, *, what: str) -> tuple[Tensor, ...]:
    """Validates a module's outputs; ValueError with a message saying what was wrong."""
    expected = OUTPUTS[distribution]
    if distribution == "categorical":
        if not isinstance(out, Tensor):
            got = (
                f"a {type(out).__name__} of {len(out)} outputs"
                if isinstance(out, (tuple, list))
                else type(out).__name__
            )
            raise ValueError(f"{what} returned {got}; a categorical module returns one tensor log_probs [B, n]")
        outputs: tuple[Any, ...] = (out,)
    else:
        if isinstance(out, Tensor):
            raise ValueError(
                f"{what} returned 1 outputs (one tensor of shape {_shape(out)}); a {distribution} module returns "
                "the tuple (mean, log_std). A module that returns only actions is deterministic and has no "
                "log-prob: wrap it with an explicit noise model (rql4j-bridge export --kind torch-module "
                "--distribution action --noise-std S)"
            )
        if not isinstance(out, (tuple, list)) or len(out) != 2 or not all(isinstance(x, Tensor) for x in out):
            n = len(out) if isinstance(out, (tuple, list)) else 1
            raise ValueError(f"{what} returned {n} outputs; a {distribution} module returns the tuple (mean, log_std)")
        outputs = tuple(out)
    for name, x in zip(expected, outputs, strict=True):
        if tuple(x.shape) != (batch, width):
            raise ValueError(f"{what} returned shape {_shape(x)} for {name}, expected ({batch}, {width})")
        if x.dtype != torch.float32:
            raise ValueError(f"{what} returned {name} of dtype {x.dtype}, expected torch.float32")
        nan_rows = torch.nonzero(torch.isnan(x).any(dim=1)).flatten().tolist()
        if nan_rows:
            raise ValueError(f"{what} returned NaN for rows {nan_rows[:20]} in {name}")
    if distribution == "categorical":
        lp = outputs[0]
        if (lp == float("inf")).any():
            raise ValueError(f"{what} returned +inf log-probabilities")
        lse = torch.logsumexp(lp, dim=1)
        bad = torch.nonzero(~(lse.abs() <= _NORMALIZED_ATOL)).flatten().tolist()
        if bad:
            raise ValueError(
                f"{what} returned log-probabilities that are not normalized (logsumexp = {lse[bad[0]].item():.6g} "
                f"in row {bad[0]}): the module must apply log_softmax (and the temperature) itself"
            )
    else:
        mean, log_std = outputs
        for name, x in (("mean", mean), ("log_std", log_std)):
            rows = torch.nonzero(~torch.isfinite(x).all(dim=1)).flatten().tolist()
            if rows:
                raise ValueError(f"{what} returned infinite {name} for rows {rows[:20]}")
    return outputs


def _shape(x: Tensor) -> str:
    return "(" + ", ".join(str(d) for d in x.shape) + ")"


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def _sidecar_path(path: str | Path) -> tuple[Path, Path]:
    p = Path(path)
    if p.is_dir():
        return p, p / SIDE_CAR
    if p.name == SIDE_CAR or p.suffix == ".json":
        return p.parent, p
    return p, p / SIDE_CAR


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class _Sidecar:
    """Typed access to prior.json's fields with errors that name the file and the field."""

    def __init__(self, file: Path, data: dict[str, Any]) -> None:
        self.file = file
        self.data = data

    def error(self, field: str, problem: str) -> PriorPackageError:
        return PriorPackageError(self.file, field, problem)

    def get(
        self, obj: Mapping[str, Any], key: str, field: str, kinds: tuple[type, ...], what: str, *, required: bool = True
    ) -> Any:
        if key not in obj:
            if required:
                raise self.error(field, f"is missing (expected {what}); re-export the package with rql4j-bridge export")
            return None
        value = obj[key]
        bool_ok = bool in kinds
        if value is None and type(None) in kinds:
            return value
        if not isinstance(value, kinds) or (isinstance(value, bool) and not bool_ok):
            raise self.error(field, f"expected {what}, got {_type_name(value)} {json.dumps(value)[:80]}")
        return value


_HEX64 = re.compile(r"[0-9a-f]{64}")


def module_file_path(folder: Path, module_file: str, sidecar: Path) -> Path:
    """``folder / module_file`` under the rule both loaders apply (this one and Java's
    ``PriorPackage.moduleFile``; docs/prior-package.md): a relative path that does not lead out of
    the folder with ``..`` (even to come back in), names a file, and whose real path (symbolic links
    followed) lies inside the folder's real path. PriorPackageError naming ``sidecar``, the field,
    the value and the rule otherwise.
    """
    fix = (
        f"; name the TorchScript file by its path relative to the package folder {folder} and keep it inside "
        "that folder (or re-export the package with rql4j-bridge export)"
    )

    def refuse(problem: str) -> PriorPackageError:
        return PriorPackageError(sidecar, "module.file", f"{module_file!r} {problem}{fix}")

    if Path(module_file).is_absolute() or module_file.startswith(("/", "\\")):
        raise refuse("is an absolute path")
    if Path(os.path.normpath(module_file)).parts[:1] == ("..",):
        raise refuse("leads out of the package folder with '..'")
    path = folder / module_file
    if not path.is_file():
        raise refuse(f"is not a file in the package folder {folder}")
    real = path.resolve(strict=True)
    real_folder = folder.resolve(strict=True)
    if not real.is_relative_to(real_folder):
        raise refuse(f"leads to {real}, outside the package folder {real_folder} (symbolic links followed)")
    return path


def load_prior_package(path: str | Path) -> PriorPackage:
    """Loads and validates a package folder (or its prior.json); PriorPackageError naming file and field.

    FileNotFoundError when there is no such package.
    """
    folder, file = _sidecar_path(path)
    if not file.is_file():
        raise FileNotFoundError(
            f"no prior package at {path}: {file} does not exist (a package is a folder with prior.json and "
            "policy.pt, made by rql4j-bridge export)"
        )
    text = file.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PriorPackageError(file, "(document)", f"is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise PriorPackageError(file, "(document)", f"expected a JSON object, got {_type_name(data)}")
    sc = _Sidecar(file, data)

    fmt = sc.get(data, "format", "format", (str,), f"the string {FORMAT!r}")
    if fmt != FORMAT:
        raise sc.error("format", f"unknown format {fmt!r}; this reader understands {FORMAT!r}")
    name = sc.get(data, "name", "name", (str,), "a non-empty string")
    if not name.strip():
        raise sc.error("name", "is empty")
    distribution = sc.get(data, "distribution", "distribution", (str,), f"one of {list(DISTRIBUTIONS)}")
    if distribution not in DISTRIBUTIONS:
        raise sc.error(
            "distribution",
            f"unknown distribution {distribution!r}; expected one of {list(DISTRIBUTIONS)} "
            "(a deterministic policy cannot be a prior)",
        )

    try:
        obs_space = space_from_json(
            sc.get(data, "observation_space", "observation_space", (dict,), "a space object"), "observation_space"
        )
        act_space = space_from_json(
            sc.get(data, "action_space", "action_space", (dict,), "a space object"), "action_space"
        )
    except SpaceJsonError as e:
        raise sc.error(e.field, e.detail) from None

    observation = sc.get(data, "observation", "observation", (dict,), 'an object {"flatten": ..., "dim": ...}')
    flatten = sc.get(observation, "flatten", "observation.flatten", (str,), f"one of {list(FLATTEN)}")
    if flatten not in FLATTEN:
        raise sc.error("observation.flatten", f"unknown flatten {flatten!r}; expected one of {list(FLATTEN)}")
    obs_dim = sc.get(observation, "dim", "observation.dim", (int,), "a positive integer")
    if obs_dim <= 0:
        raise sc.error("observation.dim", f"must be positive, got {obs_dim}")
    if flatten == "none" and not isinstance(obs_space, spaces.Box):
        raise sc.error(
            "observation.flatten",
            f"'none' needs a Box observation_space, got {type(obs_space).__name__}: use 'gymnasium'",
        )
    try:
        expected_dim = flat_dim(obs_space)
    except Exception as e:
        raise sc.error("observation_space", f"cannot be flattened: {e}") from None
    if obs_dim != expected_dim:
        raise sc.error(
            "observation.dim",
            f"is {obs_dim} but the observation_space flattens to {expected_dim} values ({flatten!r})",
        )

    if distribution == "categorical":
        if not isinstance(act_space, spaces.Discrete):
            raise sc.error(
                "distribution",
                f"'categorical' needs a Discrete action_space, got {type(act_space).__name__}",
            )
        action_dim = int(act_space.n)
    else:
        if not isinstance(act_space, spaces.Box):
            raise sc.error("distribution", f"{distribution!r} needs a Box action_space, got {type(act_space).__name__}")
        action_dim = int(math.prod(act_space.shape))

    if "action_scaling" not in data and not isinstance(act_space, spaces.Discrete):
        raise sc.error("action_scaling", "is missing (required for a Box action space)")
    scaling = data.get("action_scaling")
    if isinstance(act_space, spaces.Discrete):
        if scaling is not None:
            raise sc.error("action_scaling", "must be null for a Discrete action space")
    else:
        _check_scaling(sc, scaling, distribution, act_space)

    temperature = data.get("temperature")
    if temperature is not None and (
        not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature > 0
    ):
        raise sc.error("temperature", f"expected a positive number or null, got {json.dumps(temperature)[:40]}")

    module_info = sc.get(data, "module", "module", (dict,), 'an object {"file": ..., "outputs": [...]}')
    module_file = sc.get(module_info, "file", "module.file", (str,), "the TorchScript file name")
    outputs = sc.get(module_info, "outputs", "module.outputs", (list,), f"the list {OUTPUTS[distribution]}")
    if outputs != OUTPUTS[distribution]:
        raise sc.error("module.outputs", f"is {outputs} but a {distribution} module outputs {OUTPUTS[distribution]}")

    source = sc.get(data, "source", "source", (dict,), 'an object {"kind": ..., "file": ..., "sha256": ...}')
    kind = sc.get(source, "kind", "source.kind", (str,), f"one of {list(SOURCE_KINDS)}")
    if kind not in SOURCE_KINDS:
        raise sc.error("source.kind", f"unknown source kind {kind!r}; expected one of {list(SOURCE_KINDS)}")
    sc.get(source, "file", "source.file", (str, type(None)), "the source file name (or null)")
    sha = sc.get(source, "sha256", "source.sha256", (str, type(None)), "the source file's sha256 (or null)")
    if sha is not None and not _HEX64.fullmatch(sha):
        raise sc.error("source.sha256", f"expected 64 lower-case hex digits, got {sha[:80]!r}")
    if kind in Q_VALUE_SOURCES and distribution == "categorical" and temperature is None:
        raise sc.error("temperature", f"is required for a categorical prior made from Q-values (source.kind {kind!r})")

    made_by = sc.get(data, "made_by", "made_by", (dict,), 'an object {"command": ..., "seed": ..., "date": ...}')
    sc.get(made_by, "command", "made_by.command", (str,), "the command that made the package")
    sc.get(made_by, "seed", "made_by.seed", (int, type(None)), "an integer or null", required=False)
    sc.get(made_by, "date", "made_by.date", (str, type(None)), "an ISO-8601 date string", required=False)
    versions_obj = sc.get(data, "versions", "versions", (dict,), "an object of library versions")
    for key, value in versions_obj.items():
        if value is not None and not isinstance(value, str):
            raise sc.error(f"versions.{key}", f"expected a version string, got {_type_name(value)}")

    module_path = module_file_path(folder, module_file, file)
    try:
        with quiet_jit():
            module = torch.jit.load(str(module_path), map_location="cpu")
    except Exception as e:
        raise PriorPackageError(
            module_path,
            "module.file",
            f"is not a TorchScript module saved with torch.jit.save ({type(e).__name__}: {str(e)[:300]}); "
            "re-export the package with rql4j-bridge export",
        ) from None
    module.eval()
    probe = torch.zeros(2, obs_dim, dtype=torch.float32)
    try:
        with torch.no_grad():
            out = module(probe)
    except Exception as e:
        raise PriorPackageError(
            module_path,
            "module.outputs",
            f"forward(zeros [2, {obs_dim}]) raised {type(e).__name__}: {str(e)[:300]}; the module must take "
            f"one float32 tensor [B, observation.dim = {obs_dim}]",
        ) from None
    try:
        _check_outputs(out, distribution, 2, action_dim, what=f"forward(zeros [2, {obs_dim}])")
    except ValueError as e:
        raise PriorPackageError(module_path, "module.outputs", f"{e}; fix the module and re-export") from None

    return PriorPackage(
        path=folder,
        sidecar=data,
        sidecar_text=text,
        module=module,
        distribution=distribution,
        observation_space=obs_space,
        action_space=act_space,
        obs_dim=obs_dim,
        action_dim=action_dim,
    )


def _check_scaling(sc: _Sidecar, scaling: Any, distribution: str, act_space: spaces.Box) -> None:
    want = SCALING_KIND[distribution]
    if not isinstance(scaling, dict):
        raise sc.error(
            "action_scaling",
            f'expected an object {{"kind": "{want}", "low": [...], "high": [...]}} for a Box action space, '
            f"got {_type_name(scaling)}",
        )
    kind = sc.get(scaling, "kind", "action_scaling.kind", (str,), f"the string {want!r}")
    if kind != want:
        raise sc.error("action_scaling.kind", f"is {kind!r} but a {distribution} prior uses {want!r}")
    size = int(math.prod(act_space.shape))
    for key, bound in (("low", act_space.low), ("high", act_space.high)):
        values = sc.get(scaling, key, f"action_scaling.{key}", (list,), f"a list of {size} numbers")
        if len(values) != size:
            raise sc.error(f"action_scaling.{key}", f"has {len(values)} entries, the action space has {size}")
        try:
            parsed = np.array([float(v) for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            raise sc.error(f"action_scaling.{key}", f"expected numbers or 'inf' / '-inf', got {values[:4]}") from None
        ref = np.asarray(bound, np.float64).ravel()
        if not np.allclose(parsed, ref, rtol=1e-6, atol=1e-6, equal_nan=False):
            raise sc.error(
                f"action_scaling.{key}",
                f"is {parsed.tolist()} but action_space.{key} is {ref.tolist()}: they must agree",
            )
        if kind == "tanh_to_box" and not np.isfinite(parsed).all():
            raise sc.error(f"action_scaling.{key}", "tanh_to_box needs finite bounds")


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def content_hash(path: str | Path) -> str:
    """sha256 (hex) over a package's ``prior.json`` bytes, then its module file's bytes: what Java's
    ``PriorPackage.contentHash`` computes and a saved policy or a run records as ``prior_sha256``.

    FileNotFoundError when there is no package; PriorPackageError when prior.json names no usable module file.
    """
    folder, file = _sidecar_path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no prior package at {path}: {file} does not exist")
    text = file.read_bytes()
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PriorPackageError(file, "(document)", f"is not valid JSON: {e}") from None
    sc = _Sidecar(file, data if isinstance(data, dict) else {})
    module_info = sc.get(sc.data, "module", "module", (dict,), 'an object {"file": ..., "outputs": [...]}')
    module_file = sc.get(module_info, "file", "module.file", (str,), "the TorchScript file name")
    digest = hashlib.sha256(text)
    with open(module_file_path(folder, module_file, file), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def versions() -> dict[str, str | None]:
    """Library versions for prior.json's ``versions`` (stable_baselines3: None when not installed)."""

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "rql4j_bridge": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "stable_baselines3": version("stable-baselines3"),
        "gymnasium": version("gymnasium"),
        "numpy": np.__version__,
    }


def _script(module: nn.Module, obs_dim: int) -> tuple[torch.jit.ScriptModule, str]:
    if isinstance(module, torch.jit.ScriptModule):
        return module, "given"
    try:
        with quiet_jit():
            return torch.jit.script(module), "script"
    except Exception as e:
        _log.warning("torch.jit.script failed (%s: %s); falling back to torch.jit.trace", type(e).__name__, e)
    probe = torch.randn(2, obs_dim, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad(), quiet_jit():
            return torch.jit.trace(module, probe, check_trace=False), "trace"
    except Exception as e:
        raise ValueError(
            f"the module can be neither scripted nor traced ({type(e).__name__}: {e}); make forward(obs) "
            "TorchScript-compatible (one float32 tensor argument)"
        ) from e


def _flat(out: Any) -> list[Tensor]:
    return [out] if isinstance(out, Tensor) else list(out)


def _probe(obs_dim: int, observation_space: spaces.Space | None) -> Tensor:
    """Five random observations: standard normal, but uniform within the bounds where a flat Box has finite ones.

    Inside the bounds because a module only has to behave on observations it can get: far outside them a
    network's outputs (and so their float rounding) can grow without limit.
    """
    gen = torch.Generator().manual_seed(1234)
    probe = torch.randn(5, obs_dim, generator=gen)
    if isinstance(observation_space, spaces.Box) and int(np.prod(observation_space.shape)) == obs_dim:
        low = torch.as_tensor(np.asarray(observation_space.low, dtype=np.float64).reshape(-1))
        high = torch.as_tensor(np.asarray(observation_space.high, dtype=np.float64).reshape(-1))
        finite = torch.isfinite(low) & torch.isfinite(high)
        inside = low + (high - low) * torch.rand(5, obs_dim, generator=gen, dtype=torch.float64)
        probe = torch.where(finite, inside.float(), probe)
    return probe


def _check_module_behaviour(
    eager: nn.Module, scripted: torch.jit.ScriptModule, obs_dim: int, observation_space: spaces.Space | None = None
) -> None:
    """Scripted == eager, deterministic, and independent of the batch size (on a random probe, ``_probe``).

    A row computed alone may differ from the same row in a batch by float rounding (the kernels differ with
    the batch size), which grows with the size of the outputs: log-probabilities of a sharp policy span
    hundreds of nats. The batch-size check allows 1e-5 plus 4e-6 (about 32 float32 steps) of the row's
    largest output.
    """
    probe = _probe(obs_dim, observation_space)
    with torch.no_grad():
        a = _flat(scripted(probe))
        b = _flat(scripted(probe))
        ref = _flat(eager(probe))
        rows = [_flat(scripted(probe[i : i + 1])) for i in range(probe.shape[0])]
    for x, y in zip(a, b, strict=True):
        if not torch.equal(x, y) and not (torch.isnan(x).any() and torch.isnan(y).any()):
            raise ValueError("the module is not deterministic: two calls on the same batch differ")
    for x, y in zip(a, ref, strict=False):
        if x.shape != y.shape or not torch.allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True):
            raise ValueError("the scripted / traced module disagrees with the eager module on a probe batch")
    for i, row in enumerate(rows):
        for x, y in zip(a, row, strict=False):
            if x.ndim == 0 or y.shape[1:] != x.shape[1:]:
                raise ValueError("the module's output for a row depends on the batch size (batch of 5 vs row alone)")
            finite = x[i][torch.isfinite(x[i])]
            size = float(finite.abs().max()) if finite.numel() else 0.0
            if not torch.allclose(x[i : i + 1], y, rtol=1e-5, atol=1e-5 + 4e-6 * size, equal_nan=True):
                raise ValueError("the module's output for a row depends on the batch size (batch of 5 vs row alone)")


def _action_scaling(distribution: str, action_space: spaces.Space) -> dict[str, Any] | None:
    if not isinstance(action_space, spaces.Box):
        return None
    box = space_to_json(action_space)
    return {"kind": SCALING_KIND[distribution], "low": box["low"], "high": box["high"]}


def save_prior_package(
    out_dir: str | Path,
    module: nn.Module,
    *,
    name: str,
    distribution: str,
    observation_space: spaces.Space,
    action_space: spaces.Space,
    source_kind: str,
    source_file: str | Path | None = None,
    temperature: float | None = None,
    observation_flatten: str = "none",
    made_by: Mapping[str, Any] | None = None,
) -> Path:
    """Scripts ``module`` (torch.jit.script, else trace on a probe batch), freezes its parameters, and
    writes ``policy.pt`` + ``prior.json`` into ``out_dir``; returns the package folder.

    The written package is loaded back with :func:`load_prior_package` before this returns, so a
    package this function wrote always passes the consumers' checks. ValueError when the inputs
    do not make a valid package (e.g. ``categorical`` on a Box action space).
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}; expected one of {list(DISTRIBUTIONS)}")
    if source_kind not in SOURCE_KINDS:
        raise ValueError(f"unknown source kind {source_kind!r}; expected one of {list(SOURCE_KINDS)}")
    if observation_flatten not in FLATTEN:
        raise ValueError(f"unknown observation_flatten {observation_flatten!r}; expected one of {list(FLATTEN)}")
    if observation_flatten == "none" and not isinstance(observation_space, spaces.Box):
        raise ValueError(f"observation_flatten 'none' needs a Box observation space, got {observation_space}")
    if distribution == "categorical" and not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"a categorical prior needs a Discrete action space, got {action_space}")
    if distribution != "categorical" and not isinstance(action_space, spaces.Box):
        raise ValueError(f"a {distribution} prior needs a Box action space, got {action_space}")
    if distribution == "squashed_gaussian" and not (
        np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()  # type: ignore[attr-defined]
    ):
        raise ValueError(
            f"a squashed_gaussian prior needs a bounded Box action space (tanh_to_box), got {action_space}"
        )
    if temperature is not None and not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    obs_space_json = space_to_json(observation_space)
    act_space_json = space_to_json(action_space)
    obs_dim = flat_dim(observation_space)

    module = module.eval()
    module = module.float() if not isinstance(module, torch.jit.ScriptModule) else module
    for p in module.parameters():
        p.requires_grad_(False)
    scripted, how = _script(module, obs_dim)
    for p in scripted.parameters():
        p.requires_grad_(False)
    _check_module_behaviour(module, scripted, obs_dim, observation_space)

    source_path = Path(source_file) if source_file is not None else None
    sidecar: dict[str, Any] = {
        "format": FORMAT,
        "name": name,
        "distribution": distribution,
        "observation_space": obs_space_json,
        "action_space": act_space_json,
        "observation": {"flatten": observation_flatten, "dim": obs_dim},
        "action_scaling": _action_scaling(distribution, action_space),
        "temperature": None if temperature is None else float(temperature),
        "module": {"file": MODULE_FILE, "outputs": OUTPUTS[distribution]},
        "source": {
            "kind": source_kind,
            "file": source_path.name if source_path is not None else None,
            "sha256": file_sha256(source_path) if source_path is not None else None,
        },
        "made_by": {
            "command": "rql4j_bridge.prior.save_prior_package",
            "seed": None,
            "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "scripted_with": f"torch.jit.{how}" if how != "given" else "given TorchScript module",
            **dict(made_by or {}),
        },
        "versions": versions(),
    }

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Write next to the target, validate, then move into place: a failing export leaves no package.
    with tempfile.TemporaryDirectory(prefix=".rql4j-prior-", dir=out) as tmp:
        staging = Path(tmp)
        with quiet_jit():
            torch.jit.save(scripted, str(staging / MODULE_FILE))
        (staging / SIDE_CAR).write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
        load_prior_package(staging)
        for file in (MODULE_FILE, SIDE_CAR):
            shutil.move(str(staging / file), str(out / file))
    return out
