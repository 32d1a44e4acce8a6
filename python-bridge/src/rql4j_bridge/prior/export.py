"""``rql4j-bridge export``: checkpoints -> prior packages (docs/prior-package.md).

Kinds:

* ``sb3-dqn``, ``sb3-sac``, ``sb3-ppo``, ``sb3-a2c``: Stable-Baselines3 zips. Only ``policy.pth``
  (``torch.load(..., weights_only=True)``) and the plain JSON of the zip's ``data`` file are read;
  nothing in the zip is unpickled unless ``--allow-unpickle``.
* ``rql-ref-softdqn``, ``rql-ref-sac``: the RQL reference code's SB3-1.7 zips, read without their
  custom classes (state dict only, fixed key layout).
* ``torch-module``: a TorchScript file, or ``--module-class pkg.mod:Class`` + ``--module-kwargs``
  + a state-dict checkpoint; ``--distribution`` says what the module outputs.

Recovering what is not in the weights, without unpickling:

* Layer sizes come from the weight shapes (``<prefix>.<i>.weight``); ``net_arch`` in the zip's
  ``policy_kwargs`` (or SB3's default) is only cross-checked against them.
* The activation: ``--activation``, else ``policy_kwargs.activation_fn``, which SB3 stores as the
  readable string ``"<class 'torch.nn.modules.activation.ReLU'>"`` next to the pickled dict (and,
  as a fallback, the class name is read from the pickle's opcode stream with ``pickletools``,
  which executes nothing), else SB3's default (PPO / A2C: Tanh; DQN / SAC: ReLU).
* Spaces: ``--env-id`` (``gymnasium.make(ID, **env_kwargs)``'s spaces); else ``--allow-unpickle``
  (the ``:serialized:`` payload); else the readable attributes SB3 writes next to the payload:
  Box ``dtype`` / ``_shape`` / ``low`` / ``high`` (numpy's printed form: exact for the usual
  bounds, but numpy prints at most 8 decimals, so pass --env-id when bounds have more digits),
  Discrete ``n`` / ``start``, MultiDiscrete ``nvec``, MultiBinary ``n``. Dict / Tuple spaces have no
  readable form: they need --env-id or --allow-unpickle.
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import logging
import math
import pickle
import pickletools
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from rql4j_bridge.prior import EXPORT_KINDS, TORCH_MODULE_DISTRIBUTIONS
from rql4j_bridge.prior import modules as m
from rql4j_bridge.prior.package import PriorPackageError, quiet_jit, save_prior_package

__all__ = ["DISTRIBUTION_CHOICES", "KINDS", "ExportError", "export_checkpoint", "read_sb3_zip"]

_log = logging.getLogger(__name__)

KINDS = EXPORT_KINDS
# torch-module --distribution: what the module outputs.
DISTRIBUTION_CHOICES = TORCH_MODULE_DISTRIBUTIONS

_SB3_DEFAULT_ACTIVATION = {"dqn": "ReLU", "sac": "ReLU", "actor_critic": "Tanh"}
_SB3_DEFAULT_NET_ARCH = {"dqn": [64, 64], "sac": [256, 256], "actor_critic": [64, 64]}
_ALGO_OF_KIND = {"sb3-dqn": "dqn", "sb3-sac": "sac", "sb3-ppo": "actor_critic", "sb3-a2c": "actor_critic"}
_KIND_OF_ALGO = {"dqn": "sb3-dqn", "sac": "sb3-sac", "actor_critic": "sb3-ppo or sb3-a2c"}


class ExportError(ValueError):
    """The checkpoint cannot be exported as asked; the message says why and what to do."""


# ---------------------------------------------------------------------------------------------
# Reading zips without unpickling
# ---------------------------------------------------------------------------------------------


@dataclass
class Sb3Zip:
    path: Path
    data: dict[str, Any]
    state_dict: dict[str, Tensor]
    sb3_version: str | None


def _refuse_vecnormalize(path: Path) -> None:
    if "vecnormalize" in path.name.lower() or "vec_normalize" in path.name.lower():
        raise ExportError(
            f"{path} looks like VecNormalize statistics: VecNormalize is not supported. A prior takes raw "
            "observations; export the policy zip of a model trained without VecNormalize, or write a module "
            "that normalizes inside forward() and export it with --kind torch-module"
        )


def read_sb3_zip(path: str | Path) -> Sb3Zip:
    """policy.pth (weights_only) and the JSON of ``data`` from an SB3 zip; nothing is unpickled."""
    p = Path(path)
    if not p.is_file():
        raise ExportError(f"checkpoint {p} does not exist")
    _refuse_vecnormalize(p)
    if not zipfile.is_zipfile(p):
        raise ExportError(
            f"{p} is not a zip: SB3 checkpoints are the .zip files written by model.save() "
            "(VecNormalize .pkl statistics are not supported)"
        )
    with zipfile.ZipFile(p) as zf:
        names = set(zf.namelist())
        if "policy.pth" not in names:
            raise ExportError(
                f"{p} has no policy.pth: not a Stable-Baselines3 model zip (entries: {sorted(names)[:10]})"
            )
        try:
            state = torch.load(io.BytesIO(zf.read("policy.pth")), map_location="cpu", weights_only=True)
        except Exception as e:
            raise ExportError(f"{p}: policy.pth cannot be read as a plain state dict (weights_only): {e}") from None
        data: dict[str, Any] = {}
        if "data" in names:
            try:
                data = json.loads(zf.read("data").decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ExportError(f"{p}: the zip's data file is not JSON: {e}") from None
        version = (
            zf.read("_stable_baselines3_version").decode().strip() if "_stable_baselines3_version" in names else None
        )
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ExportError(f"{p}: policy.pth does not hold a state dict of tensors")
    return Sb3Zip(p, data, {k: v.detach().float() if v.is_floating_point() else v for k, v in state.items()}, version)


def pickled_globals(b64: str) -> list[str]:
    """The ``module.name`` globals a pickle references, read from its opcodes (nothing is executed)."""
    try:
        raw = base64.b64decode(b64)
        ops = list(pickletools.genops(raw))
    except Exception:
        return []
    found: list[str] = []
    pushed: list[Any] = []
    memo: list[Any] = []
    for op, arg, _ in ops:
        name = op.name
        if name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING"):
            pushed.append(arg)
        elif name == "MEMOIZE":
            memo.append(pushed[-1] if pushed else None)
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            idx = int(arg)
            pushed.append(memo[idx] if 0 <= idx < len(memo) else None)
        elif name == "STACK_GLOBAL":
            if len(pushed) >= 2 and isinstance(pushed[-2], str) and isinstance(pushed[-1], str):
                found.append(f"{pushed[-2]}.{pushed[-1]}")
            pushed.append(None)
        elif name == "GLOBAL" and isinstance(arg, str):
            found.append(arg.replace(" ", "."))
            pushed.append(None)
        elif name not in ("PROTO", "FRAME", "PUT", "BINPUT", "LONG_BINPUT"):
            pushed.append(None)
    return found


def _policy_class(data: Mapping[str, Any]) -> str:
    """``module.Class`` of the zip's policy_class (from its pickle opcodes), or ``module`` alone, or ''."""
    pc = data.get("policy_class")
    if not isinstance(pc, Mapping):
        return ""
    serialized = pc.get(":serialized:")
    if isinstance(serialized, str):
        names = pickled_globals(serialized)
        if names:
            return names[0]
    module = pc.get("__module__")
    return module if isinstance(module, str) else ""


