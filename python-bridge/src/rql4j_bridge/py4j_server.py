"""The rql4j.v1 contract over Py4J: the same protobuf messages, carried as byte arrays.

For users who already run a Py4J gateway (and for the lowest single-env latency without the
step socket). Java holds a proxy of the Java interface ``org.rql4j.bridge.Py4jBridgeService``
(``byte[] call(String method, byte[] request)``), implemented here by :class:`Py4jBridgeService`:

- ``method`` is a unary method's full gRPC name, e.g. ``rql4j.v1.EnvService/Step``; ``request``
  is its serialized request message. Dispatch is generic: every unary method of ``EnvService``
  and ``PriorService`` in the generated descriptors is served by the servicer method of the
  same name (the gRPC server's handlers, unwrapped), so an RPC added to the proto and to the
  servicer passes through with no change here. Streaming methods (``StepStream``) are not
  served: over Py4J each call is already one message each way.
- The reply is an envelope: one byte, the gRPC status code (0 OK), then either the serialized
  response (OK) or the UTF-8 error message, the same code and message the gRPC server would
  send. Java turns non-zero codes into a ``BridgeException`` with that code.

Security: the server listens on loopback by default and requires Py4J's auth token (``serve``
takes it from an environment variable, never from argv, where other local users could read it).
Sockets: py4j sets no TCP_NODELAY; :class:`_NoDelayClientServer` sets it on every accepted
connection (each would otherwise wait ~40 ms for the peer's delayed ACK on small replies).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any

import grpc
import py4j.clientserver
import py4j.protocol
from google.protobuf import message_factory
from py4j.clientserver import ClientServer, ClientServerConnection, JavaParameters, PythonParameters
from py4j.clientserver import PythonServer as _Py4jPythonServer
from py4j.protocol import Py4JAuthenticationError

from rql4j_bridge.auth import token_matches
from rql4j_bridge.env_server import EnvServicer, RpcError, _qualname
from rql4j_bridge.prior.service import PriorServicer, _status_of
from rql4j_bridge.proto.rql4j.v1 import env_pb2, prior_pb2
from rql4j_bridge.step_socket import note_other_call

__all__ = ["JAVA_INTERFACE", "Py4jBridgeService", "decode_reply", "encode_error", "serve_py4j", "stop_py4j"]

_log = logging.getLogger(__name__)

JAVA_INTERFACE = "org.rql4j.bridge.Py4jBridgeService"


def _decode_bytearray(encoded: str) -> bytearray:
    """py4j's ``decode_bytearray`` at C speed: its own rebuilds the bytes in a per-byte Python loop.

    Measured: 14 µs for a 60-byte step request and 890 µs for 12 KB of prior observations, against
    0.4 µs and 66 µs here. Installed on import: every ``byte[]`` that Java sends this process goes
    through py4j's converter table, which calls ``py4j.protocol.decode_bytearray`` by name.
    """
    return bytearray(base64.standard_b64decode(encoded))


py4j.protocol.decode_bytearray = _decode_bytearray

_AUTH_LINE_LIMIT = 4096  # bytes of an auth command's token line: more is not a token
_AUTH_TIMEOUT_S = 10.0  # how long a connection may take to authenticate


def _do_client_auth(command: str, input_stream: Any, sock: Any, auth_token: str) -> bool:
    """py4j's ``do_client_auth`` with a constant-time comparison, a bounded token line and a timeout.

    py4j compares the token with ``==`` and reads the line unbounded and without a timeout; the
    ClientServer calls this function by name (``py4j.clientserver.do_client_auth``), so it is replaced there.
    """
    previous = sock.gettimeout()
    try:
        sock.settimeout(_AUTH_TIMEOUT_S)
        if command != py4j.protocol.AUTH_COMMAND_NAME:
            raise Py4JAuthenticationError(f"Expected {py4j.protocol.AUTH_COMMAND_NAME}, received {command}.")
        line = input_stream.readline(_AUTH_LINE_LIMIT)
        if not line.endswith(b"\n" if isinstance(line, bytes) else "\n"):
            raise Py4JAuthenticationError("the auth token line is too long or incomplete")
        given = line[:-1]
        input_stream.readline(_AUTH_LINE_LIMIT)  # the END marker
        if token_matches(auth_token, given):
            sock.sendall(py4j.protocol.OUTPUT_VOID_COMMAND.encode("utf-8"))
            return True
        sock.sendall(py4j.protocol.ERROR_RETURN_MESSAGE.encode("utf-8"))
        raise Py4JAuthenticationError("Client authentication failed.")
    except Py4JAuthenticationError:
        raise
    except Exception as e:
        raise Py4JAuthenticationError(cause=e) from e
    finally:
        with contextlib.suppress(OSError):
            sock.settimeout(previous)


py4j.clientserver.do_client_auth = _do_client_auth
OK = 0
_STRING_ARG = py4j.protocol.STRING_TYPE.encode()
_BYTES_ARG = py4j.protocol.BYTES_TYPE.encode()

_Handler = Callable[[Any], Any]
_ErrorMapper = Callable[[Exception], tuple[grpc.StatusCode, str]]


def _env_error(e: Exception) -> tuple[grpc.StatusCode, str]:
    if isinstance(e, RpcError):
        return e.code, e.message
    _log.exception("EnvService call failed")
    err = RpcError(grpc.StatusCode.INTERNAL, f"{_qualname(e)}: {e}")
    return err.code, err.message


def _prior_error(e: Exception) -> tuple[grpc.StatusCode, str]:
    status = _status_of(e)
    return status.code, status.message


def encode_error(code: grpc.StatusCode, message: str) -> bytes:
    """The envelope of a failed call: the status code's number, then the UTF-8 message."""
    return bytes([code.value[0]]) + message.encode("utf-8")


