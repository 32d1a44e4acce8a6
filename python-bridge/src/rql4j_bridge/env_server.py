"""The rql4j.v1 ``EnvService``: Gymnasium vector envs served over gRPC.

Each env made by a client is a ``gymnasium.vector.SyncVectorEnv`` of ``num_envs`` copies of one
registered id, named by a uuid handle and guarded by its own lock. Requests for different envs
run concurrently; requests for one env are serialized.
With ``serve --workers N`` the copies live in worker processes instead
(:class:`rql4j_bridge.workers.WorkerVectorEnv`), with the same replies, byte for byte.

Status codes follow the proto: NOT_FOUND (unknown env id / handle), INVALID_ARGUMENT (malformed
JSON, bad seeds, wrong batch size / dtype / shape, action outside the space),
FAILED_PRECONDITION (step before reset, step while a copy awaits its reset in DISABLED mode),
INTERNAL (the environment raised). One addition: UNIMPLEMENTED when an env's spaces cannot travel
over rql4j.v1 (e.g. Text, Graph).

SAME_STEP info merging: Gymnasium reports the ended step's info under ``final_info`` and puts
the *reset's* info at the top level. For copies that ended, the response's info columns come
from ``final_info``, so that reward / terminated / truncated / info all describe the ended step.

Snapshots (``Snapshot`` / ``Restore`` / ``ReleaseSnapshots``): a snapshot is a ``copy.deepcopy`` of one
copy's Gymnasium env (its wrappers, time limit and random generator included) with its episode flags,
kept on the server under a uuid handle until released or until its env is closed. At most
``max_snapshots`` are held at once (``serve --max-snapshots``, default 1024); one more is refused
with RESOURCE_EXHAUSTED. An env whose state ``deepcopy`` cannot copy (a live process, a native
handle) is refused with FAILED_PRECONDITION naming the env and the error.

Hardening (issue 18): a request never makes the server import code. A ``module:EnvId`` env id is
refused with INVALID_ARGUMENT unless ``module`` was named when the server started (``serve --import``
/ ``--addon``, the same modules add-on rewards may come from), and so is a ``kwargs_json`` /
``options_json`` string that names a module the server has not imported (a dotted class path such
as highway-env's ``other_vehicles_type`` is imported by the env). Resources are bounded, each by a
``serve`` option: copies per Make (``--max-num-envs``, default 1024), open envs (``--max-open-envs``,
default 256), pending and open step sockets (``--max-step-sockets``, default 64); beyond a bound the
request is refused with RESOURCE_EXHAUSTED naming the option, and other clients are unaffected.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import inspect
import json
import logging
import os
import pickle
import platform
import re
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent import futures
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import grpc
import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import concatenate

from rql4j_bridge import PROTOCOL, PROTOCOL_REVISION, __version__
from rql4j_bridge.auth import AsyncTokenInterceptor, TokenInterceptor
from rql4j_bridge.prior.service import AsyncPriorServicer, PriorServicer  # imports torch only on LoadPrior
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc
from rql4j_bridge.proto.rql4j.v1 import prior_pb2_grpc as prior_pb_grpc
from rql4j_bridge.step_socket import MAX_FRAME_BYTES, StepSocket, note_other_call
from rql4j_bridge.tasks.core import TaskReward, takes_env
from rql4j_bridge.tensors import (
    TensorError,
    UnsupportedSpaceError,
    ValueCodec,
    dtype_name,
    from_tensor,
    space_to_proto,
)
from rql4j_bridge.workers import WorkerDiedError, WorkerRefusal, WorkerSnapshot, WorkerVectorEnv

__all__ = ["AsyncEnvServicer", "EnvServicer", "RpcError", "info_columns", "serve", "serve_aio"]

_log = logging.getLogger(__name__)

_MODES: dict[int, AutoresetMode] = {
    pb.SAME_STEP: AutoresetMode.SAME_STEP,
    pb.NEXT_STEP: AutoresetMode.NEXT_STEP,
    pb.DISABLED: AutoresetMode.DISABLED,
}
_REWARD_VARIANTS: dict[int, str] = {
    pb.REWARD_VARIANT_UNSPECIFIED: "total",
    pb.REWARD_BASIC: "basic",
    pb.REWARD_ADDON: "addon",
    pb.REWARD_TOTAL: "total",
}
_MAX_MESSAGE_CHARS = 4000  # status messages travel as a header: keep them bounded
_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)
_SKIPPED_INFO = frozenset({"final_obs", "final_info"})


class RpcError(Exception):
    """Ends an RPC with a status code and a message saying what was wrong and what to do."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message if len(message) <= _MAX_MESSAGE_CHARS else message[: _MAX_MESSAGE_CHARS - 3] + "..."


@dataclass(eq=False)
class _Env:
    """One served vector env and its bookkeeping; every field below ``lock`` is guarded by it."""

    handle: str
    env_id: str
    num_envs: int
    mode: int
    vec: SyncVectorEnv | WorkerVectorEnv
    obs: ValueCodec
    act: ValueCodec
    lock: threading.Lock = field(default_factory=threading.Lock)
    reset_done: np.ndarray = field(init=False)  # copies reset since Make / since the env raised
    awaiting_reset: np.ndarray = field(init=False)  # DISABLED: copies whose episode ended
    failure: str | None = None  # the env's last exception, until a Reset covers every copy
    closed: bool = False
    ready: bool = False  # fast path: steppable right now
    sockets: list[StepSocket] = field(default_factory=list)  # open step sockets (guarded by the lock)
    worker_processes: int = 0  # worker processes reserved for it (serve --max-env-workers counts them)
    # A StepResponse with every dtype and shape set and no data, for flat observation spaces (else None):
    # a step copies it and fills the data, which costs a quarter of building the messages anew.
    step_template: pb.StepResponse | None = field(init=False)

    def __post_init__(self) -> None:
        self.reset_done = np.zeros(self.num_envs, dtype=bool)
        self.awaiting_reset = np.zeros(self.num_envs, dtype=bool)
        obs_tensor = self.obs.flat_tensor()
        if obs_tensor is None:
            self.step_template = None
        else:
            n = [self.num_envs]
            self.step_template = pb.StepResponse(
                observation=pb.Value(tensor=obs_tensor),
                reward=pb.Tensor(dtype=pb.FLOAT64, shape=n),
                terminated=pb.Tensor(dtype=pb.BOOL, shape=n),
                truncated=pb.Tensor(dtype=pb.BOOL, shape=n),
            )

    def describe(self) -> str:
        return f"env {self.env_id!r} (handle {self.handle})"

    def update_ready(self) -> None:
        if self.reset_done.all():
            self.failure = None
        self.ready = not self.closed and bool(self.reset_done.all()) and not self.awaiting_reset.any()

    def raise_not_ready(self) -> None:
        """Raises the RpcError explaining why this env cannot be stepped now."""
        if self.closed:
            raise RpcError(grpc.StatusCode.NOT_FOUND, f"{self.describe()} was closed")
        if self.failure is not None:
            raise RpcError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"{self.describe()} raised during an earlier call ({self.failure}); call Reset "
                "(without reset_mask) before stepping again",
            )
        if not self.reset_done.any():
            raise RpcError(grpc.StatusCode.FAILED_PRECONDITION, f"{self.describe()} was never reset: call Reset first")
        if not self.reset_done.all():
            missing = np.flatnonzero(~self.reset_done).tolist()
            raise RpcError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"copies {missing} of {self.describe()} were never reset: call Reset first "
                "(with a reset_mask naming them, or without one to reset every copy)",
            )
        ended = np.flatnonzero(self.awaiting_reset).tolist()
        raise RpcError(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"copies {ended} of {self.describe()} ended their episode and autoreset is DISABLED: call "
            f"Reset with reset_mask (BOOL [{self.num_envs}]) true for copies {ended} before stepping again",
        )

    def env_failure(self, call: str, exc: Exception) -> RpcError:
        """Marks the env as needing a full Reset and returns the INTERNAL error for ``exc``."""
        self.failure = f"{type(exc).__name__} in {call}"
        self.reset_done[:] = False
        self.ready = False
        _log.error("%s raised in %s", self.describe(), call, exc_info=exc)
        return RpcError(
            grpc.StatusCode.INTERNAL,
            f"{self.describe()} raised {_qualname(exc)} in {call}: {exc} "
            "(the env must be Reset before it is stepped again)",
        )


