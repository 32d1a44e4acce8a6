"""The step socket (``OpenStepSocket``): same answers as Step, its own framing, its own failures."""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

import numpy as np
import pytest
from bridge_helpers import make, reset, step
from gymnasium import spaces

import rql4j_bridge.step_socket as step_socket_module
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.step_socket import DEFAULT_SPIN_US, MAX_FRAME_BYTES, StepSocket, default_spin_us, recv_exact
from rql4j_bridge.tensors import to_value

INVALID, PRECONDITION, NOT_FOUND = 3, 9, 5


class Client:
    """A minimal step-socket client (the Java one is org.rql4j.bridge.StepSocketChannel)."""

    def __init__(self, opened: pb.OpenStepSocketResponse, token: bytes | None = None) -> None:
        self.conn = socket.create_connection((opened.host, opened.port), timeout=10)
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn.sendall(opened.token if token is None else token)

    def send(self, payload: bytes) -> None:
        self.conn.sendall(struct.pack(">I", len(payload)) + payload)

    def receive(self) -> pb.StepSocketReply | None:
        header = recv_exact(self.conn, 4)
        if header is None:
            return None
        data = recv_exact(self.conn, struct.unpack(">I", header)[0])
        assert data is not None
        return pb.StepSocketReply.FromString(bytes(data))

    def step(self, handle: str, action: Any) -> pb.StepSocketReply:
        self.send(pb.StepRequest(env_handle=handle, action=to_value(action, spaces.Discrete(2))).SerializeToString())
        reply = self.receive()
        assert reply is not None
        return reply

    def close(self) -> None:
        self.conn.close()


def test_socket_steps_equal_unary_steps(stub: Any) -> None:
    unary = make(stub, "CartPole-v1", num_envs=4).env_handle
    sock = make(stub, "CartPole-v1", num_envs=4).env_handle
    reset(stub, unary, seeds=[21])
    reset(stub, sock, seeds=[21])
    opened = stub.OpenStepSocket(pb.OpenStepSocketRequest(env_handle=sock))
    assert opened.host == "127.0.0.1" and opened.port > 0 and len(opened.token) == 16
    client = Client(opened)
    rng = np.random.default_rng(0)
    ended = 0
    for i in range(300):
        action = rng.integers(0, 2, size=4)
        expected = step(stub, unary, action, spaces.Discrete(2))
        got = client.step(sock if i % 2 else "", action)  # the handle may be left empty
        assert got.WhichOneof("body") == "response"
        assert got.response == expected
        ended += expected.HasField("final_observation")
    assert ended > 0  # the run crossed autoresets
    client.close()


def test_errors_are_replies_and_the_socket_stays_open(stub: Any) -> None:
    handle = make(stub, "CartPole-v1", num_envs=2).env_handle
    client = Client(stub.OpenStepSocket(pb.OpenStepSocketRequest(env_handle=handle)))
    reply = client.step(handle, np.array([0, 1]))
    assert reply.error.code == PRECONDITION and "call Reset first" in reply.error.message
    reset(stub, handle, seeds=[1])
    reply = client.step(handle, np.array([0, 7]))
    assert reply.error.code == INVALID and "copy 1" in reply.error.message and "Discrete(2)" in reply.error.message
    other = make(stub, "CartPole-v1", num_envs=2).env_handle
    reply = client.step(other, np.array([0, 1]))
    assert reply.error.code == INVALID and "belongs to" in reply.error.message
    client.send(b"\xff\xff\xff")  # not a StepRequest
    reply = client.receive()
    assert reply is not None and reply.error.code == INVALID and "not a StepRequest" in reply.error.message
    assert client.step(handle, np.array([1, 1])).WhichOneof("body") == "response"
    client.close()


def test_close_of_the_env_closes_its_socket(stub: Any) -> None:
    handle = make(stub, "CartPole-v1", num_envs=1).env_handle
    reset(stub, handle, seeds=[1])
    client = Client(stub.OpenStepSocket(pb.OpenStepSocketRequest(env_handle=handle)))
    assert client.step(handle, np.array([0])).WhichOneof("body") == "response"
    stub.Close(pb.CloseRequest(env_handle=handle))
    client.conn.settimeout(10)
    assert client.receive() is None  # the server closed the connection
    client.close()


def test_a_wrong_token_is_dropped(stub: Any) -> None:
    handle = make(stub, "CartPole-v1", num_envs=1).env_handle
    opened = stub.OpenStepSocket(pb.OpenStepSocketRequest(env_handle=handle))
    client = Client(opened, token=bytes(16))
    client.send(b"")
    assert client.receive() is None
    client.close()
    client = Client(opened)  # the listener is still there for the client the token was given to
    reply = client.step(handle, np.array([0]))
    assert reply.error.code == PRECONDITION and "call Reset first" in reply.error.message
    client.close()


def test_unknown_handle(stub: Any) -> None:
    from bridge_helpers import rpc_error

    error = rpc_error(stub.OpenStepSocket, pb.OpenStepSocketRequest(env_handle="nope"))
    assert error.code().value[0] == NOT_FOUND