def decode_reply(reply: bytes) -> tuple[int, bytes]:
    """Splits an envelope into (status code number, payload): for tests and Python clients."""
    if not reply:
        raise ValueError("empty Py4J bridge reply")
    return reply[0], bytes(reply[1:])


class Py4jBridgeService:
    """Answers ``org.rql4j.bridge.Py4jBridgeService.call`` with an EnvServicer and a PriorServicer.

    Register it as the ``python_server_entry_point`` of your own ``ClientServer`` to serve rql4j
    from a gateway you already run, or let :func:`serve_py4j` start one.
    """

    class Java:
        implements = [JAVA_INTERFACE]

    def __init__(self, env_servicer: EnvServicer | None = None, prior_servicer: PriorServicer | None = None) -> None:
        self.env_servicer = env_servicer or EnvServicer()
        self.prior_servicer = prior_servicer or PriorServicer()
        self._methods: dict[str, tuple[_Handler, type, _ErrorMapper]] = {}
        for file, service, servicer, errors in (
            (env_pb2.DESCRIPTOR, "EnvService", self.env_servicer, _env_error),
            (prior_pb2.DESCRIPTOR, "PriorService", self.prior_servicer, _prior_error),
        ):
            for method in file.services_by_name[service].methods:
                if method.client_streaming or method.server_streaming:
                    continue
                bound = getattr(type(servicer), method.name, None)
                if bound is None:  # in the proto, not (yet) in this servicer
                    continue
                handler = getattr(bound, "__wrapped__", bound)  # the servicer's logic, without grpc's context
                request_type = message_factory.GetMessageClass(method.input_type)
                self._methods[method.full_name.rsplit(".", 1)[0] + "/" + method.name] = (
                    _bind(handler, servicer),
                    request_type,
                    errors,
                )

    @property
    def methods(self) -> list[str]:
        """The full method names this service answers, e.g. ``rql4j.v1.EnvService/Step``."""
        return sorted(self._methods)

    def call(self, method: str, request: bytes | bytearray) -> bytes:
        """One unary call: never raises, a failure is an error envelope (see the module docstring)."""
        note_other_call()  # the step sockets of this process pause polling (rql4j_bridge.step_socket)
        entry = self._methods.get(method)
        if entry is None:
            return encode_error(
                grpc.StatusCode.UNIMPLEMENTED,
                f"this Py4J bridge does not serve {method!r} (it serves {', '.join(self.methods)}); "
                "is python-bridge older than the Java side?",
            )
        handler, request_type, errors = entry
        try:
            try:
                parsed = request_type.FromString(bytes(request))
            except Exception as e:  # google.protobuf.message.DecodeError
                raise RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"the request of {method} is not a {request_type.__name__} ({e})"
                ) from None
            response = handler(parsed)
            return bytes([OK]) + response.SerializeToString()
        except Exception as e:
            code, message = _env_error(e) if isinstance(e, RpcError) else errors(e)
            return encode_error(code, message)

    def close_all(self) -> None:
        """Closes every env and releases every prior (server shutdown)."""
        self.env_servicer.close_all()
        self.prior_servicer.release_all()


def _bind(handler: Callable[[Any, Any], Any], servicer: Any) -> _Handler:
    return lambda request: handler(servicer, request)


