"""The command line as a subprocess: the port line, stdin EOF, signals, --import."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

import rql4j_bridge

from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc

CONSOLE_SCRIPT = Path(sys.executable).with_name("rql4j-bridge")
TOKEN = "test-token-0123456789abcdef"
AUTH = (("x-rql4j-token", TOKEN),)


def start(*args: str, env: dict[str, str] | None = None, command: list[str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*(command or [sys.executable, "-m", "rql4j_bridge"]), "serve", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "RQL4J_BRIDGE_TOKEN": TOKEN, **(env or {})},
    )


def read_line(stream, timeout: float = 30.0) -> bytes:  # type: ignore[no-untyped-def]
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    return lines.get(timeout=timeout)


def server_info(port: int) -> pb.ServerInfoResponse:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return pb_grpc.EnvServiceStub(channel).GetServerInfo(pb.ServerInfoRequest(), timeout=10, metadata=AUTH)


def port_of(process: subprocess.Popen[bytes]) -> int:
    line = read_line(process.stdout)
    assert line.startswith(b"RQL4J_BRIDGE_PORT=") and line.endswith(b"\n"), line
    return int(line.decode().strip().split("=", 1)[1])


@pytest.mark.parametrize("via", ["module", "console_script"])
def test_port_line_then_exit_on_stdin_eof(via: str) -> None:
    command = [str(CONSOLE_SCRIPT)] if via == "console_script" else None
    if command and not CONSOLE_SCRIPT.exists():
        pytest.skip("console script not installed next to this interpreter")
    process = start("--port", "0", "--exit-on-stdin-eof", command=command)
    try:
        port = port_of(process)
        assert server_info(port).protocol == "rql4j.v1"
        process.stdin.close()  # the parent "dies"
        assert process.wait(timeout=5) == 0
        assert process.stdout.read() == b""  # exactly one line on stdout
        assert b"stdin reached end of file" in process.stderr.read()
    finally:
        process.kill()


@pytest.mark.parametrize("kind", ["aio", "threads"])
def test_sigterm_stops_gracefully(kind: str) -> None:
    process = start("--server", kind)
    try:
        port = port_of(process)
        assert server_info(port).protocol == "rql4j.v1"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert b"SIGTERM" in process.stderr.read()
    finally:
        process.kill()


def test_import_registers_envs(tmp_path: Path) -> None:
    (tmp_path / "extra_envs.py").write_text(
        "import gymnasium\n"
        "print('noise on stdout must not reach the launcher')\n"
        "gymnasium.register('rql4j-extra/Cart-v0', entry_point='gymnasium.envs.classic_control:CartPoleEnv')\n"
    )
    process = start("--import", "extra_envs", "--exit-on-stdin-eof", env={"PYTHONPATH": str(tmp_path)})
    try:
        port = port_of(process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            made = pb_grpc.EnvServiceStub(channel).Make(
                pb.MakeRequest(env_id="rql4j-extra/Cart-v0"), timeout=10, metadata=AUTH
            )
            assert made.action_space.discrete.n == 2
        process.stdin.close()
        assert process.wait(timeout=5) == 0
        assert process.stdout.read() == b""
        assert b"noise on stdout" in process.stderr.read()
    finally:
        process.kill()


def test_failing_import_exits_2() -> None:
    process = start("--import", "no_such_module_rql4j")
    try:
        assert process.wait(timeout=30) == 2
        assert process.stdout.read() == b""
        assert b"no_such_module_rql4j" in process.stderr.read()
    finally:
        process.kill()


def test_taken_port_exits_1() -> None:
    first = start("--exit-on-stdin-eof")
    try:
        port = port_of(first)
        second = start("--port", str(port))
        try:
            assert second.wait(timeout=30) == 1
            assert second.stdout.read() == b""
        finally:
            second.kill()
    finally:
        first.kill()


def test_help_lists_serve() -> None:
    out = subprocess.run([sys.executable, "-m", "rql4j_bridge", "--help"], capture_output=True, check=True)
    assert b"serve" in out.stdout
    start_time = time.monotonic()
    version = subprocess.run([sys.executable, "-m", "rql4j_bridge", "--version"], capture_output=True, check=True)
    assert rql4j_bridge.__version__.encode() in version.stdout and time.monotonic() - start_time < 30
