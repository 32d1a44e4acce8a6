"""``export_policy``: a policy folder saved by the Java learners -> a self-contained ``rql4j-prior/1`` package.

The input is the ``policy/`` folder of a run (or the run folder holding it) as Java saves it:

- ``rql4j-customized-policy/2`` (``CustomizedPolicy``, residual soft Q-learning): ``policy.json``
  (``obs_dim``, ``n_actions``, ``action_start``, ``config`` with ``alphaHat`` and ``priorWeight``,
  the prior package's absolute path ``prior_package`` and its ``prior_sha256``) and
  ``residual.safetensors`` (a ReLU ``nn.Sequential`` under ``q.0.weight``, ``q.0.bias``, ``q.2.weight``, ...);
- ``rql4j-sac-policy/2`` (``SacPolicy``): ``policy.json`` (``obs_dim``, ``action_low``,
  ``action_high``, ``config``; no prior: the run's ``config.json`` names it) and ``actor.safetensors``
  (ReLU ``actor.*``, output ``[mean | log_std]``);
- ``rql4j-ppo-policy/1`` (``PpoPolicy``): ``policy.json`` (``obs_dim``, ``action_space``, ``config``,
  optional ``observation_normalization``) and ``policy.safetensors`` (tanh ``policy.*`` and, for
  Box actions, ``log_std``).

The output folder is itself a valid prior package (docs/prior-package.md), so it can be the prior of
a further customization, and it needs neither Java nor the run folder::

    OUT/
      prior.json            rql4j-prior/1 sidecar + a "customized" block (learner, w, alphaHat, the
                            prior's sha256, the run's config) + an "onnx" block
      policy.pt             TorchScript of the WHOLE customized policy: forward(obs) as the package
                            format says, act(obs) the deterministic action in env units
      weights.safetensors   the learned tensors under PyTorch state_dict names (q.*, actor.*, policy.*,
                            log_std, normalization statistics, action bounds)
      prior/                a byte-identical copy of the prior package (when known), checked against
                            the sha256 the policy recorded
      policy.onnx           forward's outputs and then "action" (act's), one graph (optional)

No absolute path is written: the JSON holds relative names only, and the TorchScript archive is
saved without its debug records (``*.debug_pkl``, which hold the absolute paths of the Python
source files). The ``prior/`` copy is byte-identical to the prior (its hash must not change), so it
holds whatever its own author wrote.

ONNX route: ``torch.onnx.export(..., dynamo=False)``, the TorchScript-based exporter, run on the
saved ``policy.pt`` itself (wrapped so that ``act``'s result is a second output). The default
dynamo exporter cannot trace a ScriptModule, and the composite holds the prior as the TorchScript
module its package ships, whose Python source may not exist anywhere; rebuilding an eager module
would only work for priors of a known layout. The scripted route works for any prior whose ops
have ONNX symbolics, accepting torch's DeprecationWarning for that exporter (silenced here). The
written graph is run with onnxruntime on a probe batch and compared with ``policy.pt`` before it is
kept. When the export or that check fails, everything else is written and ``prior.json`` records
``"onnx": {"written": false, "reason": ...}`` with a warning; the export does not fail.

Nothing is ever overwritten: the package is assembled in a hidden temporary folder next to
``out_dir``, validated with the prior package loader, and renamed into place at the end; an
``out_dir`` that exists and is not empty is refused.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import re
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from rql4j_bridge.customized.modules import (
    NoNormalizer,
    ObservationNormalizer,
    OnnxCategorical,
    OnnxGaussian,
    PpoCategorical,
    PpoGaussian,
    SacActor,
    SoftQAlone,
    SoftQWithPrior,
)
from rql4j_bridge.customized.safetensors import read_safetensors, write_safetensors
from rql4j_bridge.prior.modules import mlp_from_state_dict
from rql4j_bridge.prior.package import (
    FORMAT,
    MODULE_FILE,
    OUTPUTS,
    SCALING_KIND,
    SIDE_CAR,
    PriorPackage,
    PriorPackageError,
    _check_module_behaviour,
    content_hash,
    file_sha256,
    load_prior_package,
    quiet_jit,
    versions,
)
from rql4j_bridge.prior.spaces_json import space_to_json

__all__ = [
    "CUSTOMIZED_FORMATS",
    "ONNX_FILE",
    "ONNX_OPSET",
    "PRIOR_FOLDER",
    "SOURCE_KIND",
    "WEIGHTS_FILE",
    "PolicyExportError",
    "export_policy",
]

_log = logging.getLogger(__name__)

SOURCE_KIND = "rql4j-customized"
WEIGHTS_FILE = "weights.safetensors"
ONNX_FILE = "policy.onnx"
PRIOR_FOLDER = "prior"
ONNX_OPSET = 17
RUN_FORMAT = "rql4j-run/1"
# what prior.json's customized.run keeps of the run's config.json: the task, how it is evaluated, the learner
RUN_KEYS = ("task", "env_id", "eval_env_id", "addon", "imports", "algo", "baseline")


@dataclass(frozen=True)
class _JavaFormat:
    learner: str  # the customized block's "learner"
    weights: str  # the safetensors file
    prefix: str  # the MLP's state_dict prefix
    activation: type[nn.Module]  # between the Linear layers (Mlp.java: ReLU, or tanh for PPO)


# The folder formats of rql4j/src/main/java/org/rql4j/learner/{CustomizedPolicy,SacPolicy,PpoPolicy}.java
CUSTOMIZED_FORMATS: dict[str, _JavaFormat] = {
    "rql4j-customized-policy/2": _JavaFormat("residual-soft-q", "residual.safetensors", "q", nn.ReLU),
    "rql4j-sac-policy/2": _JavaFormat("residual-sac", "actor.safetensors", "actor", nn.ReLU),
    "rql4j-ppo-policy/1": _JavaFormat("ppo", "policy.safetensors", "policy", nn.Tanh),
}
_OLD_FORMATS = {"rql4j-customized-policy/1": "residual.bin", "rql4j-sac-policy/1": "actor.bin"}


class PolicyExportError(ValueError):
    """The input cannot be exported; the message names the folder or file and what to do."""


# ---------------------------------------------------------------------------------------------
# Reading the Java folder
# ---------------------------------------------------------------------------------------------


@dataclass
class _Source:
    folder: Path  # the policy folder
    file: Path  # its policy.json
    data: dict[str, Any]
    fmt: str
    java: _JavaFormat
    tensors: dict[str, np.ndarray]
    config: dict[str, Any]
    run: dict[str, Any] | None  # the run's config.json (rql4j-run/1) when the folder sits in a run

    def get(self, key: str, kinds: tuple[type, ...], what: str, obj: Mapping[str, Any] | None = None) -> Any:
        obj = self.data if obj is None else obj
        prefix = "config." if obj is self.config else ""
        if key not in obj:
            raise PolicyExportError(f"{self.file}: field '{prefix}{key}' is missing (expected {what})")
        value = obj[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise PolicyExportError(f"{self.file}: field '{prefix}{key}' is {json.dumps(value)[:80]}, expected {what}")
        return value

    def number(self, key: str, obj: Mapping[str, Any] | None = None) -> float:
        value = float(self.get(key, (int, float), "a number", obj))
        if not math.isfinite(value):
            raise PolicyExportError(f"{self.file}: field '{key}' is {value}, expected a finite number")
        return value

    def floats(self, key: str, obj: Mapping[str, Any] | None = None) -> np.ndarray:
        values = self.get(key, (list,), "a list of numbers", obj)
        try:
            return np.array([float(v) for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            raise PolicyExportError(f"{self.file}: field '{key}' holds non-numbers: {values[:4]}") from None


def _read_json(file: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PolicyExportError(f"{file} is not valid JSON ({e}); {what}") from None
    if not isinstance(data, dict):
        raise PolicyExportError(f"{file} is not a JSON object; {what}")
    return data


def _read_source(policy_dir: str | Path) -> _Source:
    given = Path(policy_dir)
    if not given.exists():
        raise FileNotFoundError(
            f"no policy folder at {given}: pass the policy/ folder of a run saved by rql4j (or the run folder "
            "that holds it)"
        )
    if not given.is_dir():
        raise PolicyExportError(f"{given} is a file, not a policy folder: pass the policy/ folder of a run")
    if (given / "policy.json").is_file():
        folder = given
    elif (given / "policy" / "policy.json").is_file():
        folder = given / "policy"
    else:
        raise PolicyExportError(
            f"{given} is not a Java policy folder: it holds no policy.json (nor policy/policy.json); pass the "
            "policy/ folder that rql4j customize / rql4j ppo saved, or the run folder that holds it"
        )
    file = folder / "policy.json"
    data = _read_json(file, "a policy folder's policy.json is the JSON object Java writes")
    fmt = data.get("format")
    if fmt in _OLD_FORMATS:
        raise PolicyExportError(
            f"{file}: format {fmt!r} (weights in {_OLD_FORMATS[fmt]}) is an older format this exporter does not "
            f"read; load the policy with rql4j and save it again (formats read here: {', '.join(CUSTOMIZED_FORMATS)})"
        )
    if not isinstance(fmt, str) or fmt not in CUSTOMIZED_FORMATS:
        raise PolicyExportError(
            f"{file}: field 'format' is {json.dumps(fmt)[:80]}: {folder} is not a Java policy folder this exporter "
            f"reads ({', '.join(CUSTOMIZED_FORMATS)})"
        )
    java = CUSTOMIZED_FORMATS[fmt]
    weights = folder / java.weights
    if not weights.is_file():
        raise FileNotFoundError(
            f"{folder} has a policy.json of format {fmt} but no {java.weights}: the folder is incomplete; export the "
            "policy/ folder as the Java learner saved it"
        )
    try:
        tensors = read_safetensors(weights)
    except ValueError as e:
        raise PolicyExportError(f"{e}; the policy folder {folder} is damaged") from None
    config = data.get("config")
    if not isinstance(config, dict):
        raise PolicyExportError(f"{file}: field 'config' is missing or not an object (the learner's settings)")
    return _Source(folder, file, data, fmt, java, tensors, config, _run_config(folder.parent))


def _run_config(run: Path) -> dict[str, Any] | None:
    file = run / "config.json"
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == RUN_FORMAT else None


def _mlp(src: _Source, in_dim: int, out_dim: int) -> nn.Sequential:
    """The Mlp.java network under ``src.java.prefix`` (Linear at 0, 2, 4, ..., the activation between)."""
    weights = src.folder / src.java.weights
    prefix = src.java.prefix
    state: dict[str, Tensor] = {}
    for key, array in src.tensors.items():
        if key.startswith(prefix + "."):
            if array.dtype != np.float32:
                raise PolicyExportError(f"{weights}: tensor '{key}' is {array.dtype}; the network needs float32")
            state[key] = torch.from_numpy(array)
    try:
        net = mlp_from_state_dict(state, prefix, src.java.activation, final_activation=False, in_features=in_dim)
    except (ValueError, KeyError) as e:
        raise PolicyExportError(f"{weights}: {e}") from None
    linears = [m for m in net if isinstance(m, nn.Linear)]
    if not linears:
        raise PolicyExportError(
            f"{weights} has no tensors '{prefix}.0.weight', ...: not the weights of a {src.fmt} folder "
            f"(it has {sorted(src.tensors)[:8]})"
        )
    if linears[-1].out_features != out_dim:
        raise PolicyExportError(
            f"{weights}: the network outputs {linears[-1].out_features} values, {src.file} needs {out_dim}"
        )
    hidden = src.config.get("hidden")
    widths = [m.out_features for m in linears[:-1]]
    if isinstance(hidden, list) and [int(h) for h in hidden] != widths:
        raise PolicyExportError(f"{weights}: hidden layers {widths} differ from config.hidden {hidden} in {src.file}")
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


# ---------------------------------------------------------------------------------------------
# The prior
# ---------------------------------------------------------------------------------------------

_HEX64 = re.compile(r"[0-9a-f]{64}")
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/<])/(?:[\w.+@-]+/)*[\w.+@-]+")


@dataclass
class _Prior:
    folder: Path
    package: PriorPackage
    sha256: str
    verified: bool  # the hash the policy (or its run) recorded was found and matched


def _recorded_prior(src: _Source) -> tuple[str | None, str | None, str]:
    """(path, sha256, where) of the prior the policy or its run records."""
    path = src.data.get("prior_package")
    sha = src.data.get("prior_sha256")
    where = str(src.file)
    if src.run is not None:
        run_file = str(src.folder.parent / "config.json")
        if path is None and isinstance(src.run.get("prior"), str):
            path, where = src.run["prior"], run_file
        if sha is None and isinstance(src.run.get("prior_sha256"), str):
            sha = src.run["prior_sha256"]
    path = path if isinstance(path, str) and path else None
    sha = sha if isinstance(sha, str) and _HEX64.fullmatch(sha) else None
    return path, sha, where


def _resolve_prior(src: _Source, prior_dir: str | Path | None, *, needed: bool) -> _Prior | None:
    recorded, expected, where = _recorded_prior(src)
    if prior_dir is not None:
        folder = Path(prior_dir)
        if not (folder / SIDE_CAR).is_file():
            raise FileNotFoundError(f"no prior package at {folder} (given as the prior): it holds no {SIDE_CAR}")
    elif recorded is not None:
        folder = Path(recorded)
        if not (folder / SIDE_CAR).is_file():
            if needed:
                raise FileNotFoundError(
                    f"the prior package {folder} that {where} records does not exist (or holds no {SIDE_CAR}); the "
                    f"policy in {src.folder} needs it (priorWeight != 0): pass its folder with prior_dir= "
                    "(rql4j-bridge export-policy --prior DIR)"
                )
            _log.warning("the prior package %s recorded in %s does not exist; exporting without it", folder, where)
            warnings.warn(
                f"the prior package {folder} recorded in {where} does not exist; the export holds no prior/ copy",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
    else:
        if needed:
            raise PolicyExportError(
                f"{src.file} names no prior package but its priorWeight is not 0: pass the prior's folder with "
                "prior_dir= (rql4j-bridge export-policy --prior DIR)"
            )
        return None
    actual = content_hash(folder)
    if expected is not None and actual != expected:
        raise PolicyExportError(
            f"the prior package {folder} is not the one the policy in {src.folder} was trained with: its files "
            f"changed (sha256 {actual}, {where} records {expected}); a customized policy is only meaningful with its "
            "own prior: restore that package, or pass the right folder with prior_dir= / --prior"
        )
    try:
        package = load_prior_package(folder)
    except PriorPackageError as e:
        raise PolicyExportError(f"the prior package {folder} does not load: {e}") from None
    return _Prior(folder.resolve(), package, actual, verified=expected is not None)


# ---------------------------------------------------------------------------------------------
# Building the module
# ---------------------------------------------------------------------------------------------


@dataclass
class _Built:
    module: nn.Module
    distribution: str
    observation_space: spaces.Space
    action_space: spaces.Space
    flatten: str
    temperature: float | None
    act: str  # what act(obs) returns, for prior.json
    equation: str
    customized: dict[str, Any] = field(default_factory=dict)


def _unbounded_box(dim: int) -> spaces.Box:
    return spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float32)


def _observation(src: _Source, prior: _Prior | None, obs_dim: int) -> tuple[spaces.Space, str, bool]:
    """(space, flatten, from_prior): the prior's observation space when it is known (its width checked)."""
    if prior is None:
        return _unbounded_box(obs_dim), "none", False
    if prior.package.obs_dim != obs_dim:
        raise PolicyExportError(
            f"{src.file}: obs_dim is {obs_dim} but the prior {prior.folder} takes observations of width "
            f"{prior.package.obs_dim}: this is not the prior the policy was trained with; pass the right one with "
            "prior_dir= / --prior"
        )
    return prior.package.observation_space, prior.package.sidecar["observation"]["flatten"], True