def _policy_kwargs(data: Mapping[str, Any]) -> dict[str, Any]:
    pk = data.get("policy_kwargs")
    if not isinstance(pk, Mapping):
        return {}
    return {k: v for k, v in pk.items() if not k.startswith(":")}


def _activation(name: str | None, pk: Mapping[str, Any], data: Mapping[str, Any], default: str) -> type[nn.Module]:
    if name:
        try:
            return m.activation_class(name)
        except ValueError as e:
            raise ExportError(f"--activation: {e}") from None
    readable = pk.get("activation_fn")
    if isinstance(readable, str):
        try:
            return m.activation_class(readable)
        except ValueError as e:
            raise ExportError(f"policy_kwargs.activation_fn: {e}; pass --activation NAME") from None
    serialized = (
        data.get("policy_kwargs", {}).get(":serialized:") if isinstance(data.get("policy_kwargs"), Mapping) else None
    )
    if isinstance(serialized, str):
        for g in pickled_globals(serialized):
            if g.startswith("torch.nn."):
                try:
                    return m.activation_class(g)
                except ValueError:
                    continue
    return m.activation_class(default)


# -- spaces -------------------------------------------------------------------------------------


def _parse_numpy_repr(text: str, shape: tuple[int, ...], what: str) -> np.ndarray:
    if "..." in text:
        raise ExportError(f"{what}: the checkpoint only stores a summarized repr ({text[:60]}...); pass --env-id")
    tokens = re.sub(r"[\[\],]", " ", text).split()
    try:
        values = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        raise ExportError(f"{what}: cannot parse {text[:80]!r}; pass --env-id") from None
    size = math.prod(shape)
    if values.size == 1 and size != 1:
        values = np.full(size, values[0])
    if values.size != size:
        raise ExportError(f"{what}: {values.size} values for shape {list(shape)}; pass --env-id")
    return values.reshape(shape)