@dataclass
class _Snapshot:
    """One copy's state: a deep copy of the Gymnasium env and the server's flags for it."""

    env_handle: str
    env_id: str
    mode: int  # the autoreset mode of the env it was taken from
    copy: gymnasium.Env | WorkerSnapshot  # WorkerSnapshot: held in a worker process
    awaiting_reset: bool  # DISABLED mode: the copy's episode had ended
    autoreset_next: bool  # NEXT_STEP mode: the copy's next step is its reset


DEFAULT_MAX_SNAPSHOTS = 1024
DEFAULT_MAX_NUM_ENVS = 1024  # copies per Make (serve --max-num-envs)
DEFAULT_MAX_OPEN_ENVS = 256  # env handles open at once (serve --max-open-envs)
DEFAULT_MAX_STEP_SOCKETS = 64  # step sockets listening or connected at once (serve --max-step-sockets)
# env worker processes at once, over all envs (serve --max-env-workers): more than the cores do not step faster
DEFAULT_MAX_ENV_WORKERS = 2 * (os.cpu_count() or 1)


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _parse_json_object(text: str, field_name: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as e:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"{field_name} is not valid JSON: {e}") from None
    if not isinstance(parsed, dict):
        raise RpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{field_name} must be a JSON object, got {type(parsed).__name__}: {text[:200]}",
        )
    return parsed


_IMPORT_PATH = re.compile(r"[^\s.:/\\]+(?:\.[^\s.:/\\]+)*")  # what importlib would try: any names, not only identifiers


def _module_to_import(text: str) -> str | None:
    """The module a ``pkg.mod.Name`` / ``pkg.mod:name`` string would make an env import that is not imported yet.

    None when ``text`` is no such path (a bare word such as ``"human"``, a number, a file name whose
    stem is no module) or names only modules already in ``sys.modules``. A module is looked up with
    ``importlib.util.find_spec`` only under a parent that is already imported, which runs no code."""
    path, colon, _ = text.strip().partition(":")
    if (not colon and "." not in path) or not _IMPORT_PATH.fullmatch(path):
        return None
    parts = path.split(".")
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        if name in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):  # e.g. a parent that is a module, not a package
            spec = None
        return name if spec is not None else None
    return None


def _refuse_imports(value: Any, field_name: str) -> None:
    """INVALID_ARGUMENT when a string anywhere in ``value`` (parsed JSON) names a module this server has not imported.

    Envs resolve some settings by importing them (highway-env's ``other_vehicles_type``, any
    ``"module:attribute"`` factory): a request must not be able to make the server run code it was
    not started with."""
    stack: list[tuple[str, Any]] = [(field_name, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((f"{where}.{key}", v) for key, v in item.items())
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))
        elif isinstance(item, str):
            module = _module_to_import(item)
            if module is not None:
                raise RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{where} = {item[:200]!r} names module {module!r}, which this server has not imported; a "
                    "request never makes the server import code: if you trust that module, start the server "
                    f"with `rql4j-bridge serve --import {module}` (Java: PythonServer.builder().optImport)",
                )


# ---------------------------------------------------------------------------------------------
# Info columns
# ---------------------------------------------------------------------------------------------

_Column = tuple[np.ndarray, np.ndarray]  # (values FLOAT64 [n], present BOOL [n])


def _numeric_column(values: Any, mask: Any, n: int) -> _Column | None:
    if not isinstance(values, np.ndarray) or values.shape != (n,):
        return None
    present = mask if isinstance(mask, np.ndarray) and mask.shape == (n,) and mask.dtype == bool else np.ones(n, bool)
    kind = values.dtype.kind
    if kind in "biuf":
        return np.where(present, values.astype(np.float64), 0.0), present
    if kind == "O":  # e.g. numpy bools, or mixed Python / numpy scalars
        reported = values[present]
        if not all(isinstance(v, _SCALARS) for v in reported):
            return None
        out = np.zeros(n, dtype=np.float64)
        out[present] = np.array(reported, dtype=np.float64)
        return out, present
    return None


def _numeric_columns(info: Mapping[str, Any], n: int) -> dict[str, _Column]:
    columns = {}
    for key, values in info.items():
        if not isinstance(key, str) or key.startswith("_") or key in _SKIPPED_INFO:
            continue
        column = _numeric_column(values, info.get("_" + key), n)
        if column is not None:
            columns[key] = column
    return columns


def info_columns(info: Mapping[str, Any], n: int) -> dict[str, _Column]:
    """The numeric info columns of a vector env's info dict, ended steps' info taking precedence.

    For copies flagged in ``_final_info`` (SAME_STEP autoreset) the values and presence come from
    ``final_info`` (the ended step), not from the top level (the reset that followed); a key that
    no copy reports after this merge is left out.
    """
    columns = _numeric_columns(info, n)
    final_info, ended = info.get("final_info"), info.get("_final_info")
    if isinstance(final_info, Mapping) and isinstance(ended, np.ndarray) and ended.any():
        final_columns = _numeric_columns(final_info, n)
        absent = (np.zeros(n, dtype=np.float64), np.zeros(n, dtype=bool))
        for key in columns.keys() | final_columns.keys():
            values, present = columns.get(key, absent)
            final_values, final_present = final_columns.get(key, absent)
            merged_present = np.where(ended, final_present, present)
            if merged_present.any():
                columns[key] = (np.where(ended, final_values, values), merged_present)
            else:  # only the resets of ended copies reported it: nothing describes this step
                columns.pop(key, None)
    return columns