def test_unused_socket_stops_listening() -> None:
    exited: list[StepSocket] = []
    sock = StepSocket("127.0.0.1", lambda b: b, "t", on_exit=exited.append, accept_timeout_s=0.2)
    sock.join(5)
    assert exited == [sock]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", sock.port), timeout=2)


def test_oversized_frame_drops_the_connection() -> None:
    sock = StepSocket("127.0.0.1", lambda b: b, "t")
    conn = socket.create_connection(("127.0.0.1", sock.port), timeout=10)
    conn.sendall(sock.token + struct.pack(">I", MAX_FRAME_BYTES + 1))
    assert recv_exact(conn, 4) is None
    conn.close()
    sock.join(5)


def test_echo_framing_handles_large_frames() -> None:
    sock = StepSocket("127.0.0.1", lambda b: b[::-1], "t")
    conn = socket.create_connection(("127.0.0.1", sock.port), timeout=10)
    conn.sendall(sock.token)
    payload = bytes(range(256)) * 40_000  # ~10 MB, many recv calls
    conn.sendall(struct.pack(">I", len(payload)) + payload)
    (n,) = struct.unpack(">I", recv_exact(conn, 4) or b"")
    assert n == len(payload)
    assert recv_exact(conn, n) == payload[::-1]
    conn.close()
    sock.join(5)


def test_a_peer_that_never_sends_its_token_is_dropped() -> None:
    exited: list[StepSocket] = []
    sock = StepSocket("127.0.0.1", lambda b: b, "t", on_exit=exited.append, accept_timeout_s=0.3)
    conn = socket.create_connection(("127.0.0.1", sock.port), timeout=10)
    conn.sendall(b"abc")  # 3 of 16 token bytes, then silence
    sock.join(10)
    assert exited == [sock]
    assert recv_exact(conn, 1) is None  # the server closed the connection
    conn.close()


def _frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def _reply(conn: socket.socket) -> bytes:
    (n,) = struct.unpack(">I", recv_exact(conn, 4) or b"")
    return bytes(recv_exact(conn, n) or b"") if n else b""


@pytest.mark.parametrize("spin_us", [0, 50, 5000])
def test_frames_in_pieces_together_and_growing(spin_us: int) -> None:
    """Whether the server polls (spin_us > 0) or blocks, and however the frames' bytes arrive: split
    headers, frames sent together, an empty frame, a frame larger than the reused buffer."""
    sock = StepSocket("127.0.0.1", lambda b: b"<" + b[::-1] + b">", "t", spin_us=spin_us)
    assert sock.spin_s == spin_us / 1e6
    conn = socket.create_connection(("127.0.0.1", sock.port), timeout=10)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.sendall(sock.token)
    # a header in two pieces, the second after the server's poll has given up
    frame = _frame(b"abc")
    conn.sendall(frame[:2])
    time.sleep(0.02)
    conn.sendall(frame[2:5])
    time.sleep(0.02)
    conn.sendall(frame[5:])
    assert _reply(conn) == b"<cba>"
    # three frames in one write: answered in order, none lost
    conn.sendall(_frame(b"one") + _frame(b"") + _frame(b"three"))
    assert [_reply(conn) for _ in range(3)] == [b"<eno>", b"<>", b"<eerht>"]
    # larger than the initial 64 KiB buffer, then small again
    big = bytes(range(256)) * 1000
    conn.sendall(_frame(big))
    assert _reply(conn) == b"<" + big[::-1] + b">"
    conn.sendall(_frame(b"xy"))
    assert _reply(conn) == b"<yx>"
    conn.close()
    sock.join(5)


def test_a_peer_closing_in_a_header_ends_the_socket() -> None:
    exited: list[StepSocket] = []
    sock = StepSocket("127.0.0.1", lambda b: b, "t", on_exit=exited.append, spin_us=100)
    conn = socket.create_connection(("127.0.0.1", sock.port), timeout=10)
    conn.sendall(sock.token + b"\x00\x00")
    conn.close()
    sock.join(5)
    assert exited == [sock]


def test_spin_default_follows_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(step_socket_module.os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert default_spin_us() == 0
    monkeypatch.setattr(step_socket_module.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert default_spin_us() == DEFAULT_SPIN_US
    with pytest.raises(ValueError, match="spin_us"):
        StepSocket("127.0.0.1", lambda b: b, "t", spin_us=-1)


def test_serve_passes_its_spin_option_to_the_servicer() -> None:
    from rql4j_bridge.cli import build_parser, servicer_backend
    from rql4j_bridge.env_server import EnvServicer

    for argv, want in (
        (["serve"], None),
        (["serve", "--step-socket-spin-us", "0"], 0),
        (["serve-py4j", "--step-socket-spin-us", "250"], 250),
    ):
        backend = servicer_backend(build_parser().parse_args(argv))
        assert backend["step_socket_spin_us"] == want
        assert EnvServicer(**backend).step_socket_spin_us == want
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--step-socket-spin-us", "-1"])