def _readable_int(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    raise ExportError(f"{what}: cannot read an integer from {value!r:.60}; pass --env-id")


def _readable_space(entry: Any, what: str) -> spaces.Space:
    """A space from the readable attributes SB3 stores next to the pickled one."""
    if not isinstance(entry, Mapping):
        raise ExportError(f"the checkpoint has no {what}; pass --env-id ID")
    kind = str(entry.get(":type:", ""))
    if kind.endswith(".Box'>"):
        shape_v = entry.get("_shape", entry.get("shape"))
        if not isinstance(shape_v, list):
            raise ExportError(f"{what}: no readable shape; pass --env-id")
        shape = tuple(int(d) for d in shape_v)
        dtype = np.dtype(str(entry.get("dtype", "float32")))
        lows = entry.get("low")
        highs = entry.get("high")
        low = (
            np.asarray(lows, np.float64).reshape(shape)
            if isinstance(lows, list)
            else _parse_numpy_repr(str(lows), shape, f"{what}.low")
        )
        high = (
            np.asarray(highs, np.float64).reshape(shape)
            if isinstance(highs, list)
            else _parse_numpy_repr(str(highs), shape, f"{what}.high")
        )
        return spaces.Box(low.astype(dtype), high.astype(dtype), shape=shape, dtype=dtype)
    if kind.endswith(".Discrete'>"):
        n = _readable_int(entry.get("n"), f"{what}.n")
        start = _readable_int(entry.get("start", 0), f"{what}.start")
        return spaces.Discrete(n, start=start)
    if kind.endswith(".MultiDiscrete'>"):
        nvec = entry.get("nvec")
        if isinstance(nvec, list):
            values = np.asarray(nvec, dtype=np.int64)
        else:
            tokens = re.sub(r"[\[\],]", " ", str(nvec)).split()
            try:
                values = np.array([int(t) for t in tokens], dtype=np.int64)
            except ValueError:
                raise ExportError(f"{what}.nvec: cannot parse {str(nvec)[:60]!r}; pass --env-id") from None
        return spaces.MultiDiscrete(values.astype(np.int64))
    if kind.endswith(".MultiBinary'>"):
        n = entry.get("n")
        if isinstance(n, list):
            return spaces.MultiBinary([int(d) for d in n])
        tokens = re.sub(r"[\[\]\(\),]", " ", str(n)).split()
        try:
            dims = [int(t) for t in tokens]
        except ValueError:
            raise ExportError(f"{what}.n: cannot parse {str(n)[:60]!r}; pass --env-id") from None
        return spaces.MultiBinary(dims if len(dims) > 1 else dims[0])
    raise ExportError(
        f"{what} is a {kind or 'space'} whose readable form does not describe it fully (Dict / Tuple spaces are only "
        "stored pickled): pass --env-id ID (or --allow-unpickle if you trust the file)"
    )


def _unpickled_space(entry: Any, what: str) -> spaces.Space:
    if not isinstance(entry, Mapping) or not isinstance(entry.get(":serialized:"), str):
        raise ExportError(f"the checkpoint has no pickled {what}; pass --env-id ID")
    try:
        space = pickle.loads(base64.b64decode(entry[":serialized:"]))  # noqa: S301 -- only with --allow-unpickle
    except Exception as e:
        raise ExportError(
            f"unpickling {what} failed ({type(e).__name__}: {e}); SB3 1.x zips hold gym (not gymnasium) spaces: "
            "pass --env-id ID"
        ) from None
    if not isinstance(space, spaces.Space):
        raise ExportError(
            f"the unpickled {what} is a {type(space).__module__}.{type(space).__name__}, not a gymnasium space: "
            "pass --env-id ID"
        )
    return space


def _env_spaces(env_id: str, env_kwargs: Mapping[str, Any] | None) -> tuple[spaces.Space, spaces.Space]:
    try:
        importlib.import_module("highway_env")
    except ImportError:
        pass
    except Exception:  # a broken optional dependency must not stop an export of another env
        _log.warning("importing highway_env failed", exc_info=True)
    try:
        env = gymnasium.make(env_id, **dict(env_kwargs or {}))
    except Exception as e:
        raise ExportError(f"--env-id {env_id!r}: gymnasium.make failed ({type(e).__name__}: {e})") from None
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def _same_structure(a: spaces.Space, b: spaces.Space) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, spaces.Box):
        return a.shape == b.shape
    if isinstance(a, spaces.Discrete):
        return int(a.n) == int(b.n) and int(a.start) == int(b.start)  # type: ignore[attr-defined]
    if isinstance(a, spaces.MultiDiscrete):
        return np.array_equal(a.nvec, b.nvec)  # type: ignore[attr-defined]
    if isinstance(a, spaces.MultiBinary):
        return np.array_equal(np.atleast_1d(a.n), np.atleast_1d(b.n))  # type: ignore[attr-defined]
    return True


def _resolve_spaces(data: Mapping[str, Any], opts: _Options) -> tuple[spaces.Space, spaces.Space, str]:
    """(observation space, action space, how they were found)."""
    if opts.observation_space is not None and opts.action_space is not None:
        return opts.observation_space, opts.action_space, "given"
    if opts.env_id:
        obs, act = _env_spaces(opts.env_id, opts.env_kwargs)
        how = f"--env-id {opts.env_id}"
    elif opts.allow_unpickle:
        obs = _unpickled_space(data.get("observation_space"), "observation_space")
        act = _unpickled_space(data.get("action_space"), "action_space")
        return obs, act, "unpickled from the checkpoint (--allow-unpickle)"
    else:
        obs = _readable_space(data.get("observation_space"), "observation_space")
        act = _readable_space(data.get("action_space"), "action_space")
        return obs, act, "readable attributes of the checkpoint's data file"
    # Cross-check --env-id against what the checkpoint says, where it says something readable.
    for what, space in (("observation_space", obs), ("action_space", act)):
        try:
            stored = _readable_space(data.get(what), what)
        except ExportError:
            continue
        if not _same_structure(stored, space):
            raise ExportError(
                f"--env-id {opts.env_id!r} gives {what} {space} but the checkpoint was made for {stored}: pass the "
                "env (and --env-kwargs) the policy was trained on"
            )
    return obs, act, how


# -- observations as SB3 preprocesses them ------------------------------------------------------


def _looks_like_image(space: spaces.Space) -> bool:
    return (
        isinstance(space, spaces.Box)
        and len(space.shape) == 3
        and space.dtype == np.uint8
        and bool(np.all(space.low == 0))
        and bool(np.all(space.high == 255))
    )