def _set_info(target: Any, columns: dict[str, _Column], n: int) -> None:
    for key, (values, present) in columns.items():
        column = target[key]
        column.values.dtype = pb.FLOAT64
        column.values.shape.append(n)
        column.values.data = values.astype("<f8", copy=False).tobytes()
        column.present.dtype = pb.BOOL
        column.present.shape.append(n)
        column.present.data = present.tobytes()


def _f64_tensor(a: np.ndarray) -> pb.Tensor:
    return pb.Tensor(dtype=pb.FLOAT64, shape=a.shape, data=a.astype("<f8", copy=False).tobytes())


def _bool_tensor(a: np.ndarray) -> pb.Tensor:
    return pb.Tensor(dtype=pb.BOOL, shape=a.shape, data=a.astype(bool, copy=False).tobytes())


# ---------------------------------------------------------------------------------------------
# The servicer
# ---------------------------------------------------------------------------------------------

_R = TypeVar("_R")
_Handler = Callable[["EnvServicer", Any], _R]


def _unary(method: _Handler[_R]) -> Callable[[EnvServicer, Any, grpc.ServicerContext], _R]:
    """Turns RpcError into its status and any other exception into INTERNAL."""

    @functools.wraps(method)
    def handler(self: EnvServicer, request: Any, context: grpc.ServicerContext) -> _R:
        try:
            return method(self, request)
        except RpcError as e:
            context.abort(e.code, e.message)
        except Exception as e:  # never let an exception escape without a status
            _log.exception("%s failed", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, RpcError(grpc.StatusCode.INTERNAL, f"{_qualname(e)}: {e}").message)
        raise AssertionError("unreachable: context.abort raises")

    return handler