def _box(low: np.ndarray, high: np.ndarray) -> spaces.Box:
    return spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)


def _build_soft_q(src: _Source, prior: _Prior | None) -> _Built:
    obs_dim = int(src.get("obs_dim", (int,), "an integer"))
    n = int(src.get("n_actions", (int,), "an integer"))
    start = int(src.get("action_start", (int,), "an integer"))
    w = src.number("priorWeight", src.config)
    alpha_hat = src.number("alphaHat", src.config)
    if not alpha_hat > 0:
        raise PolicyExportError(f"{src.file}: config.alphaHat is {alpha_hat}, expected a positive number")
    q = _mlp(src, obs_dim, n)
    obs_space, flatten, from_prior = _observation(src, prior, obs_dim)
    if prior is not None:
        pkg = prior.package
        if (
            pkg.distribution != "categorical" or pkg.action_dim != n or int(pkg.action_space.start) != start  # type: ignore[attr-defined]
        ):
            raise PolicyExportError(
                f"the prior {prior.folder} is a {pkg.distribution} policy over {pkg.action_space}; the policy in "
                f"{src.folder} acts in Discrete({n}, start={start}) with a categorical prior: pass the right prior"
            )
    if w != 0:
        assert prior is not None
        module: nn.Module = SoftQWithPrior(q, prior.package.module, w, alpha_hat, start)
        equation = "log_softmax((Q_R(s) + w * log_pi(.|s)) / alphaHat)"
    else:
        module = SoftQAlone(q, alpha_hat, start)
        equation = "log_softmax(Q_R(s) / alphaHat) (w = 0: the prior drops out)"
    return _Built(
        module=module,
        distribution="categorical",
        observation_space=obs_space,
        action_space=prior.package.action_space if prior is not None else spaces.Discrete(n, start=start),
        flatten=flatten,
        temperature=alpha_hat,
        act="int64 [B]: argmax of Q_R + w * log_pi (the first of ties) + action_space.start",
        equation=equation,
        customized={"prior_weight": w, "alpha_hat": alpha_hat, "spaces_from_prior": from_prior},
    )


