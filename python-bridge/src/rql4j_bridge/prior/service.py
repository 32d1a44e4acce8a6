"""The rql4j.v1 ``PriorService`` (proto/rql4j/v1/prior.proto): prior packages answered over gRPC.

``LoadPrior`` loads a package folder (docs/prior-package.md) from the server's file system and
returns a handle; the queries take FLAT float32 observations ``[B, obs_dim]`` and answer exactly
what :class:`~rql4j_bridge.prior.package.PriorPackage` computes in-process.

torch is imported on the first LoadPrior, not when this module is imported, so that an env-only
server starts fast and works without torch installed.

Status codes (the proto header): NOT_FOUND (no such package / unknown handle), INVALID_ARGUMENT
(wrong dtype or shape, a query that does not fit the distribution), FAILED_PRECONDITION (the
package is malformed -- the message names the file and the field -- or torch is not installed),
INTERNAL (torch raised, or the module returned NaN for the batch).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import numpy as np

from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import prior_pb2 as ppb
from rql4j_bridge.proto.rql4j.v1 import prior_pb2_grpc as ppb_grpc
from rql4j_bridge.tensors import TensorError, dtype_name, from_tensor, to_tensor

if TYPE_CHECKING:
    from rql4j_bridge.prior.package import PriorPackage

__all__ = ["AsyncPriorServicer", "PriorServicer"]

_log = logging.getLogger(__name__)
_MAX_MESSAGE_CHARS = 4000
_INTEGER_DTYPES = frozenset({pb.INT64, pb.INT32, pb.INT16, pb.INT8, pb.UINT8})
_FLOAT_DTYPES = frozenset({pb.FLOAT32, pb.FLOAT64})


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message if len(message) <= _MAX_MESSAGE_CHARS else message[: _MAX_MESSAGE_CHARS - 3] + "..."


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _status_of(exc: Exception) -> _Abort:
    """Maps the prior package's exceptions to the proto's status codes."""
    if isinstance(exc, _Abort):
        return exc
    try:
        from rql4j_bridge.prior.package import PriorOutputError, PriorPackageError, PriorQueryError
    except ImportError:  # torch missing: nothing was loaded, so this is no prior's error
        _log.error("prior call failed", exc_info=exc)
        return _Abort(grpc.StatusCode.INTERNAL, f"{_qualname(exc)}: {exc}")

    if isinstance(exc, PriorQueryError):
        return _Abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    if isinstance(exc, PriorPackageError):
        return _Abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    if isinstance(exc, PriorOutputError):
        return _Abort(grpc.StatusCode.INTERNAL, str(exc))
    _log.error("prior query failed", exc_info=exc)
    return _Abort(grpc.StatusCode.INTERNAL, f"{_qualname(exc)}: {exc}")


_R = TypeVar("_R")


def _unary(method: Callable[[PriorServicer, Any], _R]) -> Callable[[PriorServicer, Any, grpc.ServicerContext], _R]:
    @functools.wraps(method)
    def handler(self: PriorServicer, request: Any, context: grpc.ServicerContext) -> _R:
        try:
            return method(self, request)
        except Exception as e:
            status = _status_of(e)
            context.abort(status.code, status.message)
        raise AssertionError("unreachable: context.abort raises")

    return handler


def _observations(prior: PriorPackage, request: ppb.PriorQuery) -> np.ndarray:
    if not request.HasField("observations"):
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"observations are missing: send FLOAT32 [B, {prior.obs_dim}]")
    tensor = request.observations
    if tensor.dtype != pb.FLOAT32:
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"observations must be FLOAT32 [B, {prior.obs_dim}], got dtype {dtype_name(tensor.dtype)}",
        )
    if len(tensor.shape) != 2 or tensor.shape[1] != prior.obs_dim:
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"observations must be FLOAT32 [B, {prior.obs_dim}] (the flat observation, observation.flatten = "
            f"{prior.sidecar['observation']['flatten']!r}), got shape {list(tensor.shape)}",
        )
    try:
        return from_tensor(tensor)
    except TensorError as e:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"observations: {e}") from None


def _actions(prior: PriorPackage, request: ppb.PriorQuery, batch: int) -> np.ndarray:
    want = f"INT64 [{batch}]" if prior.is_categorical else f"FLOAT32 [{batch}, {prior.action_dim}]"
    if not request.HasField("actions"):
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"actions are missing: LogProb needs {want}")
    tensor = request.actions
    allowed = _INTEGER_DTYPES if prior.is_categorical else _FLOAT_DTYPES
    if tensor.dtype not in allowed:
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"actions must be {want} for a {prior.distribution} prior, got dtype {dtype_name(tensor.dtype)}",
        )
    try:
        return from_tensor(tensor)
    except TensorError as e:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"actions: {e}") from None


class PriorServicer(ppb_grpc.PriorServiceServicer):
    """Loaded prior packages by handle; see the module docstring and the proto."""

    def __init__(self) -> None:
        self._priors: dict[str, PriorPackage] = {}
        self._released: set[str] = set()
        self._lock = threading.Lock()

    @property
    def loaded(self) -> int:
        return len(self._priors)

    def _lookup(self, handle: str) -> PriorPackage:
        prior = self._priors.get(handle)
        if prior is not None:
            return prior
        if not handle:
            raise _Abort(grpc.StatusCode.NOT_FOUND, "prior_handle is empty: pass the handle that LoadPrior returned")
        if handle in self._released:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"prior handle {handle} was released: call LoadPrior again")
        raise _Abort(
            grpc.StatusCode.NOT_FOUND,
            f"unknown prior handle {handle!r}: no prior with this handle was loaded on this server "
            "(was the server restarted?)",
        )

    @_unary
    def LoadPrior(self, request: ppb.LoadPriorRequest) -> ppb.LoadPriorResponse:
        if not request.path:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT, "path is empty: name a prior package folder (with prior.json)"
            )
        try:
            from rql4j_bridge.prior.package import load_prior_package  # imports torch, on first use only
        except ImportError as e:
            raise _Abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"cannot load priors: {e}. Install torch in the server's Python: pip install 'rql4j-bridge[priors]'",
            ) from None
        try:
            prior = load_prior_package(request.path)
        except FileNotFoundError as e:
            raise _Abort(grpc.StatusCode.NOT_FOUND, str(e)) from None
        handle = uuid.uuid4().hex
        with self._lock:
            self._priors[handle] = prior
        _log.info("loaded %s as %s", prior.describe(), handle)
        return ppb.LoadPriorResponse(prior_handle=handle, sidecar_json=prior.sidecar_text)

    @_unary
    def LogProbsAll(self, request: ppb.PriorQuery) -> ppb.LogProbsAllResponse:
        prior = self._lookup(request.prior_handle)
        if not prior.is_categorical:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"LogProbsAll needs a categorical prior; {prior.describe()} is {prior.distribution}: use Distribution "
                "or LogProb",
            )
        obs = _observations(prior, request)
        return ppb.LogProbsAllResponse(log_probs=to_tensor(prior.log_probs_all(obs), np.float32))

    @_unary
    def Distribution(self, request: ppb.PriorQuery) -> ppb.DistributionResponse:
        prior = self._lookup(request.prior_handle)
        if prior.is_categorical:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Distribution needs a Gaussian prior; {prior.describe()} is categorical: use LogProbsAll",
            )
        mean, log_std = prior.distribution_params(_observations(prior, request))
        return ppb.DistributionResponse(mean=to_tensor(mean, np.float32), log_std=to_tensor(log_std, np.float32))

    @_unary
    def LogProb(self, request: ppb.PriorQuery) -> ppb.LogProbResponse:
        prior = self._lookup(request.prior_handle)
        obs = _observations(prior, request)
        actions = _actions(prior, request, obs.shape[0])
        return ppb.LogProbResponse(log_prob=to_tensor(prior.log_prob(obs, actions), np.float32))

    @_unary
    def Sample(self, request: ppb.PriorQuery) -> ppb.SampleResponse:
        prior = self._lookup(request.prior_handle)
        obs = _observations(prior, request)
        import torch

        generator = torch.Generator().manual_seed(int(request.seed)) if request.seed != 0 else None
        actions = prior.sample(obs, generator=generator, deterministic=request.deterministic)
        dtype = np.int64 if prior.is_categorical else np.float32
        return ppb.SampleResponse(actions=to_tensor(actions, dtype))

    @_unary
    def ReleasePrior(self, request: ppb.ReleasePriorRequest) -> ppb.ReleasePriorResponse:
        handle = request.prior_handle
        with self._lock:
            prior = self._priors.pop(handle, None)
            if prior is None:
                if handle in self._released:
                    return ppb.ReleasePriorResponse()  # idempotent
                self._lookup(handle)  # raises NOT_FOUND
            self._released.add(handle)
        if prior is not None:
            _log.info("released %s (%s)", prior.describe(), handle)
        return ppb.ReleasePriorResponse()

    def release_all(self) -> None:
        with self._lock:
            self._released.update(self._priors)
            self._priors.clear()


class AsyncPriorServicer(ppb_grpc.PriorServiceServicer):
    """Runs a :class:`PriorServicer`'s handlers on a ``grpc.aio`` event loop.

    Queries run inline (like the EnvService's steps); LoadPrior runs in a worker thread, since the
    first one imports torch and reads the module from disk (seconds), which must not stall the
    env traffic sharing the loop.
    """

    def __init__(self, servicer: PriorServicer) -> None:
        self._s = servicer

    async def _call(
        self, name: str, request: Any, context: grpc.aio.ServicerContext, *, in_thread: bool = False
    ) -> Any:
        method = getattr(PriorServicer, name).__wrapped__
        try:
            if in_thread:
                return await asyncio.to_thread(method, self._s, request)
            return method(self._s, request)
        except Exception as e:
            status = _status_of(e)
            await context.abort(status.code, status.message)

    async def LoadPrior(self, request: ppb.LoadPriorRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("LoadPrior", request, context, in_thread=True)

    async def LogProbsAll(self, request: ppb.PriorQuery, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("LogProbsAll", request, context)

    async def Distribution(self, request: ppb.PriorQuery, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("Distribution", request, context)

    async def LogProb(self, request: ppb.PriorQuery, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("LogProb", request, context)

    async def Sample(self, request: ppb.PriorQuery, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("Sample", request, context)

    async def ReleasePrior(self, request: ppb.ReleasePriorRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._call("ReleasePrior", request, context)