class EnvServicer(pb_grpc.EnvServiceServicer):
    """Serves Gymnasium vector envs; see the module docstring and the proto for the semantics."""

    def __init__(
        self,
        socket_host: str = "127.0.0.1",
        max_snapshots: int = DEFAULT_MAX_SNAPSHOTS,
        addon_modules: Iterable[str] = (),
        max_num_envs: int = DEFAULT_MAX_NUM_ENVS,
        max_open_envs: int = DEFAULT_MAX_OPEN_ENVS,
        max_step_sockets: int = DEFAULT_MAX_STEP_SOCKETS,
        max_step_frame_bytes: int = MAX_FRAME_BYTES,
        max_env_workers: int = DEFAULT_MAX_ENV_WORKERS,
        workers: int = 0,
        worker_imports: Iterable[str] = (),
        step_socket_spin_us: int | None = None,
        ray_backend: Any = None,
    ) -> None:
        """``ray_backend``: a :class:`rql4j_bridge.ray_backend.RayBackend` makes the workers Ray actors on its
        cluster (``serve --ray``), one per copy unless ``workers`` or the Make says how many.
        ``step_socket_spin_us``: how long a step socket polls for the client's next frame before it blocks
        (``serve --step-socket-spin-us``; None: :func:`rql4j_bridge.step_socket.default_spin_us`).
        ``workers``: 0 keeps every env's copies in this process; N > 0 spreads each env's copies over ``min(N,
        num_envs)`` worker processes (:mod:`rql4j_bridge.workers`), which import ``worker_imports`` and
        ``addon_modules`` first. ``addon_modules``: the modules imported at start (``serve --import`` /
        ``--addon``), the only ones a request may name, as the module of its ``addon_reward`` or of a
        ``module:EnvId`` env id (a request never imports one). The ``max_*`` bounds are the ``serve`` options of
        the same names (module docstring)."""
        if max_snapshots < 0:
            raise ValueError(f"max_snapshots must be >= 0, got {max_snapshots}")
        if step_socket_spin_us is not None and step_socket_spin_us < 0:
            raise ValueError(f"step_socket_spin_us must be >= 0, got {step_socket_spin_us}")
        self.step_socket_spin_us = step_socket_spin_us
        for name, value, least in (
            ("max_num_envs", max_num_envs, 1),
            ("max_open_envs", max_open_envs, 1),
            ("max_step_sockets", max_step_sockets, 0),
            ("max_step_frame_bytes", max_step_frame_bytes, 1),
            ("workers", workers, 0),
            ("max_env_workers", max_env_workers, 0),
        ):
            if value < least:
                raise ValueError(f"{name} must be >= {least}, got {value}")
        self.addon_modules = frozenset(addon_modules)
        self.workers = workers
        self.ray_backend = ray_backend
        self.max_env_workers = max_env_workers
        self._worker_processes = 0  # running for the open envs (guarded by _sockets_lock)
        self.worker_imports = tuple(dict.fromkeys([*worker_imports, *sorted(self.addon_modules)]))
        self.max_num_envs = max_num_envs
        self.max_open_envs = max_open_envs
        self.max_step_sockets = max_step_sockets
        self.max_step_frame_bytes = max_step_frame_bytes
        self._step_sockets = 0  # listening or connected, over all envs (guarded by _sockets_lock)
        self._sockets_lock = threading.Lock()
        self.socket_host = socket_host  # where step sockets listen (serve() sets the gRPC bind host)
        self.authenticated = False  # whether the server it answers for checks the token (serve() sets it)
        self.max_snapshots = max_snapshots
        self._envs: dict[str, _Env] = {}
        self._closed: set[str] = set()
        self._registry_lock = threading.Lock()
        self._snapshots: dict[str, _Snapshot] = {}  # guarded by _registry_lock

    # -- helpers ------------------------------------------------------------------------------

    def _lookup(self, handle: str) -> _Env:
        env = self._envs.get(handle)
        if env is not None:
            return env
        if not handle:
            raise RpcError(grpc.StatusCode.NOT_FOUND, "env_handle is empty: pass the handle that Make returned")
        if handle in self._closed:
            raise RpcError(grpc.StatusCode.NOT_FOUND, f"env handle {handle} was closed")
        raise RpcError(
            grpc.StatusCode.NOT_FOUND,
            f"unknown env handle {handle!r}: no env with this handle was made on this server "
            "(was the server restarted?)",
        )

    @property
    def open_envs(self) -> int:
        return len(self._envs)

    def close_all(self) -> None:
        """Closes every open env (server shutdown)."""
        with self._registry_lock:
            envs = list(self._envs.values())
            self._envs.clear()
            self._snapshots.clear()
        for env in envs:
            try:
                _retire(env)
            except Exception:
                _log.exception("closing %s failed", env.describe())
            finally:
                self._release_workers(env.worker_processes)

    # -- RPCs ---------------------------------------------------------------------------------

    @_unary
    def GetServerInfo(self, request: pb.ServerInfoRequest) -> pb.ServerInfoResponse:
        return pb.ServerInfoResponse(
            protocol=PROTOCOL,
            protocol_revision=PROTOCOL_REVISION,
            authenticated=self.authenticated,
            bridge_version=__version__,
            python_version=platform.python_version(),
            gymnasium_version=gymnasium.__version__,
            open_envs=self.open_envs,
        )

    @_unary
    def Make(self, request: pb.MakeRequest) -> pb.MakeResponse:
        env_id = request.env_id
        if not env_id:
            raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, "env_id is empty: name a registered Gymnasium id")
        if ":" in env_id:
            self._check_env_module(env_id)
        kwargs = _parse_json_object(request.kwargs_json, "kwargs_json")
        _refuse_imports(kwargs, "kwargs_json")
        num_envs = request.num_envs or 1
        if num_envs < 0:
            raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"num_envs must be >= 0 (0 means 1), got {num_envs}")
        if num_envs > self.max_num_envs:
            raise RpcError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"num_envs {num_envs} exceeds this server's maximum of {self.max_num_envs} copies per Make (serve "
                f"--max-num-envs {self.max_num_envs}): make fewer copies per env, or start the server with a "
                "larger --max-num-envs",
            )
        self._check_env_room()
        mode = request.autoreset_mode or pb.SAME_STEP
        if mode not in _MODES:
            raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"unknown autoreset_mode {mode}")
        if request.max_episode_steps < 0:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"max_episode_steps must be >= 0 (0 keeps the registered limit), got {request.max_episode_steps}",
            )
        if request.max_episode_steps > 0:
            kwargs["max_episode_steps"] = request.max_episode_steps

        if request.workers < -1:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"workers must be >= 1, 0 (the server's --workers) or -1 (none), got {request.workers}",
            )
        workers = self.workers if request.workers == 0 else max(request.workers, 0)
        if self.ray_backend is not None and request.workers == 0 and self.workers == 0:
            workers = num_envs  # Ray: one actor per copy unless told otherwise
        processes = min(workers, num_envs)
        addon = self._addon_reward(request) if request.addon_reward else None
        variant = _REWARD_VARIANTS[request.reward_variant or pb.REWARD_TOTAL] if addon is not None else "total"
        envs: list[gymnasium.Env] = []
        if processes > 0:
            self._reserve_workers(processes)
            try:
                vec, spec_json = self._make_workers(env_id, kwargs, num_envs, processes, mode, addon, variant), None
            except BaseException:
                self._release_workers(processes)
                raise
        else:
            envs = _make_copies(env_id, kwargs, num_envs)
            if addon is not None:
                envs = [TaskReward(e, addon, variant) for e in envs]
        try:
            if processes <= 0:
                vec = (_OneCopyVectorEnv if num_envs == 1 else SyncVectorEnv)(
                    [_returning(e) for e in envs],
                    copy=False,  # observations are serialized before the next call touches them
                    autoreset_mode=_MODES[mode],
                )
                spec_json = _spec_json(envs[0])
            handle = uuid.uuid4().hex
            obs_space, act_space = vec.single_observation_space, vec.single_action_space
            try:
                env = _Env(
                    handle=handle,
                    env_id=env_id,
                    num_envs=num_envs,
                    mode=mode,
                    vec=vec,
                    obs=ValueCodec(obs_space, num_envs, "observation"),
                    act=ValueCodec(act_space, num_envs, "action"),
                    worker_processes=processes,
                )
                response = pb.MakeResponse(
                    env_handle=handle,
                    num_envs=num_envs,
                    autoreset_mode=mode,
                    observation_space=space_to_proto(obs_space),
                    action_space=space_to_proto(act_space),
                    spec_json=spec_json if spec_json is not None else vec.spec_json,
                )
            except UnsupportedSpaceError as e:
                raise RpcError(grpc.StatusCode.UNIMPLEMENTED, f"env {env_id!r} cannot be served: {e}") from None
        except Exception as e:
            for copy in envs:
                _close_quietly(copy)
            if processes > 0:
                _close_quietly(vec)
                self._release_workers(processes)
            if isinstance(e, RpcError):
                raise
            raise RpcError(
                grpc.StatusCode.INTERNAL, f"building the vector env of {env_id!r} raised {_qualname(e)}: {e}"
            ) from e
        with self._registry_lock:
            full = self._env_room_error()  # again under the lock: concurrent Makes must not pass the bound
            if full is None:
                self._envs[handle] = env
        if full is not None:
            try:
                env.vec.close()
            except Exception:
                _log.warning("closing %s, refused for lack of room, failed", env.describe(), exc_info=True)
            self._release_workers(processes)
            raise full
        _log.info("made %s x%d (%s)", env.describe(), num_envs, pb.AutoresetMode.Name(mode))
        return response

    def _reserve_workers(self, processes: int) -> None:
        with self._sockets_lock:
            if self._worker_processes + processes > self.max_env_workers:
                raise RpcError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"this env needs {processes} worker processes and the server runs {self._worker_processes} of "
                    f"its maximum {self.max_env_workers} (serve --max-env-workers {self.max_env_workers}): close envs "
                    "you no longer need, ask for fewer workers (MakeRequest.workers, -1 for none), or start the "
                    "server with a larger --max-env-workers",
                )
            self._worker_processes += processes

    def _release_workers(self, processes: int) -> None:
        with self._sockets_lock:
            self._worker_processes -= processes

    @property
    def worker_processes(self) -> int:
        """Env worker processes running for the open envs."""
        return self._worker_processes

    def _make_workers(
        self, env_id: str, kwargs: dict[str, Any], num_envs: int, processes: int, mode: int, addon: Any, variant: str
    ) -> WorkerVectorEnv:
        """The env's copies in ``processes`` worker processes (rql4j_bridge.workers)."""
        try:
            return WorkerVectorEnv(
                env_id,
                kwargs,
                num_envs,
                processes,
                _MODES[mode],
                addon=addon,
                variant=variant,
                imports=[m for m in self.worker_imports if m in sys.modules],
                backend=self.ray_backend,
            )
        except WorkerRefusal as e:
            raise RpcError(grpc.StatusCode[e.code_name], e.message) from None
        except Exception as e:
            raise RpcError(
                grpc.StatusCode.INTERNAL,
                f"starting the {processes} worker processes of {env_id!r} raised "
                f"{_qualname(e)}: {e}",
            ) from e

    def _env_room_error(self) -> RpcError | None:
        """The RESOURCE_EXHAUSTED error when the server holds ``max_open_envs`` envs, else None."""
        if len(self._envs) < self.max_open_envs:
            return None
        return RpcError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"the server holds {len(self._envs)} open envs, its maximum (serve --max-open-envs "
            f"{self.max_open_envs}): Close the envs you no longer need first, or start the server with a "
            "larger --max-open-envs",
        )

    def _check_env_room(self) -> None:
        error = self._env_room_error()
        if error is not None:
            raise error

    def _check_env_module(self, env_id: str) -> None:
        """INVALID_ARGUMENT for a ``module:EnvId`` id whose module was not named at start (``gymnasium.make``
        would import it)."""
        module_name = env_id.split(":", 1)[0]
        if env_id.count(":") != 1:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT, f"env_id {env_id!r}: expected a registered id or 'MODULE:EnvId'"
            )
        if module_name not in self.addon_modules:
            allowed = ", ".join(sorted(self.addon_modules)) or "none"
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"env_id {env_id!r}: module {module_name!r} was not imported when this server started (modules a "
                f"'module:EnvId' id may name: {allowed}), and a request never makes the server import code; start "
                f"the server with `rql4j-bridge serve --import {module_name}` (Java: PythonServer.builder()"
                ".optImport) and name the env by its registered id",
            )

    def _addon_reward(self, request: pb.MakeRequest) -> Callable[..., Any]:
        """The function a Make request names as its add-on reward: one of a module imported at start, never imported here."""
        target = request.addon_reward
        if request.reward_variant not in _REWARD_VARIANTS:
            raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"unknown reward_variant {request.reward_variant}")
        module_name, _, name = target.partition(":")
        if not module_name or not name or ":" in name:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT, f"addon_reward must be 'MODULE:FUNCTION', got {target!r}"
            )
        module = sys.modules.get(module_name)
        if module_name not in self.addon_modules or module is None:
            allowed = ", ".join(sorted(self.addon_modules)) or "none"
            raise RpcError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"addon_reward {target!r}: module {module_name!r} was not imported when this server started "
                f"(modules it may use: {allowed}); start it with `rql4j-bridge serve --addon {target}` "
                "(Java: PythonServer.builder().optAddon)",
            )
        fn = getattr(module, name, None)
        # a function the module itself defines, not any callable it imported (os.system, subprocess.call, ...)
        if not inspect.isfunction(fn) or fn.__module__ != module_name or name.startswith("_"):
            raise RpcError(
                grpc.StatusCode.NOT_FOUND,
                f"addon_reward {target!r}: module {module_name!r} defines no public function {name!r}",
            )
        try:
            takes_env(fn, "addon_reward")
        except ValueError as e:
            raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, str(e)) from None
        return fn

    @_unary
    def Reset(self, request: pb.ResetRequest) -> pb.ResetResponse:
        env = self._lookup(request.env_handle)
        n = env.num_envs
        seeds = list(request.seeds)
        if any(s < 0 for s in seeds):
            raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"seeds must be non-negative, got {seeds}")
        seed: int | list[int | None] | None
        if not seeds:
            seed = None
        elif len(seeds) == 1:
            seed = seeds[0]
        elif len(seeds) == n:
            seed = seeds
        else:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"seeds: expected none, one (copy i gets s + i) or num_envs = {n} values, got {len(seeds)}",
            )
        options = _parse_json_object(request.options_json, "options_json")
        _refuse_imports(options, "options_json")  # e.g. highway-env's reset(options={"config": ...})
        if "reset_mask" in options:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "options_json must not contain reset_mask: use the ResetRequest.reset_mask field",
            )
        mask = _reset_mask(request, n) if request.HasField("reset_mask") else None
        if mask is not None:
            options["reset_mask"] = mask
        with env.lock:
            if env.closed:
                env.raise_not_ready()
            if mask is not None and not (env.reset_done | mask).all():
                missing = np.flatnonzero(~(env.reset_done | mask)).tolist()
                raise RpcError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"copies {missing} of {env.describe()} have no current episode (never reset, or the env "
                    "raised since): call Reset without reset_mask, or with a reset_mask that includes them",
                )
            try:
                obs, info = env.vec.reset(seed=seed, options=options or None)
            except Exception as e:
                raise env.env_failure("reset", e) from e
            if mask is None:
                env.reset_done[:] = True
                env.awaiting_reset[:] = False
            else:
                env.reset_done |= mask
                env.awaiting_reset &= ~mask
            env.update_ready()
            response = pb.ResetResponse(observation=env.obs.encode(obs))
            _set_info(response.info, info_columns(info, n), n)
        return response

    @_unary
    def Step(self, request: pb.StepRequest) -> pb.StepResponse:
        return self._step(self._lookup(request.env_handle), request)

    def StepStream(
        self, request_iterator: Iterator[pb.StepRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.StepResponse]:
        handle: str | None = None
        env: _Env | None = None
        for request in request_iterator:
            try:
                if env is None or request.env_handle != handle:
                    env, handle = self._lookup(request.env_handle), request.env_handle
                response = self._step(env, request)
            except RpcError as e:
                context.abort(e.code, e.message)
                return
            except Exception as e:
                _log.exception("StepStream failed")
                context.abort(
                    grpc.StatusCode.INTERNAL, RpcError(grpc.StatusCode.INTERNAL, f"{_qualname(e)}: {e}").message
                )
                return
            yield response

    @_unary
    def Close(self, request: pb.CloseRequest) -> pb.CloseResponse:
        handle = request.env_handle
        with self._registry_lock:
            env = self._envs.pop(handle, None)
            if env is None:
                if handle in self._closed:
                    return pb.CloseResponse()  # idempotent
                self._lookup(handle)  # raises NOT_FOUND
            self._closed.add(handle)
        assert env is not None
        with self._registry_lock:
            for key in [k for k, snap in self._snapshots.items() if snap.env_handle == handle]:
                del self._snapshots[key]
        try:
            _retire(env)
        except Exception as e:
            raise RpcError(
                grpc.StatusCode.INTERNAL, f"{env.describe()} was released but close() raised {_qualname(e)}: {e}"
            ) from e
        finally:
            self._release_workers(env.worker_processes)
        _log.info("closed %s", env.describe())
        return pb.CloseResponse()

    @property
    def open_snapshots(self) -> int:
        return len(self._snapshots)

    def _copy_index(self, env: _Env, index: int) -> int:
        if not 0 <= index < env.num_envs:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"index {index} is not a copy of {env.describe()}: it has {env.num_envs} (0..{env.num_envs - 1})",
            )
        return index

    def _check_room(self) -> None:
        if len(self._snapshots) >= self.max_snapshots:
            raise RpcError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the server holds {len(self._snapshots)} snapshots, its maximum (serve --max-snapshots "
                f"{self.max_snapshots}): release the ones you no longer need (ReleaseSnapshots) first",
            )

    @_unary
    def Snapshot(self, request: pb.SnapshotRequest) -> pb.SnapshotResponse:
        env = self._lookup(request.env_handle)
        index = self._copy_index(env, request.index)
        self._check_room()
        with env.lock:
            if env.closed or env.failure is not None or not env.reset_done.any():
                env.raise_not_ready()
            if not env.reset_done[index]:
                raise RpcError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"copy {index} of {env.describe()} was never reset: call Reset before taking a snapshot",
                )
            try:
                if isinstance(env.vec, WorkerVectorEnv):
                    state, autoreset_next = env.vec.snapshot(index)
                else:
                    state = copy.deepcopy(env.vec.envs[index])
                    flags = _autoreset_flags(env.vec)
                    autoreset_next = bool(flags[index]) if flags is not None else False
            except WorkerDiedError as e:
                raise env.env_failure("Snapshot", e) from e
            except Exception as e:
                raise RpcError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"{env.describe()} cannot be copied: copy.deepcopy raised {_qualname(e)}: {e}. Snapshot / "
                    "restore needs an env whose whole state deepcopy can copy (pure-Python simulators such as "
                    "highway-env and the classic-control envs can; envs holding a process, a socket or a native "
                    "handle usually cannot)",
                ) from None
            snap = _Snapshot(
                env_handle=env.handle,
                env_id=env.env_id,
                mode=env.mode,
                copy=state,
                awaiting_reset=bool(env.awaiting_reset[index]),
                autoreset_next=autoreset_next,
            )
        key = uuid.uuid4().hex
        try:
            with self._registry_lock:
                if env.handle not in self._envs:  # closed meanwhile: its snapshots are gone with it
                    raise RpcError(grpc.StatusCode.NOT_FOUND, f"{env.describe()} was closed")
                self._check_room()  # again under the lock: concurrent snapshots must not pass the bound
                self._snapshots[key] = snap
                held = len(self._snapshots)
        except RpcError:
            if isinstance(state, WorkerSnapshot):  # the copy its worker holds must not outlive the refusal
                state.owner.release(state)
            raise
        return pb.SnapshotResponse(snapshot_handle=key, open_snapshots=held, max_snapshots=self.max_snapshots)

    @_unary
    def Restore(self, request: pb.RestoreRequest) -> pb.RestoreResponse:
        env = self._lookup(request.env_handle)
        index = self._copy_index(env, request.index)
        snap = self._snapshots.get(request.snapshot_handle)
        if snap is None:
            raise RpcError(
                grpc.StatusCode.NOT_FOUND,
                f"unknown snapshot handle {request.snapshot_handle!r}: released, its env closed, or never taken "
                "on this server",
            )
        if snap.env_id != env.env_id:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"snapshot {request.snapshot_handle} is of {snap.env_id!r}; it cannot be restored into "
                f"{env.describe()}",
            )
        if snap.mode != env.mode:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"snapshot {request.snapshot_handle} was taken in {pb.AutoresetMode.Name(snap.mode)} mode; "
                f"{env.describe()} runs in {pb.AutoresetMode.Name(env.mode)} mode (restore into an env made "
                "with the same autoreset mode)",
            )
        with env.lock:
            if env.closed:
                env.raise_not_ready()
            try:
                if isinstance(env.vec, WorkerVectorEnv):
                    env.vec.restore(index, snap.copy, snap.autoreset_next)
                else:
                    state = (
                        pickle.loads(snap.copy.owner.export_snapshot(snap.copy))  # from our own worker process
                        if isinstance(snap.copy, WorkerSnapshot)
                        else copy.deepcopy(snap.copy)
                    )
            except Exception as e:
                raise RpcError(
                    grpc.StatusCode.INTERNAL, f"copying snapshot {request.snapshot_handle} raised {_qualname(e)}: {e}"
                ) from e
            if not isinstance(env.vec, WorkerVectorEnv):
                replaced, env.vec.envs[index] = env.vec.envs[index], state
                _close_quietly(replaced)
                flags = _autoreset_flags(env.vec)
                if flags is not None:
                    flags[index] = snap.autoreset_next
            env.reset_done[index] = True
            env.awaiting_reset[index] = snap.awaiting_reset
            env.update_ready()
        return pb.RestoreResponse()

    @_unary
    def ReleaseSnapshots(self, request: pb.ReleaseSnapshotsRequest) -> pb.ReleaseSnapshotsResponse:
        released = []
        with self._registry_lock:
            for key in request.snapshot_handles:
                snap = self._snapshots.pop(key, None)
                if snap is not None:
                    released.append(snap)
            held = len(self._snapshots)
        for snap in released:
            if isinstance(snap.copy, WorkerSnapshot):  # held in a worker process: drop it there
                snap.copy.owner.release(snap.copy)
        released = len(released)
        return pb.ReleaseSnapshotsResponse(released=released, open_snapshots=held)

    @_unary
    def OpenStepSocket(self, request: pb.OpenStepSocketRequest) -> pb.OpenStepSocketResponse:
        env = self._lookup(request.env_handle)
        with env.lock:
            if env.closed:
                env.raise_not_ready()

            def on_exit(sock: StepSocket) -> None:
                with env.lock:
                    if sock in env.sockets:
                        env.sockets.remove(sock)
                self._release_step_socket()

            self._reserve_step_socket()
            try:
                sock = StepSocket(
                    self.socket_host,
                    functools.partial(self._socket_frame, env),
                    env.handle[:8],
                    on_exit=on_exit,
                    max_frame_bytes=self.max_step_frame_bytes,
                    spin_us=self.step_socket_spin_us,
                )
            except OSError as e:
                self._release_step_socket()
                raise RpcError(
                    grpc.StatusCode.UNAVAILABLE,
                    f"cannot listen for a step socket on {self.socket_host}: {e}; use StepStream instead",
                ) from e
            env.sockets.append(sock)
        return pb.OpenStepSocketResponse(
            host=sock.host, port=sock.port, token=sock.token, accept_timeout_s=int(sock.accept_timeout_s)
        )

    @property
    def open_step_sockets(self) -> int:
        """Step sockets listening for their client or connected to it, over all envs."""
        return self._step_sockets

    def _reserve_step_socket(self) -> None:
        with self._sockets_lock:
            if self._step_sockets >= self.max_step_sockets:
                raise RpcError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"the server holds {self._step_sockets} step sockets (listening or connected), its maximum "
                    f"(serve --max-step-sockets {self.max_step_sockets}): close the step sockets or envs you no "
                    "longer need, step this env with StepStream or Step, or start the server with a larger "
                    "--max-step-sockets",
                )
            self._step_sockets += 1

    def _release_step_socket(self) -> None:
        with self._sockets_lock:
            self._step_sockets -= 1

    def _socket_frame(self, env: _Env, payload: bytes) -> bytes:
        """One step-socket frame: the StepSocketReply for a serialized StepRequest (never raises)."""
        reply = pb.StepSocketReply()
        try:
            try:
                request = pb.StepRequest.FromString(payload)
            except Exception as e:  # google.protobuf.message.DecodeError
                raise RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"a step-socket frame is not a StepRequest ({e})"
                ) from None
            if request.env_handle and request.env_handle != env.handle:
                raise RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"this step socket belongs to {env.describe()}, not to handle {request.env_handle!r}",
                )
            reply.response.CopyFrom(self._step(env, request))
        except RpcError as e:
            reply.error.code, reply.error.message = e.code.value[0], e.message
        except Exception as e:
            _log.exception("step socket failed")
            reply.error.code = grpc.StatusCode.INTERNAL.value[0]
            reply.error.message = RpcError(grpc.StatusCode.INTERNAL, f"{_qualname(e)}: {e}").message
        return reply.SerializeToString()

    # -- the hot path -------------------------------------------------------------------------

    def _step(self, env: _Env, request: pb.StepRequest) -> pb.StepResponse:
        if not request.HasField("action"):
            raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"action is missing (expected a batch of {env.num_envs})")
        try:
            action = env.act.decode(request.action)
        except TensorError as e:
            raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"{env.describe()}: {e}") from None
        with env.lock:
            if not env.ready:
                env.raise_not_ready()
            try:
                obs, reward, terminated, truncated, info = env.vec.step(action)
            except Exception as e:
                raise env.env_failure("step", e) from e
            template = env.step_template
            obs_bytes = None if template is None else env.obs.flat_bytes(obs)
            if obs_bytes is not None:
                response = pb.StepResponse()
                response.CopyFrom(template)
                response.observation.tensor.data = obs_bytes
                response.reward.data = reward.astype("<f8", copy=False).tobytes()
                response.terminated.data = terminated.astype(bool, copy=False).tobytes()
                response.truncated.data = truncated.astype(bool, copy=False).tobytes()
            else:
                response = pb.StepResponse(
                    observation=env.obs.encode(obs),
                    reward=_f64_tensor(reward),
                    terminated=_bool_tensor(terminated),
                    truncated=_bool_tensor(truncated),
                )
            if info:
                n = env.num_envs
                _set_info(response.info, info_columns(info, n), n)
                final_obs = info.get("final_obs")
                if final_obs is not None:
                    response.final_observation.CopyFrom(env.obs.encode(env.obs.stack(final_obs)))
            if env.mode == pb.DISABLED:
                ended = terminated | truncated
                if ended.any():
                    env.awaiting_reset |= ended
                    env.ready = False
        return response