def _sb3_observation_flatten(space: spaces.Space) -> str:
    """The observation.flatten that reproduces SB3's preprocessing + flatten / CombinedExtractor.

    SB3 casts Box leaves to float and flattens them in C order, one-hot encodes Discrete and
    MultiDiscrete leaves (ignoring ``start``) and concatenates a Dict's entries in the space's key
    order -- which is ``gymnasium.spaces.flatten`` exactly, as long as every start is 0 and no leaf
    is an image (SB3 would divide it by 255 and run a CNN).
    """

    def leaf_ok(leaf: spaces.Space, path: str) -> None:
        if _looks_like_image(leaf):
            raise ExportError(
                f"observation {path} is an image space: SB3 normalizes it by 255 and runs a CNN features "
                "extractor, which the SB3 exporter does not rebuild; export with --kind torch-module"
            )
        if isinstance(leaf, spaces.Discrete) and int(leaf.start) != 0:
            raise ExportError(
                f"observation {path}: SB3 one-hot encodes Discrete ignoring start={leaf.start}; unsupported"
            )
        if isinstance(leaf, spaces.MultiDiscrete) and np.any(getattr(leaf, "start", 0) != 0):
            raise ExportError(f"observation {path}: SB3 one-hot encodes MultiDiscrete ignoring start; unsupported")
        if not isinstance(leaf, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
            raise ExportError(f"observation {path}: SB3 does not support {type(leaf).__name__} here")
        if isinstance(leaf, spaces.MultiDiscrete) and np.ndim(leaf.nvec) != 1:
            raise ExportError(f"observation {path}: multi-dimensional MultiDiscrete is not supported by SB3")

    if isinstance(space, spaces.Box):
        leaf_ok(space, "(Box)")
        return "none"
    if isinstance(space, spaces.Dict):
        for key, sub in space.spaces.items():
            if isinstance(sub, (spaces.Dict, spaces.Tuple)):
                raise ExportError(f"observation [{key!r}] is nested ({type(sub).__name__}): SB3 does not support it")
            leaf_ok(sub, f"[{key!r}]")
        return "gymnasium"
    if isinstance(space, spaces.Tuple):
        raise ExportError("Tuple observation spaces are not supported by SB3")
    leaf_ok(space, f"({type(space).__name__})")
    return "gymnasium"


def _flatten_mode(space: spaces.Space) -> str:
    return "none" if isinstance(space, spaces.Box) else "gymnasium"


def _obs_dim(space: spaces.Space) -> int:
    return int(spaces.flatdim(space))


# ---------------------------------------------------------------------------------------------
# The export
# ---------------------------------------------------------------------------------------------


@dataclass
class _Options:
    kind: str
    checkpoint: Path
    out: Path
    name: str | None = None
    temperature: float | None = None
    env_id: str | None = None
    env_kwargs: Mapping[str, Any] | None = None
    allow_unpickle: bool = False
    module_class: str | None = None
    module_kwargs: Mapping[str, Any] | None = None
    distribution: str | None = None
    seed: int | None = None
    activation: str | None = None
    noise_std: float | None = None
    observation_space: spaces.Space | None = None
    action_space: spaces.Space | None = None
    command: str | None = None


@dataclass
class _Built:
    module: nn.Module
    distribution: str
    observation_space: spaces.Space
    action_space: spaces.Space
    flatten: str
    temperature: float | None
    notes: str


def export_checkpoint(
    kind: str,
    checkpoint: str | Path,
    out: str | Path,
    *,
    name: str | None = None,
    temperature: float | None = None,
    env_id: str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    allow_unpickle: bool = False,
    module_class: str | None = None,
    module_kwargs: Mapping[str, Any] | None = None,
    distribution: str | None = None,
    seed: int | None = None,
    activation: str | None = None,
    noise_std: float | None = None,
    observation_space: spaces.Space | None = None,
    action_space: spaces.Space | None = None,
    command: str | None = None,
) -> Path:
    """Exports ``checkpoint`` (of ``kind``) as a prior package in ``out``; ExportError when refused.

    ``observation_space`` / ``action_space`` (Python API only) override --env-id and the checkpoint.
    """
    if kind not in KINDS:
        raise ExportError(f"unknown kind {kind!r}; expected one of {list(KINDS)}")
    if temperature is not None and not temperature > 0:
        raise ExportError(f"--temperature must be positive, got {temperature}")
    if noise_std is not None and not noise_std > 0:
        raise ExportError(f"--noise-std must be positive, got {noise_std}")
    if (observation_space is None) != (action_space is None):
        raise ExportError("pass both observation_space and action_space, or neither")
    opts = _Options(
        kind=kind,
        checkpoint=Path(checkpoint),
        out=Path(out),
        name=name,
        temperature=temperature,
        env_id=env_id,
        env_kwargs=env_kwargs,
        allow_unpickle=allow_unpickle,
        module_class=module_class,
        module_kwargs=module_kwargs,
        distribution=distribution,
        seed=seed,
        activation=activation,
        noise_std=noise_std,
        observation_space=observation_space,
        action_space=action_space,
        command=command,
    )
    if not opts.checkpoint.is_file():
        raise ExportError(f"checkpoint {opts.checkpoint} does not exist (or is not a file)")
    if kind != "torch-module":
        for flag, value in (
            ("--module-class", module_class),
            ("--module-kwargs", module_kwargs),
            ("--distribution", distribution),
        ):
            if value:
                raise ExportError(f"{flag} only applies to --kind torch-module")
    if noise_std is not None and not (kind == "torch-module" and distribution == "action"):
        raise ExportError("--noise-std only applies to --kind torch-module --distribution action")
    if seed is not None:
        torch.manual_seed(seed)

    if kind.startswith("sb3-"):
        built = _build_sb3(opts)
    elif kind == "rql-ref-softdqn":
        built = _build_rql_softdqn(opts)
    elif kind == "rql-ref-sac":
        built = _build_rql_sac(opts)
    else:
        built = _build_torch_module(opts)

    made_by: dict[str, Any] = {
        "command": opts.command
        or f"rql4j_bridge.prior.export_checkpoint(kind={kind!r}, checkpoint={str(checkpoint)!r})",
        "seed": seed,
        "spaces": built.notes,
    }
    try:
        return save_prior_package(
            opts.out,
            built.module,
            name=name or opts.out.resolve().name,
            distribution=built.distribution,
            observation_space=built.observation_space,
            action_space=built.action_space,
            source_kind=kind,
            source_file=opts.checkpoint,
            temperature=built.temperature,
            observation_flatten=built.flatten,
            made_by=made_by,
        )
    except PriorPackageError as e:
        raise ExportError(f"the exported module fails the package checks: {e}") from None
    except ValueError as e:
        raise ExportError(str(e)) from None


# -- SB3 ------------------------------------------------------------------------------------------


def infer_sb3_kind(path: str | Path) -> str:
    """The ``--kind`` of an SB3 zip (``sb3-dqn``, ``sb3-sac``, ``sb3-ppo`` or ``sb3-a2c``), read from its
    policy class and hyperparameters (nothing is unpickled); ExportError for one that cannot be a prior."""
    z = read_sb3_zip(path)
    algo, _ = _algo_from_zip(z)
    if algo == "actor_critic":
        return "sb3-ppo" if ("clip_range" in z.data or "n_epochs" in z.data or not z.data) else "sb3-a2c"
    return _KIND_OF_ALGO[algo]


def _algo_from_zip(z: Sb3Zip) -> tuple[str, str]:
    """(algo family, policy class) of an SB3 zip; ExportError for deterministic / unsupported ones."""
    policy_class = _policy_class(z.data)
    sd = z.state_dict
    module = policy_class.rsplit(".", 1)[0] if "." in policy_class else policy_class
    deterministic = (
        ".td3." in f".{module}."
        or ".ddpg." in f".{module}."
        or (
            any(k.startswith("actor.mu.") for k in sd)
            and "actor.log_std" not in sd
            and "actor.log_std.weight" not in sd
            and not any(k.startswith("actor.latent_pi.") for k in sd)
        )
    )
    if deterministic:
        raise ExportError(
            f"{z.path} is a deterministic policy ({policy_class or 'TD3/DDPG actor'}): it outputs an action, not a "
            "distribution, so it has no log-prob and cannot be a prior. Wrap it with an explicit noise model: "
            "script a module that maps the flat observation to the actor's env action (e.g. "
            "torch.jit.script of a wrapper around model.actor that rescales its [-1, 1] output to the Box) and export "
            "that with --kind torch-module --distribution action --noise-std S (a Gaussian N(action, S^2))"
        )
    if module.startswith("sb3_contrib") or (module and not module.startswith("stable_baselines3")):
        raise ExportError(
            f"{z.path}: policy class {policy_class} is not a Stable-Baselines3 DQN / SAC / PPO / A2C policy; "
            "export a module with --kind torch-module"
        )
    if module.endswith("dqn.policies") or any(k.startswith("q_net.q_net.") for k in sd):
        return "dqn", policy_class
    if module.endswith("sac.policies") or any(k.startswith("actor.latent_pi.") for k in sd):
        return "sac", policy_class
    if module.endswith("common.policies") or "action_net.weight" in sd:
        return "actor_critic", policy_class
    raise ExportError(f"{z.path}: cannot tell which SB3 algorithm made it (policy class {policy_class!r})")


def _refuse_feature_extractor_params(sd: Mapping[str, Tensor], path: Path) -> None:
    params = [k for k in sd if re.search(r"(^|\.)(\w*features_extractor)\.", k)]
    if params:
        raise ExportError(
            f"{path}: the policy has a features extractor with parameters ({params[0]}, ...), e.g. a CNN; the SB3 "
            "exporter only rebuilds MLP policies on flattened observations. Export a scripted module with "
            "--kind torch-module"
        )


def _hidden_sizes(net: nn.Module) -> list[int]:
    return [layer.out_features for layer in net.modules() if isinstance(layer, nn.Linear)]


def _check_net_arch(pk: Mapping[str, Any], algo: str, hidden: list[int], path: Path) -> None:
    arch = pk.get("net_arch")
    if isinstance(arch, Mapping):
        arch = arch.get("pi", arch.get("qf"))
    if arch is None:
        if hidden != _SB3_DEFAULT_NET_ARCH[algo]:
            _log.info("%s: no net_arch in policy_kwargs; the weights give hidden sizes %s", path, hidden)
        return
    if not isinstance(arch, list) or not all(isinstance(x, int) for x in arch):
        return  # SB3 1.x shared-layer form or a repr: the weights decide
    if list(arch) != hidden:
        raise ExportError(
            f"{path}: policy_kwargs.net_arch says {arch} but the weights have hidden sizes {hidden}: the zip is "
            "inconsistent"
        )


def _build_sb3(opts: _Options) -> _Built:
    z = read_sb3_zip(opts.checkpoint)
    algo, policy_class = _algo_from_zip(z)
    want = _ALGO_OF_KIND[opts.kind]
    if algo != want:
        raise ExportError(
            f"{z.path} is a {policy_class or algo} checkpoint, not {opts.kind}: use --kind {_KIND_OF_ALGO[algo]}"
        )
    if algo == "actor_critic":
        is_ppo = "clip_range" in z.data or "n_epochs" in z.data
        if z.data and is_ppo != (opts.kind == "sb3-ppo"):
            actual = "sb3-ppo" if is_ppo else "sb3-a2c"
            raise ExportError(f"{z.path} looks like a {actual[4:].upper()} checkpoint: use --kind {actual}")
    sd = z.state_dict
    _refuse_feature_extractor_params(sd, z.path)
    pk = _policy_kwargs(z.data)
    obs_space, act_space, how = _resolve_spaces(z.data, opts)
    flatten = _sb3_observation_flatten(obs_space)
    obs_dim = _obs_dim(obs_space)
    act = _activation(opts.activation, pk, z.data, _SB3_DEFAULT_ACTIVATION[algo])
    notes = f"spaces from {how}; activation {act.__name__}; SB3 {z.sb3_version or 'unknown version'}"
    try:
        if algo == "dqn":
            return _sb3_dqn(opts, sd, pk, obs_space, act_space, flatten, obs_dim, act, notes, z.path)
        if algo == "sac":
            return _sb3_sac(sd, pk, obs_space, act_space, flatten, obs_dim, act, notes, z.path)
        return _sb3_actor_critic(sd, pk, obs_space, act_space, flatten, obs_dim, act, notes, z.path)
    except (KeyError, ValueError) as e:
        if isinstance(e, ExportError):
            raise
        raise ExportError(f"{z.path}: unexpected weights layout ({type(e).__name__}: {e})") from None


def _check_input(net: nn.Module, obs_dim: int, path: Path, obs_space: spaces.Space) -> None:
    for layer in net.modules():
        if isinstance(layer, nn.Linear):
            if layer.in_features != obs_dim:
                raise ExportError(
                    f"{path}: the network takes {layer.in_features} inputs but observation space {obs_space} flattens "
                    f"to {obs_dim}: pass the --env-id / --env-kwargs the policy was trained on"
                )
            return


def _require_discrete(act_space: spaces.Space, what: str) -> int:
    if not isinstance(act_space, spaces.Discrete):
        raise ExportError(f"{what} needs a Discrete action space, got {act_space}")
    return int(act_space.n)


def _require_box(act_space: spaces.Space, what: str) -> int:
    if not isinstance(act_space, spaces.Box):
        raise ExportError(
            f"{what} needs a Box action space, got {act_space} (MultiDiscrete / MultiBinary priors are not part of "
            "rql4j-prior/1)"
        )
    return int(math.prod(act_space.shape))


def _sb3_dqn(
    opts: _Options,
    sd: Mapping[str, Tensor],
    pk: Mapping[str, Any],
    obs_space: spaces.Space,
    act_space: spaces.Space,
    flatten: str,
    obs_dim: int,
    act: type[nn.Module],
    notes: str,
    path: Path,
) -> _Built:
    n = _require_discrete(act_space, "sb3-dqn")
    if opts.temperature is None:
        raise ExportError(
            "sb3-dqn needs --temperature T: a DQN's Q-values become a policy only as log_softmax(Q / T). Use the "
            "entropy temperature of a soft DQN, or choose one (smaller T: closer to the greedy policy)"
        )
    q_net = m.mlp_from_state_dict(sd, "q_net.q_net", act, final_activation=False, in_features=obs_dim)
    _check_input(q_net, obs_dim, path, obs_space)
    hidden = _hidden_sizes(q_net)
    if not hidden or hidden[-1] != n:
        raise ExportError(f"{path}: the Q-network outputs {hidden[-1:] or '?'} values for {n} actions")
    _check_net_arch(pk, "dqn", hidden[:-1], path)
    return _Built(
        m.CategoricalFromQ(q_net, opts.temperature),
        "categorical",
        obs_space,
        act_space,
        flatten,
        opts.temperature,
        notes,
    )


def _sb3_sac(
    sd: Mapping[str, Tensor],
    pk: Mapping[str, Any],
    obs_space: spaces.Space,
    act_space: spaces.Space,
    flatten: str,
    obs_dim: int,
    act: type[nn.Module],
    notes: str,
    path: Path,
) -> _Built:
    d = _require_box(act_space, "sb3-sac")
    latent = m.mlp_from_state_dict(sd, "actor.latent_pi", act, final_activation=True, in_features=obs_dim)
    _check_input(latent, obs_dim, path, obs_space)
    latent_dim = m.out_width(latent, obs_dim)
    _check_net_arch(pk, "sac", _hidden_sizes(latent), path)
    if "actor.log_std.weight" in sd:  # state-dependent log std head, SquashedDiagGaussian
        module: nn.Module = m.SquashedGaussian(
            latent, m.linear_from_state_dict(sd, "actor.mu"), m.linear_from_state_dict(sd, "actor.log_std")
        )
    elif "actor.log_std" in sd:  # gSDE
        module = _gsde_actor(sd, pk, latent, d, latent_dim, path, clip_default=2.0)
        notes += "; gSDE"
    else:
        raise ExportError(f"{path}: no actor.log_std / actor.log_std.weight: not a SAC actor")
    return _Built(module, "squashed_gaussian", obs_space, act_space, flatten, None, notes)


def _gsde_actor(
    sd: Mapping[str, Tensor],
    pk: Mapping[str, Any],
    latent: nn.Module,
    d: int,
    latent_dim: int,
    path: Path,
    *,
    clip_default: float,
) -> nn.Module:
    log_std = sd["actor.log_std"]
    if tuple(log_std.shape) not in ((latent_dim, d), (latent_dim, 1)):
        raise ExportError(f"{path}: actor.log_std has shape {list(log_std.shape)}, expected [{latent_dim}, {d}] (gSDE)")
    if "actor.mu.0.weight" in sd:
        clip = float(pk.get("clip_mean", clip_default) or clip_default)
        mean_head: nn.Module = nn.Sequential(m.linear_from_state_dict(sd, "actor.mu.0"), nn.Hardtanh(-clip, clip))
    else:
        mean_head = m.linear_from_state_dict(sd, "actor.mu")
    full_std = bool(pk.get("full_std", True)) if log_std.shape[1] == d else False
    return m.GSDEGaussian(latent, mean_head, log_std, d, full_std=full_std, use_expln=bool(pk.get("use_expln", False)))


def _sb3_actor_critic(
    sd: Mapping[str, Tensor],
    pk: Mapping[str, Any],
    obs_space: spaces.Space,
    act_space: spaces.Space,
    flatten: str,
    obs_dim: int,
    act: type[nn.Module],
    notes: str,
    path: Path,
) -> _Built:
    shared = m.mlp_from_state_dict(sd, "mlp_extractor.shared_net", act, final_activation=True, in_features=obs_dim)
    shared_dim = m.out_width(shared, obs_dim)
    policy = m.mlp_from_state_dict(sd, "mlp_extractor.policy_net", act, final_activation=True, in_features=shared_dim)
    latent = nn.Sequential(*shared, *policy)
    if len(latent):
        _check_input(latent, obs_dim, path, obs_space)
    latent_dim = m.out_width(policy, shared_dim)
    if not len(shared):
        _check_net_arch(pk, "actor_critic", _hidden_sizes(policy), path)
    action_net = m.linear_from_state_dict(sd, "action_net")
    if action_net.in_features != latent_dim:
        raise ExportError(
            f"{path}: action_net takes {action_net.in_features} inputs, the policy latent has {latent_dim}"
        )
    if isinstance(act_space, spaces.Discrete):
        if action_net.out_features != int(act_space.n):
            raise ExportError(f"{path}: action_net outputs {action_net.out_features} logits for {act_space}")
        return _Built(
            m.CategoricalFromLogits(nn.Sequential(*latent, action_net)),
            "categorical",
            obs_space,
            act_space,
            flatten,
            None,
            notes,
        )
    d = _require_box(act_space, "an actor-critic Gaussian policy")
    log_std = sd.get("log_std")
    if log_std is None:
        raise ExportError(f"{path}: no log_std parameter for the Box action space")
    if log_std.ndim == 1:
        if tuple(log_std.shape) != (d,):
            raise ExportError(f"{path}: log_std has shape {list(log_std.shape)}, expected [{d}]")
        if pk.get("squash_output"):
            raise ExportError(f"{path}: squash_output without gSDE is not an SB3 configuration")
        return _Built(
            m.DiagGaussian(latent, action_net, log_std), "diag_gaussian", obs_space, act_space, flatten, None, notes
        )
    if tuple(log_std.shape) not in ((latent_dim, d), (latent_dim, 1)):
        raise ExportError(f"{path}: log_std has shape {list(log_std.shape)}, expected [{latent_dim}, {d}] (gSDE)")
    full_std = bool(pk.get("full_std", True)) if log_std.shape[1] == d else False
    module = m.GSDEGaussian(
        latent, action_net, log_std, d, full_std=full_std, use_expln=bool(pk.get("use_expln", False))
    )
    distribution = "squashed_gaussian" if pk.get("squash_output") else "diag_gaussian"
    return _Built(module, distribution, obs_space, act_space, flatten, None, notes + "; gSDE")


# -- the RQL reference code's zips ----------------------------------------------------------------


def _rql_zip(opts: _Options) -> tuple[Sb3Zip, spaces.Space, spaces.Space, str, str, int]:
    z = read_sb3_zip(opts.checkpoint)
    obs_space, act_space, how = _resolve_spaces(z.data, opts)
    if not isinstance(obs_space, spaces.Box):
        raise ExportError(f"{opts.kind}: expected a Box observation space, got {obs_space}")
    return z, obs_space, act_space, "none", how, _obs_dim(obs_space)


def _require_keys(sd: Mapping[str, Tensor], keys: list[str], layout: str, path: Path) -> None:
    missing = [k for k in keys if k not in sd]
    if missing:
        raise ExportError(
            f"{path}: missing {missing} for the layout {layout}; found keys {sorted(sd)[:12]}. "
            "Is this the right --kind?"
        )


def _build_rql_softdqn(opts: _Options) -> _Built:
    z, obs_space, act_space, flatten, how, obs_dim = _rql_zip(opts)
    n = _require_discrete(act_space, "rql-ref-softdqn")
    sd = z.state_dict
    layout = "q_net.q_net.{0,2,4}.{weight,bias} (obs -> 256 -> 256 -> n, ReLU)"
    _require_keys(sd, [f"q_net.q_net.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")], layout, z.path)
    if m.sequential_indices(sd, "q_net.q_net") != [0, 2, 4]:
        raise ExportError(
            f"{z.path}: expected exactly {layout}, found Linear layers at {m.sequential_indices(sd, 'q_net.q_net')}"
        )
    act = m.activation_class(opts.activation or "ReLU")
    try:
        q_net = m.mlp_from_state_dict(sd, "q_net.q_net", act, final_activation=False, in_features=obs_dim)
    except ValueError as e:
        raise ExportError(f"{z.path}: {e}") from None
    _check_input(q_net, obs_dim, z.path, obs_space)
    if _hidden_sizes(q_net)[-1] != n:
        raise ExportError(f"{z.path}: the Q-network outputs {_hidden_sizes(q_net)[-1]} values for {act_space}")
    temperature = 1.0 if opts.temperature is None else opts.temperature
    notes = f"spaces from {how}; activation {act.__name__}; reference soft-DQN at temperature {temperature}"
    return _Built(
        m.CategoricalFromQ(q_net, temperature), "categorical", obs_space, act_space, flatten, temperature, notes
    )


