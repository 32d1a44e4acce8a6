"""A bounded fuzz of the real server (``rql4j-bridge serve`` as a subprocess, authentication on).

Random bytes to every RPC of both services, absurd fields in well-formed requests, missing and
wrong tokens, random bytes and absurd frame headers on step sockets. Asserts: the server never
crashes, no call hangs (each has a 5 s deadline and must end before it), its memory grows by less
than 100 MB, and a legitimate client works afterwards. The figures (requests, seconds, RSS) are
printed for docs/reliability.md (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc
from rql4j_bridge.proto.rql4j.v1 import prior_pb2
from rql4j_bridge.proto.rql4j.v1 import prior_pb2 as ppb
from rql4j_bridge.proto.rql4j.v1 import prior_pb2_grpc
from rql4j_bridge.tensors import to_value

TOKEN = "fuzz-token-0123456789abcdef0123"
GOOD = (("x-rql4j-token", TOKEN),)
DEADLINE_S = 5.0
SEED = 18
PRIOR = Path(__file__).resolve().parents[2] / "examples" / "priors" / "cartpole-center-softdqn" / "prior.json"


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc to read the server's memory")
    env = {**os.environ, "RQL4J_BRIDGE_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "rql4j_bridge", "serve", "--port", "0", "--exit-on-stdin-eof", "--log-level", "ERROR"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith(b"RQL4J_BRIDGE_PORT="), line
    yield process, int(line.split(b"=")[1])
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=10)


def _methods() -> list[tuple[str, bool, bool]]:
    out = []
    for file, service in ((pb.DESCRIPTOR, "EnvService"), (prior_pb2.DESCRIPTOR, "PriorService")):
        for m in file.services_by_name[service].methods:
            out.append((f"/{file.package}.{service}/{m.name}", m.client_streaming, m.server_streaming))
    return out


def _call(channel: grpc.Channel, method: tuple[str, bool, bool], payloads: list[bytes], metadata) -> None:  # type: ignore[no-untyped-def]
    path, client_streaming, server_streaming = method
    ident = lambda b: b  # noqa: E731
    start = time.monotonic()
    try:
        if client_streaming and server_streaming:
            list(channel.stream_stream(path, ident, ident)(iter(payloads), timeout=DEADLINE_S, metadata=metadata))
        elif server_streaming:
            list(channel.unary_stream(path, ident, ident)(payloads[0], timeout=DEADLINE_S, metadata=metadata))
        elif client_streaming:
            channel.stream_unary(path, ident, ident)(iter(payloads), timeout=DEADLINE_S, metadata=metadata)
        else:
            channel.unary_unary(path, ident, ident)(payloads[0], timeout=DEADLINE_S, metadata=metadata)
    except grpc.RpcError as e:
        assert e.code() != grpc.StatusCode.DEADLINE_EXCEEDED, f"{path} hung ({e.details()})"
        assert e.code() != grpc.StatusCode.UNAVAILABLE, f"{path}: the server went away ({e.details()})"
    assert time.monotonic() - start < DEADLINE_S, path


def _absurd_requests(handle: str) -> list[tuple[str, bytes]]:
    env = "/rql4j.v1.EnvService/"
    prior = "/rql4j.v1.PriorService/"
    big = "x" * 1_000_000
    return [
        (env + "Make", pb.MakeRequest(env_id="CartPole-v1", num_envs=10**7).SerializeToString()),
        (env + "Make", pb.MakeRequest(env_id="CartPole-v1", num_envs=-5).SerializeToString()),
        (env + "Make", pb.MakeRequest(env_id=big).SerializeToString()),
        (env + "Make", pb.MakeRequest(env_id="os:system").SerializeToString()),
        (env + "Make", pb.MakeRequest(env_id="CartPole-v1", kwargs_json=json.dumps({"a": big})).SerializeToString()),
        (env + "Make", pb.MakeRequest(env_id="CartPole-v1", kwargs_json="[" * 100_000).SerializeToString()),
        (env + "Make", pb.MakeRequest(env_id="Pendulum-v1", addon_reward="os:system").SerializeToString()),
        (env + "Reset", pb.ResetRequest(env_handle=handle, seeds=[2**63 - 1, -1]).SerializeToString()),
        (env + "Reset", pb.ResetRequest(env_handle=handle, options_json="{" * 50_000).SerializeToString()),
        (env + "Step", pb.StepRequest(env_handle=handle, action=to_value(np.zeros((7, 3)))).SerializeToString()),
        (env + "Step", pb.StepRequest(env_handle=handle, action=to_value(np.full(1, 99, np.int64))).SerializeToString()),
        (env + "Step", pb.StepRequest(env_handle="nope").SerializeToString()),
        (env + "Snapshot", pb.SnapshotRequest(env_handle=handle, index=10**6).SerializeToString()),
        (env + "Restore", pb.RestoreRequest(env_handle=handle, snapshot_handle=big).SerializeToString()),
        (env + "OpenStepSocket", pb.OpenStepSocketRequest(env_handle="nope").SerializeToString()),
        (env + "Close", pb.CloseRequest(env_handle="nope").SerializeToString()),
        (prior + "LoadPrior", ppb.LoadPriorRequest(path="/etc").SerializeToString()),
        (prior + "LoadPrior", ppb.LoadPriorRequest(path=big).SerializeToString()),
        (prior + "LogProbsAll", ppb.PriorQuery(prior_handle="nope").SerializeToString()),
    ]


def _fuzz_step_socket(stub: pb_grpc.EnvServiceStub, handle: str, rng: random.Random) -> int:
    """Random bytes, wrong tokens and absurd headers on step sockets; returns the connections made."""
    made = 0
    for k in range(30):
        opened = stub.OpenStepSocket(pb.OpenStepSocketRequest(env_handle=handle), timeout=DEADLINE_S, metadata=GOOD)
        garbage = [
            bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 64))),  # a wrong token and noise
            opened.token + struct.pack(">I", 0xFFFFFFFF),  # a 4 GiB frame header
            opened.token + struct.pack(">I", 64) + bytes(rng.getrandbits(8) for _ in range(64)),  # not a StepRequest
            opened.token[:8],  # half a token, then silence (closed by us)
        ][k % 4]
        with socket.create_connection((opened.host, opened.port), timeout=DEADLINE_S) as conn:
            made += 1
            conn.sendall(garbage)
            conn.settimeout(2.0)
            try:
                conn.recv(1 << 16)  # a reply, a close, or nothing: never a hang of the server
            except (TimeoutError, ConnectionError):
                pass
    return made


def test_the_server_survives_a_fuzz_and_serves_afterwards(server: tuple[subprocess.Popen[bytes], int]) -> None:
    process, port = server
    rng = random.Random(SEED)
    t0 = time.monotonic()
    with grpc.insecure_channel(
        f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
    ) as channel:
        stub = pb_grpc.EnvServiceStub(channel)
        made = stub.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=1), timeout=30, metadata=GOOD)
        handle = made.env_handle
        stub.Reset(pb.ResetRequest(env_handle=handle), timeout=DEADLINE_S, metadata=GOOD)
        if PRIOR.is_file():  # torch's import (hundreds of MB) is not growth: load one prior before measuring
            prior_pb2_grpc.PriorServiceStub(channel).LoadPrior(
                ppb.LoadPriorRequest(path=str(PRIOR.parent)), timeout=120, metadata=GOOD
            )
        rss_before = _rss_mb(process.pid)

        calls = 0
        methods = _methods()
        for i in range(2500):
            method = methods[i % len(methods)]
            n = rng.randrange(0, 2048) if i % 10 else rng.randrange(0, 200_000)
            payloads = [bytes(rng.getrandbits(8) for _ in range(min(n, 4096))) * max(1, n // 4096)]
            if method[1]:
                payloads = payloads * rng.randrange(1, 4)
            metadata = (GOOD, None, (("x-rql4j-token", "wrong-" + TOKEN),))[i % 3]
            _call(channel, method, payloads, metadata)
            calls += 1
        for path, body in _absurd_requests(handle) * 5:
            method = next(m for m in methods if m[0] == path)
            _call(channel, method, [body], GOOD)
            calls += 1
        sockets = _fuzz_step_socket(stub, handle, rng)
        assert process.poll() is None, "the server crashed"
        rss_after = _rss_mb(process.pid)

        # a legitimate client afterwards: a new env, reset, steps
        fresh = stub.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=2), timeout=30, metadata=GOOD)
        stub.Reset(pb.ResetRequest(env_handle=fresh.env_handle, seeds=[1, 2]), timeout=DEADLINE_S, metadata=GOOD)
        for _ in range(20):
            stub.Step(
                pb.StepRequest(env_handle=fresh.env_handle, action=to_value(np.zeros(2, np.int64))),
                timeout=DEADLINE_S,
                metadata=GOOD,
            )
        info = stub.GetServerInfo(pb.ServerInfoRequest(), timeout=DEADLINE_S, metadata=GOOD)
    seconds = time.monotonic() - t0
    print(
        f"\nfuzz: {calls} gRPC requests and {sockets} step-socket connections in {seconds:.0f} s; server RSS "
        f"{rss_before:.0f} -> {rss_after:.0f} MB; {info.open_envs} envs open after"
    )
    assert rss_after - rss_before < 100, f"RSS grew from {rss_before:.0f} to {rss_after:.0f} MB"
    assert seconds < 120