_FLAT_SPACES = (
    gymnasium.spaces.Box,
    gymnasium.spaces.Discrete,
    gymnasium.spaces.MultiDiscrete,
    gymnasium.spaces.MultiBinary,
)


class _OneCopyVectorEnv(SyncVectorEnv):
    """A SyncVectorEnv of ONE copy whose ``step`` skips the per-copy machinery a single env does not need.

    ``SyncVectorEnv.step`` iterates the batched action through ``gymnasium.vector.utils.iterate``,
    zips it with the copies and stacks the observations through ``concatenate`` (single-dispatch
    calls that cost more than stepping CartPole). For one copy with flat observation and action
    spaces (Box, Discrete, MultiDiscrete, MultiBinary) this ``step`` does the same thing without
    them: the same branches per autoreset mode, the same ``_add_info`` calls (so ``info`` is built
    by Gymnasium's own code), the same private fields (``_env_obs``, ``_rewards``,
    ``_terminations``, ``_truncations``, ``_autoreset_envs``, ``_observations``) left as Gymnasium
    leaves them, and the same returns. tests/test_one_copy_vector.py steps it beside a plain
    SyncVectorEnv in all three modes and compares every return and field, bit for bit. Other
    spaces use the parent's ``step``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if len(self.envs) != 1:
            raise ValueError(f"_OneCopyVectorEnv holds one env, got {len(self.envs)}")
        self._flat = isinstance(self.single_observation_space, _FLAT_SPACES) and isinstance(
            self.single_action_space, _FLAT_SPACES
        )
        self._obs_shape = self._observations.shape[1:] if self._flat else None

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._flat or self.copy:
            return super().step(actions)
        env = self.envs[0]
        action = actions[0]  # what iterate() yields for a Box / Discrete / MultiDiscrete / MultiBinary batch
        infos: dict[str, Any] = {}
        mode = self.autoreset_mode
        if mode == AutoresetMode.SAME_STEP:
            obs, reward, terminated, truncated, env_info = env.step(action)
            self._rewards[0], self._terminations[0], self._truncations[0] = reward, terminated, truncated
            if terminated or truncated:
                infos = self._add_info(infos, {"final_obs": obs, "final_info": env_info}, 0)
                obs, env_info = env.reset()
        elif mode == AutoresetMode.NEXT_STEP:
            if self._autoreset_envs[0]:
                obs, env_info = env.reset()
                self._rewards[0], self._terminations[0], self._truncations[0] = 0.0, False, False
            else:
                obs, reward, terminated, truncated, env_info = env.step(action)
                self._rewards[0], self._terminations[0], self._truncations[0] = reward, terminated, truncated
        elif mode == AutoresetMode.DISABLED:
            assert not self._autoreset_envs[0], f"{self._autoreset_envs=}"
            obs, reward, terminated, truncated, env_info = env.step(action)
            self._rewards[0], self._terminations[0], self._truncations[0] = reward, terminated, truncated
        else:
            raise ValueError(f"Unexpected autoreset mode, {mode}")
        self._env_obs[0] = obs
        if env_info:
            infos = self._add_info(infos, env_info, 0)
        if getattr(obs, "shape", None) == self._obs_shape and obs.dtype == self._observations.dtype:
            self._observations[0] = obs  # what concatenate() does: np.stack([obs], out=self._observations)
        else:  # a scalar, another dtype or a wrong shape: concatenate() casts (same_kind) or raises as Gymnasium does
            self._observations = concatenate(self.single_observation_space, self._env_obs, self._observations)
        self._autoreset_envs = self._terminations | self._truncations
        return self._observations, self._rewards.copy(), self._terminations.copy(), self._truncations.copy(), infos


def _autoreset_flags(vec: SyncVectorEnv) -> np.ndarray | None:
    """SyncVectorEnv's per-copy "reset on the next step" flags (NEXT_STEP mode), if it has them."""
    flags = getattr(vec, "_autoreset_envs", None)
    return flags if isinstance(flags, np.ndarray) else None