def _build_sac(src: _Source, prior: _Prior | None) -> _Built:
    obs_dim = int(src.get("obs_dim", (int,), "an integer"))
    low, high = src.floats("action_low"), src.floats("action_high")
    if len(low) != len(high) or not len(low) or not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise PolicyExportError(f"{src.file}: action_low / action_high must be finite lists of one length")
    actor = _mlp(src, obs_dim, 2 * len(low))
    obs_space, flatten, from_prior = _observation(src, prior, obs_dim)
    act_space: spaces.Space = _box(low, high)
    if prior is not None:
        pkg = prior.package
        prior_low = np.asarray(getattr(pkg.action_space, "low", np.nan), np.float64).ravel()
        prior_high = np.asarray(getattr(pkg.action_space, "high", np.nan), np.float64).ravel()
        if (
            pkg.distribution != "squashed_gaussian"
            or prior_low.shape != low.shape
            or not np.allclose(prior_low, low, rtol=1e-6, atol=1e-6)
            or not np.allclose(prior_high, high, rtol=1e-6, atol=1e-6)
        ):
            raise PolicyExportError(
                f"the prior {prior.folder} is a {pkg.distribution} policy over {pkg.action_space}; the SAC policy in "
                f"{src.folder} acts in a Box [{low.tolist()}, {high.tolist()}] with a squashed_gaussian prior: pass "
                "the right prior"
            )
        act_space = pkg.action_space
    alpha_hat = src.number("alphaHat", src.config)
    # the temperature the run ended with (policy.json's alpha_hat, written since 0.2.0): a learned one moved
    final = src.data.get("alpha_hat")
    final_alpha_hat = float(final) if isinstance(final, (int, float)) and not isinstance(final, bool) else None
    return _Built(
        module=SacActor(actor, low, high),
        distribution="squashed_gaussian",
        observation_space=obs_space,
        action_space=act_space,
        flatten=flatten,
        temperature=None,
        act="float32 [B, d] in env units: low + (tanh(mean) + 1) / 2 * (high - low)",
        equation="actor(s) = [mean | log_std], log_std clamped to [-20, 2]; action = tanh(u) scaled to the Box",
        customized={
            "prior_weight": src.number("priorWeight", src.config),
            "alpha_hat": alpha_hat if final_alpha_hat is None else final_alpha_hat,
            "alpha_hat_initial": alpha_hat,
            "learn_alpha": bool(src.config.get("learnAlpha", False)),
            "spaces_from_prior": from_prior,
        },
    )


