"""The Py4J transport's Python side: generic dispatch, the reply envelope, auth and TCP_NODELAY.

The Java side (org.rql4j.bridge.Py4jEnvClient) is tested in the Java ITs; here a minimal client
speaks py4j's text protocol on a raw socket, as Java's PythonClient does.
"""

from __future__ import annotations

import base64
import io
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from py4j import protocol
from py4j.clientserver import ClientServer, ClientServerConnection, PythonParameters

from rql4j_bridge.cli import PORT_LINE_PREFIX
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import prior_pb2 as ppb
from rql4j_bridge.py4j_server import (
    Py4jBridgeService,
    _decode_bytearray,
    _FastCallConnection,
    decode_reply,
    serve_py4j,
    stop_py4j,
)
from rql4j_bridge.tensors import to_value

OK, INVALID, NOT_FOUND, PRECONDITION, UNIMPLEMENTED = 0, 3, 5, 9, 12
TOKEN = "test-token-0123456789"


def call(service: Py4jBridgeService, method: str, request: bytes) -> tuple[int, bytes]:
    return decode_reply(service.call(method, request))


@pytest.fixture()
def service() -> Iterator[Py4jBridgeService]:
    s = Py4jBridgeService()
    yield s
    s.close_all()


def make_cartpole(service: Py4jBridgeService, n: int = 2) -> str:
    code, body = call(
        service, "rql4j.v1.EnvService/Make", pb.MakeRequest(env_id="CartPole-v1", num_envs=n).SerializeToString()
    )
    assert code == OK, body
    return pb.MakeResponse.FromString(body).env_handle


def test_dispatches_every_unary_method_of_both_services(service: Py4jBridgeService) -> None:
    expected = {
        f"rql4j.v1.{svc.name}/{m.name}"
        for file, name in ((pb.DESCRIPTOR, "EnvService"), (ppb.DESCRIPTOR, "PriorService"))
        for svc in [file.services_by_name[name]]
        for m in svc.methods
        if not m.client_streaming and not m.server_streaming
    }
    assert set(service.methods) == expected
    assert "rql4j.v1.EnvService/StepStream" not in service.methods


def test_make_reset_step_match_the_servicer(service: Py4jBridgeService) -> None:
    handle = make_cartpole(service, 2)
    code, body = call(
        service, "rql4j.v1.EnvService/Reset", pb.ResetRequest(env_handle=handle, seeds=[5]).SerializeToString()
    )
    assert code == OK
    reset = pb.ResetResponse.FromString(body)
    assert list(reset.observation.tensor.shape) == [2, 4]
    action = to_value(np.array([0, 1], dtype=np.int64))
    code, body = call(
        service, "rql4j.v1.EnvService/Step", pb.StepRequest(env_handle=handle, action=action).SerializeToString()
    )
    assert code == OK
    stepped = pb.StepResponse.FromString(body)
    assert np.frombuffer(stepped.reward.data, "<f8").tolist() == [1.0, 1.0]
    code, _ = call(service, "rql4j.v1.EnvService/Close", pb.CloseRequest(env_handle=handle).SerializeToString())
    assert code == OK
    assert service.env_servicer.open_envs == 0


def test_errors_carry_the_grpc_status_and_message(service: Py4jBridgeService) -> None:
    code, body = call(service, "rql4j.v1.EnvService/Make", pb.MakeRequest(env_id="NoSuchEnv-v0").SerializeToString())
    assert code == NOT_FOUND and b"NoSuchEnv" in body
    handle = make_cartpole(service, 1)
    action = to_value(np.array([0], dtype=np.int64))
    code, body = call(
        service, "rql4j.v1.EnvService/Step", pb.StepRequest(env_handle=handle, action=action).SerializeToString()
    )
    assert code == PRECONDITION and b"Reset" in body
    code, body = call(service, "rql4j.v1.EnvService/Step", b"\xff\xff\xff")
    assert code == INVALID and b"StepRequest" in body
    code, body = call(
        service, "rql4j.v1.PriorService/LogProbsAll", ppb.PriorQuery(prior_handle="nope").SerializeToString()
    )
    assert code == NOT_FOUND and b"unknown prior handle" in body
    code, body = call(service, "rql4j.v1.EnvService/Teleport", b"")
    assert code == UNIMPLEMENTED and b"Teleport" in body