def _retire(env: _Env) -> None:
    """Marks ``env`` closed, closes its step sockets, then the env itself (which may raise)."""
    with env.lock:  # closed first: OpenStepSocket checks it under the lock, so no socket is added after
        env.closed, env.ready = True, False
        sockets = list(env.sockets)
    for sock in sockets:
        sock.close()
    with env.lock:
        env.vec.close()


def _make_copies(env_id: str, kwargs: dict[str, Any], num_envs: int) -> list[gymnasium.Env]:
    envs: list[gymnasium.Env] = []
    try:
        for _ in range(num_envs):
            envs.append(gymnasium.make(env_id, **kwargs))
    except Exception as e:
        for env in envs:
            _close_quietly(env)
        unknown = isinstance(e, (gymnasium.error.UnregisteredEnv, gymnasium.error.DeprecatedEnv)) or (
            isinstance(e, ModuleNotFoundError) and ":" in env_id
        )
        if unknown:
            raise RpcError(
                grpc.StatusCode.NOT_FOUND,
                f"unknown Gymnasium env id {env_id!r}: {e} Is the package that registers it installed in "
                "the server's Python and imported at start (`rql4j-bridge serve --import MODULE`; then the "
                "'MODULE:EnvId' form works too)?",
            ) from None
        _log.exception("gymnasium.make(%.200r) failed", env_id)  # a request's id: at most 200 characters in the log
        raise RpcError(
            grpc.StatusCode.INTERNAL, f"gymnasium.make({env_id!r}, **{kwargs!r}) raised {_qualname(e)}: {e}"
        ) from e
    return envs