def _build_rql_sac(opts: _Options) -> _Built:
    z, obs_space, act_space, flatten, how, obs_dim = _rql_zip(opts)
    d = _require_box(act_space, "rql-ref-sac")
    sd = z.state_dict
    layout = "actor.latent_pi.{0,2}.* (ReLU), actor.mu.0.* (+ Hardtanh(+-2)), actor.log_std [latent, action] (gSDE)"
    keys = [f"actor.latent_pi.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")]
    _require_keys(sd, [*keys, "actor.mu.0.weight", "actor.mu.0.bias", "actor.log_std"], layout, z.path)
    if m.sequential_indices(sd, "actor.latent_pi") != [0, 2]:
        raise ExportError(f"{z.path}: expected exactly {layout}")
    act = m.activation_class(opts.activation or "ReLU")
    try:
        latent = m.mlp_from_state_dict(sd, "actor.latent_pi", act, final_activation=True, in_features=obs_dim)
    except ValueError as e:
        raise ExportError(f"{z.path}: {e}") from None
    _check_input(latent, obs_dim, z.path, obs_space)
    latent_dim = m.out_width(latent, obs_dim)
    log_std = sd["actor.log_std"]
    if tuple(log_std.shape) != (latent_dim, d):
        raise ExportError(f"{z.path}: actor.log_std has shape {list(log_std.shape)}, expected [{latent_dim}, {d}]")
    mean_head = nn.Sequential(m.linear_from_state_dict(sd, "actor.mu.0"), nn.Hardtanh(-2.0, 2.0))
    if mean_head[0].out_features != d:
        raise ExportError(f"{z.path}: actor.mu.0 outputs {mean_head[0].out_features} values for {act_space}")
    module = m.GSDEGaussian(latent, mean_head, log_std, d, full_std=True, use_expln=False, epsilon=1e-6)
    notes = f"spaces from {how}; activation {act.__name__}; reference SAC with gSDE"
    return _Built(module, "squashed_gaussian", obs_space, act_space, flatten, None, notes)


