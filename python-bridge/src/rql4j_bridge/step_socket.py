"""The step socket: one env's lockstep steps over a plain TCP connection (``OpenStepSocket``).

grpcio's Python server spends ~300 us of CPU on every message, whatever its size (measured in
docs/benchmarks.md); a CartPole step costs ~6 us. The step socket keeps the gRPC contract's
messages (a serialized ``StepRequest`` in, a serialized ``StepSocketReply`` out) and drops
everything else: no HTTP/2, no completion queues, no thread hand-offs. Framing (the proto's
``OpenStepSocket`` comment is the contract): the client first sends the 16-byte token, then each
frame is a 4-byte big-endian length and that many bytes.

One thread per socket serves its connection; the env's own lock serializes it with any gRPC
call on the same env, so the env rules (reset before step, DISABLED mode...) are the same.

A hand-written framing: a library (ZeroMQ, nng) would add a native dependency on both sides for
these ~100 lines, which is why there is none here.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import socket
import struct
import threading
from collections.abc import Callable

__all__ = ["ACCEPT_TIMEOUT_S", "MAX_FRAME_BYTES", "TOKEN_BYTES", "StepSocket", "recv_exact"]

_log = logging.getLogger(__name__)

TOKEN_BYTES = 16
ACCEPT_TIMEOUT_S = 30
MAX_FRAME_BYTES = 256 * 1024 * 1024  # as the gRPC server's max_receive_message_length
_HEADER = struct.Struct(">I")


def recv_exact(conn: socket.socket, n: int) -> bytearray | None:
    """Exactly ``n`` bytes from ``conn``; None when the peer closed before the first byte.

    Raises ConnectionError when it closes in the middle."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = conn.recv_into(view[got:], n - got)
        if k == 0:
            if got == 0:
                return None
            raise ConnectionError(f"connection closed after {got} of {n} bytes")
        got += k
    return buf


class StepSocket:
    """Listens once on ``host`` (a free port) and serves one connection with ``handle_frame``.

    ``handle_frame(payload) -> reply`` never raises for bad input: it answers with an error
    reply (see ``EnvServicer``). ``on_exit`` is called once when the serving thread ends.
    """

    def __init__(
        self,
        host: str,
        handle_frame: Callable[[bytes], bytes],
        name: str,
        on_exit: Callable[[StepSocket], None] | None = None,
        accept_timeout_s: float = ACCEPT_TIMEOUT_S,
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # a wildcard IPv6 bind ("::") serves IPv4 clients too, as grpcio's does
        dualstack = family == socket.AF_INET6 and host.strip("[]") in ("::", "::0") and socket.has_dualstack_ipv6()
        self._listener = socket.create_server((host, 0), family=family, backlog=1, dualstack_ipv6=dualstack)
        self._listener.settimeout(accept_timeout_s)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self.token = secrets.token_bytes(TOKEN_BYTES)
        self.accept_timeout_s = accept_timeout_s
        self._handle_frame = handle_frame
        self._name = name
        self._on_exit = on_exit
        self._conn: socket.socket | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rql4j-step-socket-{name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stops serving: closes the listener and the connection (the thread then ends)."""
        self._closed.set()
        for s in (self._listener, self._conn):
            if s is None:
                continue
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            conn = self._accept()
            if conn is not None:
                self._serve(conn)
        except OSError as e:
            if not self._closed.is_set():
                _log.warning("step socket %s ended: %s", self._name, e)
        finally:
            self.close()
            if self._on_exit is not None:
                self._on_exit(self)

    def _accept(self) -> socket.socket | None:
        try:
            conn, _ = self._listener.accept()
        except TimeoutError:
            _log.warning(
                "step socket %s: no connection within %s s; stopped listening", self._name, self.accept_timeout_s
            )
            return None
        finally:
            self._listener.close()
        self._conn = conn
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(self.accept_timeout_s)  # a peer that never sends its token cannot hold the thread
        try:
            token = recv_exact(conn, TOKEN_BYTES)
        except (TimeoutError, ConnectionError):
            token = None
        if token is None or not hmac.compare_digest(bytes(token), self.token):
            _log.warning("step socket %s: a connection did not send the right token; dropped", self._name)
            return None
        conn.settimeout(None)
        return conn

    def _serve(self, conn: socket.socket) -> None:
        while not self._closed.is_set():
            header = recv_exact(conn, _HEADER.size)
            if header is None:
                return  # the client closed the connection between frames: the normal end
            (n,) = _HEADER.unpack(header)
            if n > MAX_FRAME_BYTES:
                _log.warning(
                    "step socket %s: frame of %d bytes exceeds %d; dropped the connection",
                    self._name,
                    n,
                    MAX_FRAME_BYTES,
                )
                return
            payload = recv_exact(conn, n) if n else bytearray()
            if payload is None:
                raise ConnectionError(f"connection closed before a frame's {n} bytes")
            reply = self._handle_frame(bytes(payload))
            conn.sendall(_HEADER.pack(len(reply)) + reply)