def _build_ppo(src: _Source, prior: _Prior | None) -> _Built:
    obs_dim = int(src.get("obs_dim", (int,), "an integer"))
    action = src.get("action_space", (dict,), 'an object {"type": "discrete" | "box", ...}')
    kind = action.get("type")
    normalize = bool(src.config.get("normalizeObservations", False))
    norm_json = src.data.get("observation_normalization")
    normalizer: nn.Module = NoNormalizer()
    norm_info: dict[str, Any] | None = None
    if norm_json is not None:
        if not normalize:
            raise PolicyExportError(
                f"{src.file} has observation statistics but its config does not normalize observations"
            )
        if not isinstance(norm_json, dict):
            raise PolicyExportError(f"{src.file}: field 'observation_normalization' is not an object")
        mean, var = src.floats("mean", norm_json), src.floats("var", norm_json)
        if len(mean) != obs_dim or len(var) != obs_dim or not (var >= 0).all():
            raise PolicyExportError(
                f"{src.file}: observation_normalization needs {obs_dim} means and {obs_dim} non-negative variances"
            )
        count = norm_json.get("count")
    elif normalize:  # Java's RunningMeanStd before any update: mean 0, variance 1
        mean, var, count = np.zeros(obs_dim), np.ones(obs_dim), None
    if normalize:
        normalizer = ObservationNormalizer(mean, var)
        norm_info = {"formula": "clip((obs - mean) / sqrt(var + 1e-8), -10, 10)", "count": count}
    if kind == "discrete":
        n = int(src.get("n", (int,), "an integer", action))
        start = int(src.get("start", (int,), "an integer", action))
        policy = _mlp(src, obs_dim, n)
        module: nn.Module = PpoCategorical(normalizer, policy, start)
        act_space: spaces.Space = spaces.Discrete(n, start=start)
        distribution = "categorical"
        act = "int64 [B]: argmax of the log-probabilities (the first of ties) + action_space.start"
        equation = "log_softmax(policy(normalize(s)))"
    elif kind == "box":
        low, high = src.floats("low", action), src.floats("high", action)
        if len(low) != len(high) or not len(low) or not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise PolicyExportError(f"{src.file}: action_space.low / high must be finite lists of one length")
        policy = _mlp(src, obs_dim, len(low))
        weights = src.folder / src.java.weights
        log_std = src.tensors.get("log_std")
        if log_std is None or log_std.size != len(low) or log_std.dtype != np.float32:
            raise PolicyExportError(
                f"{weights} needs a float32 tensor 'log_std' of {len(low)} values, one per action dimension"
            )
        module = PpoGaussian(normalizer, policy, torch.from_numpy(log_std.reshape(-1)), low, high)
        act_space = _box(low, high)
        distribution = "diag_gaussian"
        act = "float32 [B, d]: the mean clipped to the Box"
        equation = "mean = policy(normalize(s)), log_std a learned vector"
    else:
        raise PolicyExportError(f"{src.file}: action_space.type is {json.dumps(kind)}, expected 'discrete' or 'box'")
    obs_space, flatten, from_prior = _observation(src, prior, obs_dim)
    return _Built(
        module=module,
        distribution=distribution,
        observation_space=obs_space,
        action_space=act_space,
        flatten=flatten,
        temperature=None,
        act=act,
        equation=equation,
        customized={
            "prior_weight": src.number("priorWeight", src.config) if "priorWeight" in src.config else None,
            "alpha_hat": src.number("alphaHat", src.config) if "alphaHat" in src.config else None,
            "observation_normalization": norm_info,
            "spaces_from_prior": from_prior,
        },
    )


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _check_out_dir(out_dir: str | Path, src: _Source, prior_folder: Path | None) -> Path:
    out = Path(out_dir)
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise PolicyExportError(f"{out} exists and is not a folder: choose another output folder")
        if any(out.iterdir()):
            raise PolicyExportError(
                f"{out} already exists and is not empty: the export never overwrites; choose another output folder "
                f"or remove {out} first"
            )
    resolved = out.resolve()
    for inside, what in ((src.folder.resolve(), "the policy folder"), (prior_folder, "the prior package")):
        if inside is not None and resolved.is_relative_to(inside):
            raise PolicyExportError(f"{out} lies inside {what} {inside}: choose an output folder outside it")
    return out