# -- plain torch modules ----------------------------------------------------------------------------


def _import_class(spec: str) -> type[nn.Module]:
    if ":" not in spec:
        raise ExportError(f"--module-class must be pkg.module:Class, got {spec!r}")
    module_name, _, qualname = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as e:
        raise ExportError(f"--module-class {spec}: importing {module_name} failed ({type(e).__name__}: {e})") from None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ExportError(f"--module-class {spec}: {module_name} has no {qualname}")
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise ExportError(f"--module-class {spec} is not a torch.nn.Module subclass")
    return obj


def _load_torch_module(opts: _Options) -> nn.Module:
    if opts.module_class:
        cls = _import_class(opts.module_class)
        try:
            module = cls(**dict(opts.module_kwargs or {}))
        except Exception as e:
            raise ExportError(
                f"{opts.module_class}(**{dict(opts.module_kwargs or {})}) raised {type(e).__name__}: {e}"
            ) from None
        try:
            state = torch.load(str(opts.checkpoint), map_location="cpu", weights_only=True)
        except Exception as e:
            raise ExportError(
                f"{opts.checkpoint} is not a plain state dict (torch.load weights_only failed: {str(e)[:200]}); save "
                "it with torch.save(module.state_dict(), path)"
            ) from None
        if isinstance(state, Mapping) and not all(isinstance(v, Tensor) for v in state.values()):
            for key in ("state_dict", "model_state_dict", "policy"):
                if isinstance(state.get(key), Mapping):
                    state = state[key]
                    break
        if not isinstance(state, Mapping):
            raise ExportError(f"{opts.checkpoint} does not hold a state dict")
        try:
            module.load_state_dict(state, strict=True)
        except Exception as e:
            raise ExportError(f"{opts.checkpoint} does not fit {opts.module_class}: {e}") from None
        return module
    try:
        with quiet_jit():
            return torch.jit.load(str(opts.checkpoint), map_location="cpu")
    except Exception as e:
        raise ExportError(
            f"{opts.checkpoint} is not a TorchScript file ({type(e).__name__}: {str(e)[:200]}). Save the module with "
            "torch.jit.save(torch.jit.script(module), path), or pass --module-class pkg.mod:Class --module-kwargs JSON "
            "with a state-dict checkpoint (whole pickled modules are not loaded)"
        ) from None