class _FastCallConnection(ClientServerConnection):
    """py4j's connection from Java, reading ``Py4jBridgeService.call(String, byte[])`` at C speed.

    py4j parses each argument through its generic converter chain and builds the reply the same
    way: about 15 µs of the ~60 µs a one-env CartPole step costs in Python. This reads the two
    arguments and writes the ``byte[]`` reply directly, in py4j's wire format (``s<escaped
    string>``, ``j<base64>``, then ``e``; reply ``!yj<base64>``). Any other call, to this object or
    another, and any other argument shape, goes through py4j's own code unchanged.
    """

    def _call_proxy(self, obj_id: str, input: Any) -> str:
        target = self.pool[obj_id] if obj_id in self.pool else None  # noqa: SIM401 (py4j's pool has no get)
        if not isinstance(target, Py4jBridgeService):
            return super()._call_proxy(obj_id, input)
        lines = [input.readline()]  # the method name, then the arguments up to "e"
        while lines[-1] not in (b"e\n", b""):
            lines.append(input.readline())
        if len(lines) == 4 and lines[0] == b"call\n" and lines[1][:1] == _STRING_ARG and lines[2][:1] == _BYTES_ARG:
            try:
                method = py4j.protocol.unescape_new_line(lines[1][1:-1].decode("utf-8"))
                request = base64.standard_b64decode(lines[2][1:-1])
            except ValueError:  # not UTF-8 or not base64: py4j's own path answers (with its error)
                return super()._call_proxy(obj_id, _Replay(lines))
            reply = target.call(method, request)  # never raises
            return "!yj" + base64.standard_b64encode(reply).decode("ascii") + "\n"
        return super()._call_proxy(obj_id, _Replay(lines))


class _Replay:
    """The lines of one command already read, as the stream py4j's own ``_call_proxy`` reads."""

    def __init__(self, lines: list[bytes]) -> None:
        self._lines = iter(lines)

    def readline(self) -> bytes:
        return next(self._lines, b"")


class _NoDelayPythonServer(_Py4jPythonServer):
    """py4j's server side of a ClientServer, with TCP_NODELAY on each connection from Java.

    Also listening before ``start`` returns: py4j binds in ``start`` but calls ``listen`` in its
    accept thread, so a client told the port at once could be refused.
    """

    def start(self) -> None:
        super().start()
        self.server_socket.listen(5)  # again in py4j's thread: listen on a listening socket is a no-op

    def _create_connection(self, socket_instance: socket.socket, stream: Any) -> Any:
        try:
            socket_instance.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not a TCP socket (never here); keep serving
            _log.warning("could not set TCP_NODELAY on a Py4J connection", exc_info=True)
        connection = _FastCallConnection(
            self.java_parameters, self.python_parameters, self.gateway_property, self.gateway_client, python_server=self
        )
        connection.init_socket_from_python_server(socket_instance, stream)
        return connection


class _NoDelayClientServer(ClientServer):
    """A ClientServer whose Python server sets TCP_NODELAY (py4j offers no option for it)."""

    def _create_callback_server(self, callback_server_parameters: Any) -> Any:
        return _NoDelayPythonServer(
            self._gateway_client, self.java_parameters, self.python_parameters, self.gateway_property
        )


def serve_py4j(
    host: str = "127.0.0.1",
    port: int = 0,
    auth_token: str | None = None,
    service: Py4jBridgeService | None = None,
) -> tuple[ClientServer, int]:
    """Starts a Py4J ClientServer whose entry point is ``service``; returns it with its port.

    ``port`` 0 picks a free port. ``auth_token`` None serves without authentication (only for
    trusted machines: anything that reaches the port can then run envs and load priors).
    Java connects with ``Py4jEnvClient.connect(host, port, token)``. Nothing here calls Java,
    so no Java gateway port is needed. Stop it with :func:`stop_py4j`, not ``ClientServer.shutdown()``
    (which would first try to shut down a Java gateway on py4j's default port, someone else's if any).
    """
    service = service or Py4jBridgeService()
    service.env_servicer.authenticated = auth_token is not None
    try:
        gateway = _NoDelayClientServer(
            java_parameters=JavaParameters(auth_token=auth_token, auto_convert=False),
            python_parameters=PythonParameters(
                address=host,
                port=port,
                auth_token=auth_token,
                daemonize=True,
                daemonize_connections=True,
                accept_timeout=0.5,  # how often the accept loop sees a shutdown (py4j's default: 5 s)
            ),
            python_server_entry_point=service,
        )
    except Exception as e:  # py4j.protocol.Py4JNetworkError when the port is taken
        raise OSError(f"cannot bind the rql4j Py4J bridge to {host}:{port}: {e}") from e
    return gateway, gateway.get_callback_server().get_listening_port()


def stop_py4j(gateway: ClientServer) -> None:
    """Stops serving: closes the listening socket and every connection from Java.

    Each connection's socket is shut down first: py4j closes a connection's buffered stream while
    its thread is blocked reading it, and that close waits for the read (that is, for Java to send
    or disconnect) because both hold the stream's lock. Shutting the socket down ends the read.
    """
    server = gateway.get_callback_server()
    for connection in list(getattr(server, "connections", ()) if server is not None else ()):
        sock = getattr(connection, "socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed by the peer
                sock.shutdown(socket.SHUT_RDWR)
    gateway.shutdown_callback_server()