def _strip_debug_records(path: Path) -> bool:
    """Rewrites a TorchScript archive without its ``*.debug_pkl`` records (source ranges: they hold the
    absolute paths of the Python files the code was compiled from; TorchScript loads without them).
    True when done; on failure the archive stays as torch wrote it."""
    reader = torch._C.PyTorchFileReader(str(path))
    records = reader.get_all_records()
    if not any(r.endswith(".debug_pkl") for r in records):
        return True
    # the archive's root folder is named after the file's stem: write a file of the same name elsewhere
    work = Path(tempfile.mkdtemp(prefix=".strip-", dir=path.parent))
    try:
        writer = torch._C.PyTorchFileWriter(str(work / path.name))
        for name in records:
            if not name.endswith(".debug_pkl"):
                data = reader.get_record(name)
                writer.write_record(name, data, len(data))
        writer.write_end_of_file()
        del writer
        os.replace(work / path.name, path)
        return True
    except Exception as e:  # a private API of torch: keep the archive as torch.jit.save wrote it
        _log.warning("could not strip the debug records of %s (%s: %s)", path.name, type(e).__name__, e)
        return False
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _save_module(scripted: torch.jit.ScriptModule, path: Path) -> bool:
    with quiet_jit():
        torch.jit.save(scripted, str(path))
    return _strip_debug_records(path)