def _build_torch_module(opts: _Options) -> _Built:
    if not opts.distribution:
        raise ExportError(f"--kind torch-module needs --distribution, one of {list(DISTRIBUTION_CHOICES)}")
    if opts.distribution not in DISTRIBUTION_CHOICES:
        raise ExportError(f"unknown --distribution {opts.distribution!r}; expected one of {list(DISTRIBUTION_CHOICES)}")
    if opts.observation_space is not None:
        obs_space, act_space, how = opts.observation_space, opts.action_space, "given"
    elif opts.env_id:
        obs_space, act_space = _env_spaces(opts.env_id, opts.env_kwargs)
        how = f"--env-id {opts.env_id}"
    else:
        raise ExportError("--kind torch-module needs --env-id ID: the module file does not say which env it is for")
    assert act_space is not None
    module = _load_torch_module(opts).eval()
    obs_dim = _obs_dim(obs_space)
    flatten = _flatten_mode(obs_space)
    probe = torch.zeros(2, obs_dim)
    try:
        with torch.no_grad():
            out = module(probe)
    except Exception as e:
        raise ExportError(
            f"the module raised on a probe batch zeros [2, {obs_dim}] ({type(e).__name__}: {str(e)[:300]}); it must "
            f"take the flat float32 observation [B, {obs_dim}] of {obs_space}"
        ) from None
    single = isinstance(out, Tensor)
    dist = opts.distribution
    notes = f"spaces from {how}; module outputs {dist}"
    if dist in ("logits", "categorical", "q_values"):
        _require_discrete(act_space, f"--distribution {dist}")
        if not single:
            raise ExportError(
                f"--distribution {dist}: the module must return one tensor [B, n], it returned {type(out).__name__}"
            )
        if dist == "q_values":
            if opts.temperature is None:
                raise ExportError("--distribution q_values needs --temperature T (log_softmax(Q / T))")
            return _Built(
                m.CategoricalFromQ(module, opts.temperature),
                "categorical",
                obs_space,
                act_space,
                flatten,
                opts.temperature,
                notes,
            )
        return _Built(
            m.CategoricalFromLogits(module), "categorical", obs_space, act_space, flatten, opts.temperature, notes
        )
    d = _require_box(act_space, f"--distribution {dist}")
    if dist == "action":
        if opts.noise_std is None:
            raise ExportError(
                "--distribution action is a deterministic policy: it has no log-prob. Choose an explicit noise model "
                "with --noise-std S (the prior becomes the diag_gaussian N(action, S^2) over env actions)"
            )
        if not single:
            raise ExportError("--distribution action: the module must return one tensor, the action [B, d]")
        log_std = torch.full((d,), math.log(opts.noise_std))
        notes += f"; fixed noise std {opts.noise_std}"
        return _Built(
            m.ActionWithFixedNoise(module, log_std), "diag_gaussian", obs_space, act_space, flatten, None, notes
        )
    if single:
        raise ExportError(
            f"--distribution {dist}: the module returned one tensor (of shape {list(out.shape)}), not (mean, log_std). "
            "A module that outputs only actions is deterministic and has no log-prob: export it with "
            "--distribution action --noise-std S to wrap it in an explicit Gaussian noise model"
        )
    return _Built(module, dist, obs_space, act_space, flatten, None, notes)
