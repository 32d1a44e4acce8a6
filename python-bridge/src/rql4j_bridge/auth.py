"""Authentication of the bridge's ports: one secret per server launch.

The secret reaches the server out of band, never on its command line: in the environment variable
``RQL4J_BRIDGE_TOKEN`` (``--auth-token-env`` names another one) or in a file only its user can read
(``--auth-token-file``). Every gRPC call must carry it as the metadata ``x-rql4j-token``; a call
without it, or with another value, is refused with ``UNAUTHENTICATED`` before any handler runs.
The Py4J server takes the same secret as Py4J's auth token, and the step sockets' one-time tokens
are handed out only by ``OpenStepSocket``, itself an authenticated call. Comparisons are
constant-time (:func:`hmac.compare_digest`).

Serving without the secret needs ``--no-auth`` (loopback only; the server says so at start).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

TOKEN_ENV = "RQL4J_BRIDGE_TOKEN"
METADATA_KEY = "x-rql4j-token"
MIN_TOKEN_CHARS = 16


class AuthError(ValueError):
    """A secret that cannot be used (missing, too short, in a file others can read)."""


def token_matches(expected: str, given: str | bytes | None) -> bool:
    """Whether ``given`` is the secret, compared in constant time."""
    if given is None:
        return False
    g = given.encode("utf-8") if isinstance(given, str) else given
    return hmac.compare_digest(expected.encode("utf-8"), g)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token(env_var: str, token_file: str | None) -> str:
    """The secret from ``token_file`` (readable by its owner only) or else from ``env_var``."""
    if token_file:
        path = Path(token_file)
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise AuthError(
                    f"--auth-token-file {path} can be read by other users (mode {stat.filemode(mode)}): "
                    f"chmod 600 it, so that only you can read the secret"
                )
            token = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise AuthError(f"cannot read --auth-token-file {path}: {e}") from e
        source = f"--auth-token-file {path}"
    else:
        token = os.environ.get(env_var, "")
        source = f"the environment variable {env_var}"
        if not token:
            raise AuthError(
                f"no auth token: set {source} to a random secret (Java's PythonServer does this for you), "
                "or give --auth-token-file; or pass --no-auth to serve without one on a trusted machine"
            )
    if len(token) < MIN_TOKEN_CHARS:
        raise AuthError(f"the auth token from {source} is {len(token)} characters; use at least {MIN_TOKEN_CHARS}")
    return token


def _token_of(details: grpc.HandlerCallDetails) -> str | bytes | None:
    for key, value in details.invocation_metadata or ():
        if key == METADATA_KEY:
            return value
    return None


_REFUSED = "this rql4j bridge needs its auth token: send the metadata " + METADATA_KEY + " (the Java client does)"


def _like(handler: grpc.RpcMethodHandler, behaviour: Callable[..., Any]) -> grpc.RpcMethodHandler:
    """A handler of the same kind (unary / streaming on either side) as ``handler`` that runs ``behaviour``."""
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(behaviour)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(behaviour)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(behaviour)
    return grpc.unary_unary_rpc_method_handler(behaviour)


def _refusing(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same kind as ``handler`` that refuses the call with UNAUTHENTICATED."""

    def abort(_request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, _REFUSED)

    return _like(handler, abort)


def _refusing_async(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    async def abort(_request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, _REFUSED)

    return _like(handler, abort)


class TokenInterceptor(grpc.ServerInterceptor):
    """Refuses every call of a threaded server whose metadata lacks the secret."""

    def __init__(self, token: str) -> None:
        self._token = token

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or token_matches(self._token, _token_of(handler_call_details)):
            return handler
        return _refusing(handler)


class AsyncTokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses every call of a ``grpc.aio`` server whose metadata lacks the secret."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or token_matches(self._token, _token_of(handler_call_details)):
            return handler
        return _refusing_async(handler)