def _paths_in(paths: list[str]) -> re.Pattern[str]:
    """Any of ``paths`` as a whole path (not a piece of a longer name); the longest first."""
    alternatives = "|".join(re.escape(p) for p in sorted(paths, key=len, reverse=True))
    return re.compile(rf"(?<![\w.\-])(?:{alternatives})(?![\w.\-])")


def _probe(obs_dim: int, rows: int = 64) -> Tensor:
    gen = torch.Generator().manual_seed(20260)
    return torch.randn(rows, obs_dim, generator=gen, dtype=torch.float32)


def _flat(out: Any) -> list[Tensor]:
    return [out] if isinstance(out, Tensor) else list(out)


def _check_same(a: Any, b: Any, what: str) -> None:
    for x, y in zip(_flat(a), _flat(b), strict=True):
        if x.shape != y.shape or not torch.equal(x, y):
            raise RuntimeError(f"internal error: {what} differ on a probe batch")


def _versions() -> dict[str, str | None]:
    out = dict(versions())
    for dist in ("onnx", "onnxruntime"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _onnx_block(policy_pt: Path, out_file: Path, distribution: str, obs_dim: int, hide: list[str]) -> dict[str, Any]:
    """Writes ``out_file`` (forward's outputs then ``action``) and checks it against ``policy_pt``;
    ``{"written": false, "reason": ...}`` (and no file) when that fails."""

    def clean(text: str) -> str:  # one line, no absolute path (prior.json holds none)
        text = _paths_in(hide).sub("<folder>", text) if hide else text
        return " ".join(_ABSOLUTE_PATH.sub("<path>", text).split())[:400]

    def refuse(reason: str) -> dict[str, Any]:
        out_file.unlink(missing_ok=True)
        reason = clean(reason)
        _log.warning("%s not written: %s", ONNX_FILE, reason)
        warnings.warn(f"{ONNX_FILE} not written: {reason}", RuntimeWarning, stacklevel=4)
        return {"written": False, "reason": reason}

    try:
        import onnx
    except ImportError as e:
        return refuse(f"the onnx package is not installed ({e}): pip install 'rql4j-bridge[export]'")
    outputs = [*OUTPUTS[distribution], "action"]
    with quiet_jit():
        policy = torch.jit.load(str(policy_pt), map_location="cpu")
        wrapper = OnnxCategorical(policy) if distribution == "categorical" else OnnxGaussian(policy)
        try:
            graph = torch.jit.script(wrapper)
        except Exception as e:
            return refuse(f"the ONNX wrapper could not be scripted ({type(e).__name__}: {e})")
    example = _probe(obs_dim, 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            torch.onnx.export(
                graph,
                (example,),
                str(out_file),
                dynamo=False,
                input_names=["obs"],
                output_names=outputs,
                dynamic_axes={name: {0: "batch"} for name in ["obs", *outputs]},
                opset_version=ONNX_OPSET,
                do_constant_folding=True,
            )
        model = onnx.load(str(out_file))
        onnx.checker.check_model(model)
        for key, value in (
            ("rql4j.format", FORMAT),
            ("rql4j.distribution", distribution),
            ("rql4j.outputs", ",".join(outputs)),
        ):
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(model, str(out_file))
    except Exception as e:
        return refuse(f"torch.onnx.export(dynamo=False) of policy.pt failed ({type(e).__name__}: {e})")
    block: dict[str, Any] = {
        "written": True,
        "file": ONNX_FILE,
        "opset": ONNX_OPSET,
        "inputs": ["obs"],
        "outputs": outputs,
        "exporter": "torch.onnx.export(dynamo=False) of policy.pt (forward, then act as 'action')",
        "checked_with": None,
    }
    try:
        import onnxruntime as ort
    except ImportError:
        _log.warning("onnxruntime is not installed: %s was not run against policy.pt", ONNX_FILE)
        return block
    probe = torch.cat([torch.zeros(1, obs_dim), _probe(obs_dim)])
    try:
        session = ort.InferenceSession(str(out_file), providers=["CPUExecutionProvider"])
        got = session.run(None, {"obs": probe.numpy()})
    except Exception as e:
        return refuse(f"onnxruntime cannot run the exported graph ({type(e).__name__}: {e})")
    with torch.no_grad():
        want = [*_flat(policy(probe)), policy.act(probe)]
    worst = 0.0
    for name, x, y in zip(outputs, got, want, strict=True):
        y = y.numpy()
        if x.shape != y.shape or x.dtype != y.dtype:
            return refuse(f"output {name!r} is {x.dtype} {list(x.shape)}, policy.pt gives {y.dtype} {list(y.shape)}")
        if name == "action" and distribution == "categorical":
            # may differ only where two actions' scores tie to float32 rounding
            top2 = torch.topk(want[0], 2, dim=1).values if want[0].shape[1] > 1 else None
            near_tie = (top2[:, 0] - top2[:, 1] < 1e-3).numpy() if top2 is not None else np.zeros(len(x), bool)
            if ((x != y) & ~near_tie).any():
                return refuse("its deterministic actions differ from policy.pt's on a probe batch")
            continue
        # float32 results of two kernels: within a relative 1e-3 of the scale of the values (a wrong graph is O(1) off)
        scale = np.maximum(1.0, np.abs(y))
        diff = float(np.max(np.abs(x.astype(np.float64) - y) / scale)) if x.size else 0.0
        if not diff <= 1e-3:
            return refuse(f"its output {name!r} differs from policy.pt's by {diff:.3g} (relative) on a probe batch")
        worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y))) if x.size else 0.0)
    block["checked_with"] = f"onnxruntime {ort.__version__}"
    block["max_abs_diff"] = worst
    block["probe"] = f"{probe.shape[0]} observations (zeros and standard normal)"
    return block


