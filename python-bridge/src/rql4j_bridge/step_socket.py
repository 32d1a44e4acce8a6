"""The step socket: one env's lockstep steps over a plain TCP connection (``OpenStepSocket``).

grpcio's Python server spends ~300 us of CPU on every message, whatever its size (measured in
docs/benchmarks.md); a CartPole step costs ~6 us. The step socket keeps the gRPC contract's
messages (a serialized ``StepRequest`` in, a serialized ``StepSocketReply`` out) and drops
everything else: no HTTP/2, no completion queues, no thread hand-offs. Framing (the proto's
``OpenStepSocket`` comment is the contract): the client first sends the 16-byte token, then each
frame is a 4-byte big-endian length and that many bytes.

Bounds (issue 18): a frame header announcing more than ``max_frame_bytes`` closes the connection
before anything is allocated for it; a connection must send its token within ``auth_timeout_s``;
a connection that sends a wrong token (or none in time) is dropped and the listener keeps
listening for the client the token was given to, until ``accept_timeout_s`` after the socket was
opened. How many step sockets a server holds is bounded by ``EnvServicer`` (``serve
--max-step-sockets``).

One thread per socket serves its connection; the env's own lock serializes it with any gRPC
call on the same env, so the env rules (reset before step, DISABLED mode...) are the same.

A hand-written framing: a library (ZeroMQ, nng) would add a native dependency on both sides for
these ~100 lines, which is why there is none here.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable

__all__ = [
    "ACCEPT_TIMEOUT_S",
    "AUTH_TIMEOUT_S",
    "DEFAULT_SPIN_US",
    "MAX_FRAME_BYTES",
    "SPIN_PAUSE_S",
    "TOKEN_BYTES",
    "StepSocket",
    "default_spin_us",
    "note_other_call",
    "recv_exact",
]

_log = logging.getLogger(__name__)

TOKEN_BYTES = 16
ACCEPT_TIMEOUT_S = 30
AUTH_TIMEOUT_S = 2.0  # how long an accepted connection may take to send its token (the real client sends it at once)
# A frame holds one StepRequest: an action batch. 64 MiB is 8 M float64 actions, far above any env
# served here; `serve --max-step-frame-bytes` raises it (the gRPC server itself takes 256 MiB).
MAX_FRAME_BYTES = 64 * 1024 * 1024
DEFAULT_SPIN_US = 1000
_BACKLOG = 8  # connections queued while one is being checked for its token
_HEADER = struct.Struct(">I")
_INITIAL_BUFFER = 64 * 1024  # grown to the largest frame seen (at most max_frame_bytes)


# At most one step socket of a process polls at a time (the others block in their read): polling
# threads would take turns at Python's GIL and slow each other down.
_spin_lock = threading.Lock()
# When the process last served a call that did not come over a step socket (a gRPC or Py4J call,
# e.g. tree search's Restore between steps). While a step socket's thread polls it holds the GIL
# most of the time, so such a call can wait up to Python's switch interval (5 ms) for it; polling
# therefore pauses for SPIN_PAUSE_S after each such call.
_other_call_at = -1e9
SPIN_PAUSE_S = 1.0


def note_other_call() -> None:
    """Tells the step sockets of this process that a call came some other way: they stop polling for
    :data:`SPIN_PAUSE_S` (the servers' interceptors and the Py4J entry point call this)."""
    global _other_call_at
    _other_call_at = time.monotonic()


def default_spin_us() -> int:
    """How long a step socket polls for the next frame before it blocks, by default: 1000 us where
    this process may run on 2 or more cores, else 0 (polling on a single core would take it from the
    client that is about to send the frame)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return DEFAULT_SPIN_US if cores >= 2 else 0


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
    """Listens on ``host`` (a free port) and serves the first connection that sends the token with ``handle_frame``.

    ``handle_frame(payload) -> reply`` never raises for bad input: it answers with an error
    reply (see ``EnvServicer``). ``on_exit`` is called once when the serving thread ends.
    Connections with a wrong token (or none within ``auth_timeout_s``) are dropped and the socket
    keeps listening until ``accept_timeout_s`` after it was opened; a frame over ``max_frame_bytes``
    closes the connection.
    """

    def __init__(
        self,
        host: str,
        handle_frame: Callable[[bytes], bytes],
        name: str,
        on_exit: Callable[[StepSocket], None] | None = None,
        accept_timeout_s: float = ACCEPT_TIMEOUT_S,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        auth_timeout_s: float = AUTH_TIMEOUT_S,
        spin_us: int | None = None,
    ) -> None:
        if max_frame_bytes < 0 or auth_timeout_s <= 0 or (spin_us is not None and spin_us < 0):
            raise ValueError(
                f"max_frame_bytes and spin_us must be >= 0 and auth_timeout_s > 0, got {max_frame_bytes}, {spin_us} "
                f"and {auth_timeout_s}"
            )
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # a wildcard IPv6 bind ("::") serves IPv4 clients too, as grpcio's does
        dualstack = family == socket.AF_INET6 and host.strip("[]") in ("::", "::0") and socket.has_dualstack_ipv6()
        self._listener = socket.create_server((host, 0), family=family, backlog=_BACKLOG, dualstack_ipv6=dualstack)
        self._listener.settimeout(accept_timeout_s)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self.token = secrets.token_bytes(TOKEN_BYTES)
        self.accept_timeout_s = accept_timeout_s
        self.max_frame_bytes = max_frame_bytes
        self.auth_timeout_s = auth_timeout_s
        self.spin_s = (default_spin_us() if spin_us is None else spin_us) / 1e6
        self._deadline = time.monotonic() + accept_timeout_s
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
        """The first connection that sends the token; None when none did within ``accept_timeout_s``.

        A connection that sends anything else, or nothing within ``auth_timeout_s``, is dropped and
        the listener keeps listening: a stray or hostile peer cannot use up the real client's socket."""
        try:
            while not self._closed.is_set():
                left = self._deadline - time.monotonic()
                if left <= 0:
                    break
                self._listener.settimeout(left)
                try:
                    conn, peer = self._listener.accept()
                except TimeoutError:
                    break
                self._conn = conn
                if self._closed.is_set():  # close() ran while accept returned: it may have missed conn
                    conn.close()
                    return None
                if self._authenticated(conn):
                    conn.settimeout(None)
                    return conn
                if self._closed.is_set():  # close() ended the check (it closes the connection too)
                    return None
                _log.warning(
                    "step socket %s: a connection from %s did not send the right token (within %s s); dropped it "
                    "and kept listening",
                    self._name,
                    peer,
                    self.auth_timeout_s,
                )
                self._conn = None
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)  # the peer sees the end of the stream, as from close()
                conn.close()
            if not self._closed.is_set():
                _log.warning(
                    "step socket %s: no connection with the right token within %s s; stopped listening",
                    self._name,
                    self.accept_timeout_s,
                )
            return None
        finally:
            self._listener.close()

    def _authenticated(self, conn: socket.socket) -> bool:
        """Whether ``conn`` sends the token within ``auth_timeout_s`` (never past the accept deadline by much)."""
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # a peer that never sends its token holds neither the thread nor the listener for long
        conn.settimeout(min(self.auth_timeout_s, max(self._deadline - time.monotonic(), 0.1)))
        try:
            token = recv_exact(conn, TOKEN_BYTES)
        except (TimeoutError, ConnectionError):
            return False
        return token is not None and hmac.compare_digest(bytes(token), self.token)

    def _recv_into(self, conn: socket.socket, view: memoryview) -> int:
        """``conn.recv_into(view)``, first polling without blocking for up to ``spin_s``.

        A thread that blocks in recv is put to sleep and must be woken and scheduled again when the
        next frame arrives, which costs more than the env step itself on small envs (docs/benchmarks.md,
        "Where a training step goes"); polling keeps it running through the client's short gaps
        between steps, on a core the client is not using."""
        if self.spin_s > 0 and time.monotonic() - _other_call_at > SPIN_PAUSE_S and _spin_lock.acquire(False):
            try:
                deadline = time.perf_counter() + self.spin_s
                seen = _other_call_at
                while True:
                    try:
                        return conn.recv_into(view, 0, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        if time.perf_counter() >= deadline or _other_call_at != seen:
                            break
            finally:
                _spin_lock.release()
        return conn.recv_into(view)

    def _serve(self, conn: socket.socket) -> None:
        # Frames are read into one reused buffer, header and payload with one recv when they
        # arrive together (the client writes them in one go).
        buf = bytearray(_INITIAL_BUFFER)
        view = memoryview(buf)
        have = 0  # bytes received and not yet served
        while not self._closed.is_set():
            while have < _HEADER.size:
                k = self._recv_into(conn, view[have:])
                if k == 0:
                    if have == 0:
                        return  # the client closed the connection between frames: the normal end
                    raise ConnectionError(f"connection closed after {have} of {_HEADER.size} header bytes")
                have += k
            (n,) = _HEADER.unpack_from(buf, 0)
            if n > self.max_frame_bytes:  # refused before a byte of it is allocated or read
                _log.warning(
                    "step socket %s: a frame of %d bytes exceeds the limit of %d (serve --max-step-frame-bytes); "
                    "closed the connection",
                    self._name,
                    n,
                    self.max_frame_bytes,
                )
                return
            end = _HEADER.size + n
            if end > len(buf):
                grown = bytearray(end)
                grown[:have] = view[:have]
                view.release()
                buf, view = grown, memoryview(grown)
            while have < end:
                k = conn.recv_into(view[have:])
                if k == 0:
                    raise ConnectionError(f"connection closed before a frame's {n} bytes")
                have += k
            reply = self._handle_frame(bytes(view[_HEADER.size : end]))
            conn.sendall(_HEADER.pack(len(reply)) + reply)
            # a lockstep client sends nothing more before the reply, but keep what it did send
            have -= end
            if have:
                view[:have] = bytes(view[end : end + have])