def _returning(env: gymnasium.Env) -> Callable[[], gymnasium.Env]:
    return lambda: env


def _reset_mask(request: pb.ResetRequest, n: int) -> np.ndarray:
    tensor = request.reset_mask
    if tensor.dtype != pb.BOOL or tuple(tensor.shape) != (n,):
        raise RpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"reset_mask must be BOOL [{n}] (num_envs), got {dtype_name(tensor.dtype)} {list(tensor.shape)}",
        )
    try:
        mask = from_tensor(tensor, writable=True)
    except TensorError as e:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"reset_mask: {e}") from None
    if not mask.any():
        raise RpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "reset_mask names no copy: set it true for the copies to reset, or omit it to reset all",
        )
    return mask


def _spec_json(env: gymnasium.Env) -> str:
    spec = env.spec
    if spec is None:
        return ""
    try:
        return spec.to_json()
    except Exception:  # kwargs that JSON cannot hold (callables, arrays)
        return json.dumps(asdict(spec), default=repr)


def _close_quietly(env: gymnasium.Env) -> None:
    try:
        env.close()
    except Exception:
        _log.warning("closing a partially made env failed", exc_info=True)


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    max_workers: int = 64,
    servicer: EnvServicer | None = None,
    prior_servicer: PriorServicer | None = None,
    auth_token: str | None = None,
) -> tuple[grpc.Server, int]:
    """Starts a gRPC server for ``servicer`` (a fresh EnvServicer by default) and returns it with its port.

    The same server answers the PriorService (``prior_servicer``, a fresh PriorServicer by default).
    ``port`` 0 picks a free port. Each open StepStream holds one of the ``max_workers`` threads.
    With ``auth_token`` every call must carry it (:mod:`rql4j_bridge.auth`); None serves without
    authentication (the command line needs ``--no-auth`` for that).
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rql4j-rpc"),
        options=_SERVER_OPTIONS,
        interceptors=[_NoteCalls(), *([TokenInterceptor(auth_token)] if auth_token is not None else [])],
    )
    servicer = servicer or EnvServicer()
    servicer.authenticated = auth_token is not None
    servicer.socket_host = host  # step sockets listen where the gRPC server does
    pb_grpc.add_EnvServiceServicer_to_server(servicer, server)
    prior_pb_grpc.add_PriorServiceServicer_to_server(prior_servicer or PriorServicer(), server)
    bound = _bind(server, host, port)
    server.start()
    return server, bound


_SERVER_OPTIONS = [
    ("grpc.so_reuseport", 0),  # a taken port must fail, not be shared
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
    ("grpc.max_send_message_length", -1),
]


def _bind(server: grpc.Server | grpc.aio.Server, host: str, port: int) -> int:
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as e:
        raise OSError(f"cannot bind the rql4j bridge to {address}: {e}") from e
    if bound == 0:
        raise OSError(f"cannot bind the rql4j bridge to {address}")
    return bound


class _NoteCalls(grpc.ServerInterceptor):
    """Tells the step sockets that a gRPC call came in (they pause polling: :func:`note_other_call`)."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        note_other_call()
        return continuation(handler_call_details)