def export_policy(
    policy_dir: str | Path,
    out_dir: str | Path,
    *,
    prior_dir: str | Path | None = None,
    onnx: bool = True,
    name: str | None = None,
    command: str | None = None,
) -> Path:
    """Exports a Java-saved policy folder (``RUN/policy`` or ``RUN``) as a self-contained prior package.

    Args:
        policy_dir: the ``policy/`` folder a Java learner saved, or the run folder holding it.
        out_dir: the folder to write; must not exist or be empty. Nothing is overwritten.
        prior_dir: the prior package, when it is not (or no longer) where the policy / run recorded it;
            it is checked against the recorded sha256 all the same.
        onnx: also write ``policy.onnx`` (needs the ``export`` extra: onnx, onnxruntime).
        name: the package's name (default: the output folder's name).
        command: recorded as ``made_by.command`` (default ``rql4j_bridge.export_policy``).

    Returns:
        the output folder.

    Raises:
        FileNotFoundError: no such policy folder, or its prior package is gone.
        PolicyExportError (a ValueError): not a Java policy folder (unknown format), a prior whose
            files changed since the policy was trained, an output folder that exists and is not
            empty; the message names the folder and what to do.
    """
    src = _read_source(policy_dir)
    needed = src.fmt == "rql4j-customized-policy/2" and src.config.get("priorWeight", 1) != 0
    prior = _resolve_prior(src, prior_dir, needed=needed)
    out = _check_out_dir(out_dir, src, prior.folder if prior is not None else None)
    build = {"residual-soft-q": _build_soft_q, "residual-sac": _build_sac, "ppo": _build_ppo}[src.java.learner]
    built = build(src, prior)
    obs_dim = int(src.data["obs_dim"])

    module = built.module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    with quiet_jit():
        scripted = torch.jit.script(module)
    for p in scripted.parameters():
        p.requires_grad_(False)
    _check_module_behaviour(module, scripted, obs_dim, built.observation_space)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{secrets.token_hex(6)}.export-tmp"
    staging.mkdir()  # not mkdtemp: the folder becomes the package and keeps the usual permissions (umask)
    # absolute paths that must not reach the written files
    folders = [staging, out, src.folder, *([prior.folder] if prior is not None else [])]
    hide = sorted({str(p.absolute()) for p in folders} | {str(p.resolve()) for p in folders}, key=len, reverse=True)
    try:
        policy_pt = staging / MODULE_FILE
        stripped = _save_module(scripted, policy_pt)
        with quiet_jit():
            reloaded = torch.jit.load(str(policy_pt), map_location="cpu")
        probe = _probe(obs_dim)
        with torch.no_grad():
            _check_same(reloaded(probe), scripted(probe), "the saved policy.pt and the scripted module")
            _check_same(reloaded.act(probe), scripted.act(probe), "the saved act() and the scripted one")

        learned = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items() if not k.startswith("prior.")}
        write_safetensors(staging / WEIGHTS_FILE, learned, {"format": src.fmt, "learner": src.java.learner})

        prior_block: dict[str, Any] | None = None
        if prior is not None:
            shutil.copytree(prior.folder, staging / PRIOR_FOLDER, ignore=shutil.ignore_patterns(".*"))
            copied = content_hash(staging / PRIOR_FOLDER)
            if copied != prior.sha256:
                raise PolicyExportError(
                    f"the prior package {prior.folder} changed while it was being copied (sha256 {copied}, was "
                    f"{prior.sha256}); export again"
                )
            prior_block = {
                "folder": PRIOR_FOLDER,
                "name": prior.package.name,
                "distribution": prior.package.distribution,
                "sha256": prior.sha256,
                "sha256_verified": prior.verified,
            }

        onnx_block = (
            _onnx_block(policy_pt, staging / ONNX_FILE, built.distribution, obs_dim, hide)
            if onnx
            else {"written": False, "reason": "not requested (onnx=False / --no-onnx)"}
        )

        run = src.run or {}
        customized = {
            "learner": src.java.learner,
            "policy_format": src.fmt,
            "equation": built.equation,
            **built.customized,
            "prior_sha256": prior.sha256 if prior is not None else src.data.get("prior_sha256"),
            "prior": prior_block,
            "weights": {"file": WEIGHTS_FILE, "tensors": sorted(learned)},
            "config": src.config,
            "run": {k: run[k] for k in RUN_KEYS if k in run} or None,
            "created": src.data.get("created"),
        }
        act_space = built.action_space
        sidecar: dict[str, Any] = {
            "format": FORMAT,
            "name": name or out.resolve().name,
            "distribution": built.distribution,
            "observation_space": space_to_json(built.observation_space),
            "action_space": space_to_json(act_space),
            "observation": {"flatten": built.flatten, "dim": obs_dim},
            "action_scaling": None
            if built.distribution == "categorical"
            else {
                "kind": SCALING_KIND[built.distribution],
                "low": space_to_json(act_space)["low"],
                "high": space_to_json(act_space)["high"],
            },
            "temperature": built.temperature,
            "module": {"file": MODULE_FILE, "outputs": OUTPUTS[built.distribution], "act": built.act},
            "source": {
                "kind": SOURCE_KIND,
                "file": f"{src.folder.name}/{src.file.name}",
                "sha256": file_sha256(src.file),
                "format": src.fmt,
                "weights_file": src.java.weights,
                "weights_sha256": file_sha256(src.folder / src.java.weights),
            },
            "customized": customized,
            "onnx": onnx_block,
            "made_by": {
                "command": command or "rql4j_bridge.export_policy",
                "seed": src.config.get("seed") if isinstance(src.config.get("seed"), int) else None,
                "date": _now(),
                "scripted_with": "torch.jit.script",
                "debug_records_stripped": stripped,
            },
            "versions": _versions(),
        }
        text = json.dumps(sidecar, indent=2) + "\n"
        leak = _paths_in(hide).search(text)
        if leak:
            raise RuntimeError(f"internal error: prior.json would hold the absolute path {leak.group(0)}")
        (staging / SIDE_CAR).write_text(text, encoding="utf-8")
        load_prior_package(staging)  # a package the consumers accept
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
