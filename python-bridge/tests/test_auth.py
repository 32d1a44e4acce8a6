"""Authentication of the bridge's ports: every gRPC call needs the per-launch secret."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from rql4j_bridge import PROTOCOL_REVISION
from rql4j_bridge.auth import METADATA_KEY, AuthError, is_loopback, read_token, token_matches
from rql4j_bridge.env_server import EnvServicer, serve, serve_aio
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc
from rql4j_bridge.proto.rql4j.v1 import prior_pb2 as prior_pb
from rql4j_bridge.proto.rql4j.v1 import prior_pb2_grpc as prior_pb_grpc
from rql4j_bridge.tensors import to_value

TOKEN = "secret-0123456789abcdef-launch"
GOOD = ((METADATA_KEY, TOKEN),)
BAD = ((METADATA_KEY, TOKEN[:-1] + "X"),)


@pytest.fixture(scope="module", params=["threads", "aio"])
def auth_port(request: pytest.FixtureRequest) -> Iterator[int]:
    servicer = EnvServicer()
    if request.param == "threads":
        server, port = serve("127.0.0.1", 0, max_workers=8, servicer=servicer, auth_token=TOKEN)
        yield port
        server.stop(grace=None).wait()
    else:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        server, port = asyncio.run_coroutine_threadsafe(
            serve_aio("127.0.0.1", 0, servicer, auth_token=TOKEN), loop
        ).result(10)
        yield port
        asyncio.run_coroutine_threadsafe(server.stop(None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    servicer.close_all()


def _code(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as e:
        call()
    return e.value.code()


def test_every_kind_of_call_without_the_token_is_refused(auth_port: int) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{auth_port}") as channel:
        env = pb_grpc.EnvServiceStub(channel)
        prior = prior_pb_grpc.PriorServiceStub(channel)
        for metadata in (None, BAD, (("x-other", TOKEN),)):
            assert _code(lambda: env.GetServerInfo(pb.ServerInfoRequest(), timeout=10, metadata=metadata)) == (
                grpc.StatusCode.UNAUTHENTICATED
            )
            assert _code(lambda: env.Make(pb.MakeRequest(env_id="CartPole-v1"), timeout=10, metadata=metadata)) == (
                grpc.StatusCode.UNAUTHENTICATED
            )
            assert _code(
                lambda: env.OpenStepSocket(pb.OpenStepSocketRequest(env_handle="x"), timeout=10, metadata=metadata)
            ) == grpc.StatusCode.UNAUTHENTICATED
            # a streaming call, and the prior service on the same port
            assert _code(
                lambda: list(env.StepStream(iter([pb.StepRequest(env_handle="x")]), timeout=10, metadata=metadata))
            ) == grpc.StatusCode.UNAUTHENTICATED
            assert _code(
                lambda: prior.LoadPrior(prior_pb.LoadPriorRequest(), timeout=10,
                                        metadata=metadata)
            ) == grpc.StatusCode.UNAUTHENTICATED  # fmt: skip
        assert env.GetServerInfo(pb.ServerInfoRequest(), timeout=10, metadata=GOOD).open_envs == 0, "nothing was made"


def test_the_token_opens_every_call(auth_port: int) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{auth_port}") as channel:
        env = pb_grpc.EnvServiceStub(channel)
        info = env.GetServerInfo(pb.ServerInfoRequest(), timeout=10, metadata=GOOD)
        assert info.authenticated and info.protocol_revision == PROTOCOL_REVISION
        made = env.Make(pb.MakeRequest(env_id="CartPole-v1"), timeout=30, metadata=GOOD)
        env.Reset(pb.ResetRequest(env_handle=made.env_handle), timeout=10, metadata=GOOD)
        step = pb.StepRequest(env_handle=made.env_handle, action=to_value(np.zeros(1, dtype=np.int64)))
        assert len(list(env.StepStream(iter([step]), timeout=10, metadata=GOOD))) == 1
        env.Close(pb.CloseRequest(env_handle=made.env_handle), timeout=10, metadata=GOOD)


def test_the_comparison_and_the_addresses() -> None:
    assert token_matches(TOKEN, TOKEN) and token_matches(TOKEN, TOKEN.encode())
    assert not token_matches(TOKEN, None) and not token_matches(TOKEN, "") and not token_matches(TOKEN, TOKEN + "x")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.3.2.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")


def test_a_token_file_others_can_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    f.chmod(0o644)
    with pytest.raises(AuthError, match="chmod 600"):
        read_token("UNUSED", str(f))
    f.chmod(0o600)
    assert read_token("UNUSED", str(f)) == TOKEN
    monkeypatch.setenv("RQL4J_TEST_TOKEN", "short")
    with pytest.raises(AuthError, match="at least"):
        read_token("RQL4J_TEST_TOKEN", None)
    monkeypatch.delenv("RQL4J_TEST_TOKEN")
    with pytest.raises(AuthError, match="--no-auth"):
        read_token("RQL4J_TEST_TOKEN", None)


def _serve(*args: str, token: str | None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "RQL4J_BRIDGE_TOKEN"}
    if token is not None:
        env["RQL4J_BRIDGE_TOKEN"] = token
    # stdin at EOF: a server that starts stops at once (--exit-on-stdin-eof)
    return subprocess.run([sys.executable, "-m", "rql4j_bridge", "serve", "--port", "0", "--exit-on-stdin-eof", *args],
                          capture_output=True, timeout=60, env=env, stdin=subprocess.DEVNULL)  # fmt: skip


def test_the_command_needs_a_token_or_an_explicit_no_auth_on_loopback() -> None:
    out = _serve(token=None)
    assert out.returncode == 2 and b"RQL4J_BRIDGE_TOKEN" in out.stderr and b"--no-auth" in out.stderr, out.stderr
    out = _serve("--host", "0.0.0.0", "--no-auth", token=None)
    assert out.returncode == 2 and b"non-loopback" in out.stderr, out.stderr
    out = _serve("--no-auth", token=None)
    assert out.returncode == 0 and b"WITHOUT authentication" in out.stderr, out.stderr
    out = _serve(token=TOKEN)
    assert out.returncode == 0 and out.stdout.startswith(b"RQL4J_BRIDGE_PORT="), out.stderr


class _FakeSocket:
    def __init__(self) -> None:
        self.sent = b""
        self.timeout: float | None = None

    def gettimeout(self) -> float | None:
        return self.timeout

    def settimeout(self, t: float | None) -> None:
        self.timeout = t

    def sendall(self, data: bytes) -> None:
        self.sent += data


def test_py4j_checks_its_token_in_constant_time_with_a_bounded_line() -> None:
    import io

    import py4j.clientserver
    import py4j.protocol
    from py4j.protocol import Py4JAuthenticationError

    from rql4j_bridge import py4j_server

    assert py4j.clientserver.do_client_auth is py4j_server._do_client_auth, "py4j's own check is replaced"
    auth = py4j.protocol.AUTH_COMMAND_NAME
    sock = _FakeSocket()
    assert py4j_server._do_client_auth(auth, io.BytesIO(TOKEN.encode() + b"\ne\n"), sock, TOKEN)
    assert sock.sent == py4j.protocol.OUTPUT_VOID_COMMAND.encode() and sock.timeout is None, "timeout restored"
    for line in (b"wrong-token\ne\n", b"x" * 100_000 + b"\ne\n", TOKEN.encode()):  # wrong, too long, no newline
        with pytest.raises(Py4JAuthenticationError):
            py4j_server._do_client_auth(auth, io.BytesIO(line), _FakeSocket(), TOKEN)
    with pytest.raises(Py4JAuthenticationError):
        py4j_server._do_client_auth("c", io.BytesIO(TOKEN.encode() + b"\ne\n"), _FakeSocket(), TOKEN)