def test_a_method_added_to_the_servicer_passes_through_without_change() -> None:
    class Extended(Py4jBridgeService.__init__.__globals__["EnvServicer"]):  # type: ignore[misc]
        pass

    servicer = Extended()
    # GetServerInfo stands in for any unary method: the table is built from the descriptor.
    service = Py4jBridgeService(servicer)
    code, body = call(service, "rql4j.v1.EnvService/GetServerInfo", b"")
    assert code == OK and pb.ServerInfoResponse.FromString(body).protocol == "rql4j.v1"


# -- over a socket ----------------------------------------------------------------------------


class RawPy4jClient:
    """Java's side of py4j's protocol, minimal: auth, then calls on the entry point ``t``."""

    def __init__(self, port: int, token: str | None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = self.sock.makefile("rb")
        if token is not None:
            self.sock.sendall(f"A\n{token}\ne\n".encode())
            self.auth_answer = self.stream.readline().decode()

    def call(self, method: str, request: bytes) -> str:
        payload = base64.b64encode(request).decode()
        self.sock.sendall(f"c\nt\ncall\ns{method}\nj{payload}\ne\n".encode())
        return self.stream.readline().decode().rstrip("\n")


@pytest.fixture()
def gateway() -> Iterator[tuple[ClientServer, int]]:
    gw, port = serve_py4j("127.0.0.1", 0, TOKEN)
    yield gw, port
    stop_py4j(gw)


def test_serves_calls_over_py4j_with_the_token(gateway: tuple[ClientServer, int]) -> None:
    _, port = gateway
    client = RawPy4jClient(port, TOKEN)
    assert client.auth_answer == "!yv\n"
    answer = client.call("rql4j.v1.EnvService/GetServerInfo", b"")
    assert answer.startswith("!yj"), answer  # success, a byte array
    code, body = decode_reply(base64.b64decode(answer[3:]))
    assert code == OK and pb.ServerInfoResponse.FromString(body).protocol == "rql4j.v1"


def test_wrong_token_is_refused(gateway: tuple[ClientServer, int]) -> None:
    _, port = gateway
    client = RawPy4jClient(port, "wrong")
    assert client.auth_answer.startswith("!x")
    client.sock.settimeout(5)
    try:
        client.sock.sendall(b"c\nt\ncall\nsrql4j.v1.EnvService/GetServerInfo\nj\ne\n")
        assert client.stream.readline() == b""  # the server closed the connection
    except (ConnectionError, OSError):
        pass


def test_no_token_is_refused(gateway: tuple[ClientServer, int]) -> None:
    _, port = gateway
    client = RawPy4jClient(port, None)
    client.sock.settimeout(5)
    try:
        client.sock.sendall(b"c\nt\ncall\nsrql4j.v1.EnvService/GetServerInfo\nj\ne\n")
        answer = client.stream.readline()
    except (ConnectionError, OSError):
        answer = b""  # reset by the server
    assert not answer.startswith(b"!y"), answer


def test_accepted_connections_have_tcp_nodelay(gateway: tuple[ClientServer, int]) -> None:
    gw, port = gateway
    client = RawPy4jClient(port, TOKEN)
    client.call("rql4j.v1.EnvService/GetServerInfo", b"")
    connections = list(gw.get_callback_server().connections)
    assert connections, "the server kept no connection"
    assert all(c.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for c in connections)


def test_binds_loopback_by_default(gateway: tuple[ClientServer, int]) -> None:
    gw, _ = gateway
    assert gw.get_callback_server().get_listening_address() == "127.0.0.1"


# -- the command ------------------------------------------------------------------------------


def _serve_py4j(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rql4j_bridge", "serve-py4j", "--port", "0", "--exit-on-stdin-eof", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_command_takes_the_token_from_the_environment() -> None:
    env = {**os.environ, "RQL4J_BRIDGE_TOKEN": TOKEN, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = _serve_py4j(env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(PORT_LINE_PREFIX), line
        port = int(line[len(PORT_LINE_PREFIX) :])
        client = RawPy4jClient(port, TOKEN)
        assert client.auth_answer == "!yv\n"
        assert client.call("rql4j.v1.EnvService/GetServerInfo", b"").startswith("!yj")
        assert proc.stdin is not None
        proc.stdin.close()  # --exit-on-stdin-eof
        assert proc.wait(4) == 0  # a clean stop, not the 5 s hard exit
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert "serving" in err  # our own INFO lines stay
        assert "Received command" not in err, "py4j must not log every call at INFO (one line per env step)"
    finally:
        proc.kill()


def test_command_without_a_token_refuses_to_start() -> None:
    env = {k: v for k, v in os.environ.items() if k != "RQL4J_BRIDGE_TOKEN"}
    env["PYTHONPATH"] = str(Path(__file__).parents[1] / "src")
    proc = _serve_py4j(env)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "RQL4J_BRIDGE_TOKEN" in err and "--no-auth" in err


def test_byte_arrays_from_java_decode_as_py4j_would() -> None:
    """The faster decoder installed by py4j_server gives py4j's own result, for any bytes."""
    rng = random.Random(0)
    assert protocol.decode_bytearray is _decode_bytearray
    for n in (0, 1, 2, 3, 60, 4096):
        raw = bytes(rng.randrange(256) for _ in range(n))
        encoded = base64.standard_b64encode(raw).decode("ascii")
        expected = bytearray([b for b in base64.standard_b64decode(encoded.encode("ascii"))])  # py4j's own loop
        assert protocol.decode_bytearray(encoded) == expected
        assert protocol.OUTPUT_CONVERTER[protocol.BYTES_TYPE](encoded, None) == expected


def _connection(kind: type, pool: dict) -> ClientServerConnection:
    """A connection object without sockets: enough for ``_call_proxy``."""
    c = object.__new__(kind)
    c.pool, c.java_client, c.python_parameters = pool, None, PythonParameters()
    c.socket = c.stream = None  # what __del__ (close) looks at
    return c


def _proxy_reply(kind: type, pool: dict, obj_id: str, *parts: str) -> str:
    """What a connection answers to ``c``/``obj_id`` followed by ``parts`` (py4j's wire lines)."""
    stream = io.BufferedReader(io.BytesIO("".join(parts).encode("utf-8")))
    return _connection(kind, pool)._call_proxy(obj_id, stream)


def _call_command(method: str, request: bytes | str) -> tuple[str, ...]:
    """The lines of ``call(method, request)``: ``request`` bytes, or a raw argument line."""
    arg = protocol.get_command_part(request) if isinstance(request, bytes) else request
    return ("call\n", protocol.get_command_part(method), arg, "e\n")


def _last_line(reply: str) -> str:
    """The last line of a py4j reply's (escaped) text: an error's exception line."""
    return [line for line in reply.rstrip("\n").split("\\n") if line][-1]


class _Other:
    def twice(self, x: str) -> str:
        return x + x


def test_fast_call_path_replies_exactly_as_py4js_own(
    service: Py4jBridgeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command shape gives py4j's own reply (byte for byte, or the same error); only call() is fast."""
    handle = make_cartpole(service, n=1)
    pool = {"t": service, "o1": _Other()}
    step, info = "rql4j.v1.EnvService/Step", "rql4j.v1.EnvService/GetServerInfo"
    # a step through the fast path answers with the servicer's StepResponse, without py4j's converters
    with monkeypatch.context() as m:
        m.setattr("py4j.clientserver.get_return_value", None)
        m.setattr("py4j.clientserver.get_command_part", None)
        fast_only = _proxy_reply(
            _FastCallConnection, pool, "t", *_call_command("rql4j.v1.EnvService/GetServerInfo", b"")
        )
    assert fast_only.startswith("!yj"), fast_only
    service.call("rql4j.v1.EnvService/Reset", pb.ResetRequest(env_handle=handle, seeds=[0]).SerializeToString())
    action = pb.StepRequest(env_handle=handle, action=to_value(np.array([1], dtype=np.int64))).SerializeToString()
    fast = _proxy_reply(_FastCallConnection, pool, "t", *_call_command(step, action))
    assert fast.startswith("!yj") and fast.endswith("\n")
    code, body = decode_reply(base64.b64decode(fast[3:-1]))
    assert code == OK and len(pb.StepResponse.FromString(body).reward.data) == 8
    cases = [
        ("t", *_call_command(info, b"")),
        ("t", *_call_command("no/such\nmethod\\x", b"\x00\xff")),  # escaped characters in the name
        ("t", *_call_command(step, b"\x01garbage")),  # not a StepRequest
        ("t", *_call_command(step, "n\n")),  # a null byte[]
        ("t", *_call_command(step, "j!!not-base64\n")),
        ("t", "close_all\n", "e\n"),  # another method of the service (it closes the env)
        ("o1", "twice\n", protocol.get_command_part("ab"), "e\n"),  # another object
        ("missing", "call\n", "e\n"),
    ]
    for obj_id, *parts in cases:
        fast = _proxy_reply(_FastCallConnection, pool, obj_id, *parts)
        own = _proxy_reply(ClientServerConnection, pool, obj_id, *parts)
        if own.startswith("!x"):  # py4j's error: a traceback, whose frames differ; its last line must not
            assert fast.startswith("!x") and _last_line(fast) == _last_line(own), (fast, own)
        else:
            assert fast == own, (obj_id, parts)