class _AsyncNoteCalls(grpc.aio.ServerInterceptor):
    """:class:`_NoteCalls` for the ``grpc.aio`` server."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        note_other_call()
        return await continuation(handler_call_details)


# ---------------------------------------------------------------------------------------------
# grpc.aio: the same handlers on one event-loop thread
# ---------------------------------------------------------------------------------------------


class AsyncEnvServicer(pb_grpc.EnvServiceServicer):
    """Runs an :class:`EnvServicer`'s handlers inline on a ``grpc.aio`` event loop.

    One thread does everything, so a step costs no thread hand-offs (grpcio's threaded server
    spends most of its per-message time on those). The env calls block the loop while they run:
    requests are served one at a time, which Python's GIL would impose on CPU-bound envs anyway.
    """

    def __init__(self, servicer: EnvServicer) -> None:
        self._s = servicer

    async def _call(self, name: str, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return getattr(EnvServicer, name).__wrapped__(self._s, request)
        except RpcError as e:
            await context.abort(e.code, e.message)
        except Exception as e:
            _log.exception("%s failed", name)
            await context.abort(
                grpc.StatusCode.INTERNAL, RpcError(grpc.StatusCode.INTERNAL, f"{_qualname(e)}: {e}").message
            )

    async def GetServerInfo(self, request: pb.ServerInfoRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("GetServerInfo", request, context)

    async def Make(self, request: pb.MakeRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("Make", request, context)

    async def Reset(self, request: pb.ResetRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("Reset", request, context)

    async def Step(self, request: pb.StepRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("Step", request, context)

    async def Close(self, request: pb.CloseRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("Close", request, context)

    async def OpenStepSocket(self, request: pb.OpenStepSocketRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("OpenStepSocket", request, context)

    async def Snapshot(self, request: pb.SnapshotRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("Snapshot", request, context)

    async def Restore(self, request: pb.RestoreRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("Restore", request, context)

    async def ReleaseSnapshots(self, request: pb.ReleaseSnapshotsRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("ReleaseSnapshots", request, context)

    async def StepStream(
        self, request_iterator: AsyncIterator[pb.StepRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StepResponse]:
        handle: str | None = None
        env: _Env | None = None
        async for request in request_iterator:
            try:
                if env is None or request.env_handle != handle:
                    env, handle = self._s._lookup(request.env_handle), request.env_handle
                response = self._s._step(env, request)
            except RpcError as e:
                await context.abort(e.code, e.message)
                return
            except Exception as e:
                _log.exception("StepStream failed")
                await context.abort(
                    grpc.StatusCode.INTERNAL, RpcError(grpc.StatusCode.INTERNAL, f"{_qualname(e)}: {e}").message
                )
                return
            yield response


async def serve_aio(
    host: str = "127.0.0.1",
    port: int = 0,
    servicer: EnvServicer | None = None,
    prior_servicer: PriorServicer | None = None,
    auth_token: str | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Starts a ``grpc.aio`` server for ``servicer`` on the running event loop; returns it with its port.

    The same server answers the PriorService (``prior_servicer``, a fresh PriorServicer by default).
    ``auth_token``: as for :func:`serve`.
    """
    server = grpc.aio.server(
        options=_SERVER_OPTIONS,
        interceptors=[_AsyncNoteCalls(), *([AsyncTokenInterceptor(auth_token)] if auth_token is not None else [])],
    )
    servicer = servicer or EnvServicer()
    servicer.authenticated = auth_token is not None
    servicer.socket_host = host  # step sockets listen where the gRPC server does
    pb_grpc.add_EnvServiceServicer_to_server(AsyncEnvServicer(servicer), server)
    prior_pb_grpc.add_PriorServiceServicer_to_server(AsyncPriorServicer(prior_servicer or PriorServicer()), server)
    bound = _bind(server, host, port)
    await server.start()
    return server, bound
