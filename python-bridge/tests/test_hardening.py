"""Issue 18, hardening the env server: no code from requests, unpickling only when asked, bounded resources.

Real servers and servicers throughout; the "attacks" are modules on ``sys.path`` and a zip whose
import / unpickling would leave a marker file, so that a test sees whether the code ran.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import importlib.util
import json
import os
import pickle
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import gymnasium
import numpy as np
import pytest
from bridge_helpers import make, reset, rpc_error, step
from gymnasium import spaces

from rql4j_bridge.cli import addon_modules, build_parser, servicer_limits
from rql4j_bridge.env_server import EnvServicer, _module_to_import, serve
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc
from rql4j_bridge.step_socket import MAX_FRAME_BYTES, StepSocket, recv_exact
from rql4j_bridge.tensors import to_value

INVALID = grpc.StatusCode.INVALID_ARGUMENT
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
PYTHON_BRIDGE = Path(__file__).resolve().parents[1]

# Importing either module leaves <module file>.imported beside it. The good one is what a server
# is started with (--import): it registers an env id and defines an add-on reward.
_MARKER = "import pathlib\npathlib.Path(__file__).with_suffix('.imported').write_text('imported')\n"
_GOOD = _MARKER + textwrap.dedent(
    """
    from gymnasium.envs.registration import register

    register(id="HardeningGood-v0", entry_point="gymnasium.envs.classic_control.cartpole:CartPoleEnv",
             max_episode_steps=50)


    def bonus(obs, action, next_obs, reward, terminated, truncated, info):
        return 1.0
    """
)
_MODULES = {"rql4j_marker_mod": _MARKER, "rql4j_good_mod": _GOOD}


class Mods:
    """The folder of the marker modules (on sys.path) and where their markers appear."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def imported(self, module: str) -> bool:
        return (self.folder / f"{module}.imported").exists()


@pytest.fixture
def mods(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mods]:
    folder = tmp_path / "mods"
    folder.mkdir()
    for name, source in _MODULES.items():
        (folder / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(folder))  # also invalidates the import caches
    yield Mods(folder)
    for name in _MODULES:
        sys.modules.pop(name, None)
    gymnasium.registry.pop("HardeningGood-v0", None)


@contextlib.contextmanager
def running(servicer: EnvServicer) -> Iterator[pb_grpc.EnvServiceStub]:
    """A real threads server for ``servicer`` and a stub for it; closes every env at the end."""
    server, port = serve("127.0.0.1", 0, max_workers=16, servicer=servicer)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
        yield pb_grpc.EnvServiceStub(channel)
    finally:
        channel.close()
        server.stop(grace=None).wait()
        servicer.close_all()


def assert_status(error: grpc.RpcError, code: grpc.StatusCode, *fragments: str) -> None:
    assert error.code() == code, (error.code(), error.details())
    for fragment in fragments:
        assert fragment in error.details(), (fragment, error.details())


# ---------------------------------------------------------------------------------------------
# 1. No code from requests
# ---------------------------------------------------------------------------------------------


def test_a_module_env_id_not_named_at_start_is_refused_and_not_imported(mods: Mods) -> None:
    assert importlib.util.find_spec("rql4j_marker_mod") is not None  # gymnasium.make could import it
    with running(EnvServicer(addon_modules=["rql4j_good_mod"])) as stub:
        error = rpc_error(make, stub, "rql4j_marker_mod:Foo-v0")
        assert_status(error, INVALID, "'rql4j_marker_mod:Foo-v0'", "--import rql4j_marker_mod", "rql4j_good_mod")
        error = rpc_error(make, stub, "rql4j_marker_mod:a:b")
        assert_status(error, INVALID, "MODULE:EnvId")
    assert not mods.imported("rql4j_marker_mod") and "rql4j_marker_mod" not in sys.modules


def test_env_ids_and_addon_rewards_share_the_allow_list_of_modules_imported_at_start(mods: Mods) -> None:
    args = build_parser().parse_args(
        ["serve", "--import", "rql4j_good_mod", "--addon", "rql4j_other_mod:f", "--max-num-envs", "3"]
    )
    assert addon_modules(args) == ["rql4j_good_mod", "rql4j_other_mod"]  # what cli gives EnvServicer
    importlib.import_module("rql4j_good_mod")  # as `serve --import` does at start
    servicer = EnvServicer(addon_modules=addon_modules(args), **servicer_limits(args))
    assert servicer.max_num_envs == 3
    with running(servicer) as stub:
        request = pb.MakeRequest(env_id="rql4j_good_mod:HardeningGood-v0", addon_reward="rql4j_good_mod:bonus")
        handle = stub.Make(request).env_handle
        reset(stub, handle, seeds=[0])
        reply = step(stub, handle, np.array([0]), spaces.Discrete(2))
        assert reply.reward.data == np.array([2.0]).tobytes()  # CartPole's 1 + the add-on's 1
        # the add-on allow-list is the same set: a module not named at start is refused, and not imported
        request = pb.MakeRequest(env_id="CartPole-v1", addon_reward="rql4j_marker_mod:bonus")
        assert_status(rpc_error(stub.Make, request), PRECONDITION, "rql4j_marker_mod", "rql4j_good_mod")
        assert_status(rpc_error(make, stub, "rql4j_marker_mod:Foo-v0"), INVALID, "rql4j_good_mod")
    assert not mods.imported("rql4j_marker_mod") and "rql4j_marker_mod" not in sys.modules


def test_kwargs_and_reset_options_cannot_smuggle_an_import(mods: Mods) -> None:
    with running(EnvServicer()) as stub:
        for path in ("rql4j_marker_mod.Vehicle", "rql4j_marker_mod:factory"):
            error = rpc_error(make, stub, "CartPole-v1", kwargs={"config": {"other_vehicles_type": path}})
            assert_status(
                error, INVALID, "kwargs_json.config.other_vehicles_type", "--import rql4j_marker_mod", "never"
            )
        error = rpc_error(make, stub, "CartPole-v1", kwargs={"wrappers": [1, {"deep": ["rql4j_marker_mod.X"]}]})
        assert_status(error, INVALID, "kwargs_json.wrappers[1].deep[0]")
        handle = make(stub, "CartPole-v1", kwargs={"render_mode": "rgb_array"}).env_handle  # plain strings pass
        options = json.dumps({"config": {"other_vehicles_type": "rql4j_marker_mod.Vehicle"}})
        error = rpc_error(reset, stub, handle, options=options)
        assert_status(error, INVALID, "options_json.config.other_vehicles_type")
        reset(stub, handle, seeds=[1])  # the env is unharmed
    assert not mods.imported("rql4j_marker_mod") and "rql4j_marker_mod" not in sys.modules


def test_the_smuggling_is_real_for_highway_env(mods: Mods) -> None:
    """The vector the kwargs check closes: highway-env imports ``config.other_vehicles_type`` itself."""
    pytest.importorskip("highway_env")
    config = {"other_vehicles_type": "rql4j_marker_mod.Vehicle"}
    with running(EnvServicer()) as stub:
        error = rpc_error(make, stub, "highway-fast-v0", kwargs={"config": config})
        assert_status(error, INVALID, "rql4j_marker_mod")
    assert not mods.imported("rql4j_marker_mod")
    with pytest.raises(AttributeError):  # in-process, without the server's check: imported, then no Vehicle in it
        gymnasium.make("highway-fast-v0", config=config).reset(seed=0)  # (its __init__ resets already)
    assert mods.imported("rql4j_marker_mod")


def test_module_to_import_only_names_modules_not_imported_yet(mods: Mods) -> None:
    for text in ("human", "rgb_array", "1.5", "v1.2", "ant.xml", "os.path", "numpy.float32", "json.nosuch.X", ""):
        assert _module_to_import(text) is None, text
    assert _module_to_import("rql4j_marker_mod.Vehicle") == "rql4j_marker_mod"
    assert _module_to_import("rql4j_marker_mod:make") == "rql4j_marker_mod"
    assert _module_to_import("gymnasium.envs.classic_control.cartpole:CartPoleEnv") is None  # imported already
    assert "rql4j_marker_mod" not in sys.modules


# ---------------------------------------------------------------------------------------------
# 2. Unpickling only under --allow-unpickle
# ---------------------------------------------------------------------------------------------


class _Payload:
    """Unpickles as ``os.mkdir(marker)``: the code a hostile zip would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (str(self.marker),)


def _malicious_zip(folder: Path, marker: Path) -> Path:
    serialized = base64.b64encode(pickle.dumps(_Payload(marker))).decode()
    data = {"policy_class": {":type:": "<class 'abc.ABCMeta'>", ":serialized:": serialized}}
    path = folder / "malicious.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data", json.dumps(data))
    (folder / "malicious.zip.json").write_text(json.dumps({"algo": "dqn"}))  # as `train expert` writes
    return path


def test_train_demos_refuses_to_unpickle_without_the_flag(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    expert = _malicious_zip(tmp_path, marker)
    command = [sys.executable, "-m", "rql4j_bridge", "train", "demos", "--task", "cartpole-center"]
    command += ["--expert", str(expert), "--n", "10", "--out", str(tmp_path / "demos.npz")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode != 0
    assert "--allow-unpickle" in done.stderr and "runs code from the file" in done.stderr
    assert str(expert) in done.stderr
    assert not marker.exists() and not (tmp_path / "demos.npz").exists()


def test_load_expert_unpickles_only_when_allowed(tmp_path: Path) -> None:
    pytest.importorskip("stable_baselines3")
    from rql4j_bridge.train.expert import load_expert

    marker = tmp_path / "unpickled"
    expert = _malicious_zip(tmp_path, marker)
    with pytest.raises(ValueError, match="--allow-unpickle"):
        load_expert(expert, "dqn")
    assert not marker.exists()
    with pytest.raises(Exception):  # noqa: B017 -- whatever SB3 says about the rest of the zip
        load_expert(expert, "dqn", allow_unpickle=True)
    assert marker.is_dir()  # the zip is a real attack: unpickling it ran its code


# ---------------------------------------------------------------------------------------------
# 3. Bounded resources
# ---------------------------------------------------------------------------------------------


def test_num_envs_above_the_cap_is_refused_and_the_next_make_works() -> None:
    with running(EnvServicer(max_num_envs=4)) as stub:
        error = rpc_error(make, stub, "CartPole-v1", num_envs=5)
        assert_status(error, EXHAUSTED, "num_envs 5", "--max-num-envs 4")
        response = make(stub, "CartPole-v1", num_envs=4)
        assert response.num_envs == 4
        reset(stub, response.env_handle, seeds=[0])


def test_open_env_cap_refuses_one_more_and_spares_the_other_clients() -> None:
    servicer = EnvServicer(max_open_envs=2)
    with running(servicer) as stub:
        first, second = make(stub, "CartPole-v1").env_handle, make(stub, "CartPole-v1").env_handle
        assert_status(rpc_error(make, stub, "CartPole-v1"), EXHAUSTED, "2 open envs", "--max-open-envs 2")
        for handle in (first, second):  # the envs already made step on
            reset(stub, handle, seeds=[0])
            step(stub, handle, np.array([1]), spaces.Discrete(2))
        stub.Close(pb.CloseRequest(env_handle=first))
        assert make(stub, "CartPole-v1").num_envs == 1
        assert servicer.open_envs == 2


def test_open_env_cap_holds_under_concurrent_makes() -> None:
    servicer = EnvServicer(max_open_envs=3)
    with running(servicer) as stub:
        codes: list[grpc.StatusCode] = []

        def one() -> None:
            try:
                make(stub, "CartPole-v1", num_envs=2)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as e:
                codes.append(e.code())

        threads = [threading.Thread(target=one) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert codes.count(grpc.StatusCode.OK) == 3 and codes.count(EXHAUSTED) == 7
        assert servicer.open_envs == 3


def _connect(opened: pb.OpenStepSocketResponse, token: bytes) -> socket.socket:
    conn = socket.create_connection((opened.host, opened.port), timeout=10)
    conn.sendall(token)
    return conn


def _socket_step(conn: socket.socket, handle: str) -> pb.StepSocketReply:
    payload = pb.StepRequest(env_handle=handle, action=to_value(np.array([0]), spaces.Discrete(2))).SerializeToString()
    conn.sendall(struct.pack(">I", len(payload)) + payload)
    header = recv_exact(conn, 4)
    assert header is not None
    data = recv_exact(conn, struct.unpack(">I", header)[0])
    assert data is not None
    return pb.StepSocketReply.FromString(bytes(data))


def test_a_wrong_token_does_not_take_the_real_clients_socket() -> None:
    with running(EnvServicer()) as stub:
        handle = make(stub, "CartPole-v1").env_handle
        reset(stub, handle, seeds=[0])
        opened = stub.OpenStepSocket(pb.OpenStepSocketRequest(env_handle=handle))
        for wrong in (bytes(16), opened.token[:8]):  # a wrong token; half a token, then the peer hangs up
            intruder = _connect(opened, wrong)
            if len(wrong) < 16:
                intruder.shutdown(socket.SHUT_WR)
            assert recv_exact(intruder, 1) is None  # dropped
            intruder.close()
        client = _connect(opened, opened.token)
        assert _socket_step(client, handle).WhichOneof("body") == "response"
        client.close()


def test_a_silent_connection_is_dropped_after_the_auth_timeout_and_the_client_still_gets_in() -> None:
    sock = StepSocket("127.0.0.1", lambda b: b[::-1], "t", accept_timeout_s=20, auth_timeout_s=0.3)
    silent = socket.create_connection(("127.0.0.1", sock.port), timeout=10)
    silent.sendall(b"abc")  # 3 of 16 token bytes, then nothing
    t0 = time.monotonic()
    client = socket.create_connection(("127.0.0.1", sock.port), timeout=10)  # queued behind it
    client.sendall(sock.token + struct.pack(">I", 3) + b"abc")
    assert recv_exact(client, 4) == struct.pack(">I", 3) and recv_exact(client, 3) == b"cba"
    assert 0.2 < time.monotonic() - t0 < 10
    assert recv_exact(silent, 1) is None
    silent.close()
    client.close()
    sock.join(5)


def test_a_huge_frame_closes_the_connection_without_allocating_it() -> None:
    sock = StepSocket("127.0.0.1", lambda b: b, "t")
    conn = socket.create_connection(("127.0.0.1", sock.port), timeout=10)
    tracemalloc.start()
    try:
        conn.sendall(sock.token + struct.pack(">I", MAX_FRAME_BYTES + 1))
        assert recv_exact(conn, 4) is None
        sock.join(5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024  # the 64 MiB frame was never allocated
    conn.close()


def test_a_huge_frame_on_a_server_closes_that_connection_and_the_server_keeps_serving() -> None:
    with running(EnvServicer(max_step_frame_bytes=1024)) as stub:
        handle = make(stub, "CartPole-v1").env_handle
        reset(stub, handle, seeds=[0])
        opened = stub.OpenStepSocket(pb.OpenStepSocketRequest(env_handle=handle))
        conn = _connect(opened, opened.token)
        conn.sendall(struct.pack(">I", 0xFFFFFFFF))  # 4 GiB announced
        assert recv_exact(conn, 4) is None
        conn.close()
        step(stub, handle, np.array([0]), spaces.Discrete(2))  # gRPC serves on
        opened = stub.OpenStepSocket(pb.OpenStepSocketRequest(env_handle=handle))
        conn = _connect(opened, opened.token)
        assert _socket_step(conn, handle).WhichOneof("body") == "response"  # and so do new step sockets
        conn.close()


def _wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_step_socket_cap() -> None:
    servicer = EnvServicer(max_step_sockets=2)
    with running(servicer) as stub:
        a, b = make(stub, "CartPole-v1").env_handle, make(stub, "CartPole-v1").env_handle
        reset(stub, b, seeds=[0])
        stub.OpenStepSocket(pb.OpenStepSocketRequest(env_handle=a))  # pending: counts too
        opened = stub.OpenStepSocket(pb.OpenStepSocketRequest(env_handle=b))
        conn = _connect(opened, opened.token)
        assert _socket_step(conn, b).WhichOneof("body") == "response"  # open
        error = rpc_error(stub.OpenStepSocket, pb.OpenStepSocketRequest(env_handle=b))
        assert_status(error, EXHAUSTED, "2 step sockets", "--max-step-sockets 2")
        assert servicer.open_step_sockets == 2
        conn.close()  # the client ends its connection: a slot is free again
        _wait_for(lambda: servicer.open_step_sockets == 1)
        opened = stub.OpenStepSocket(pb.OpenStepSocketRequest(env_handle=b))
        stub.Close(pb.CloseRequest(env_handle=a))  # closing an env closes its sockets
        _wait_for(lambda: servicer.open_step_sockets == 1)
        conn = _connect(opened, opened.token)
        assert _socket_step(conn, b).WhichOneof("body") == "response"
        conn.close()


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="max_open_envs must be >= 1"):
        EnvServicer(max_open_envs=0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--max-num-envs", "0"])
    defaults = servicer_limits(build_parser().parse_args(["serve"]))
    assert defaults == {
        "max_num_envs": 1024,
        "max_open_envs": 256,
        "max_step_sockets": 64,
        "max_step_frame_bytes": 64 * 1024 * 1024,
        "max_env_workers": 2 * (os.cpu_count() or 1),
    }


def test_serve_command_applies_the_allow_list_and_the_bounds(mods: Mods) -> None:
    """The real `rql4j-bridge serve` process: --import is the allow-list, the --max-* options bound it."""
    command = [sys.executable, "-m", "rql4j_bridge", "serve", "--no-auth", "--exit-on-stdin-eof"]
    command += ["--import", "rql4j_good_mod", "--max-num-envs", "2", "--max-open-envs", "1", "--log-level", "WARNING"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(mods.folder), str(PYTHON_BRIDGE / "src")])}
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=mods.folder)
    watchdog = threading.Timer(180, proc.kill)  # a server that never announces its port fails the test
    watchdog.start()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("RQL4J_BRIDGE_PORT="), line
        channel = grpc.insecure_channel(f"127.0.0.1:{int(line.split('=')[1])}")
        stub = pb_grpc.EnvServiceStub(channel)
        assert_status(rpc_error(make, stub, "rql4j_marker_mod:Foo-v0"), INVALID, "--import rql4j_marker_mod")
        assert_status(rpc_error(make, stub, "CartPole-v1", num_envs=3), EXHAUSTED, "--max-num-envs 2")
        assert make(stub, "rql4j_good_mod:HardeningGood-v0", num_envs=2).num_envs == 2
        assert_status(rpc_error(make, stub, "CartPole-v1"), EXHAUSTED, "--max-open-envs 1")
        channel.close()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(30)
        watchdog.cancel()
    assert mods.imported("rql4j_good_mod") and not mods.imported("rql4j_marker_mod")


def test_a_huge_request_field_does_not_become_a_huge_log_line(tmp_path: Path) -> None:
    """The server's log records (messages, tracebacks, the envs' warnings) are cut to a bounded length."""
    import json as _json

    token = "log-token-0123456789abcdef"
    err = tmp_path / "stderr"
    with err.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "rql4j_bridge", "serve", "--port", "0", "--exit-on-stdin-eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sink,
            env={**os.environ, "RQL4J_BRIDGE_TOKEN": token},
        )  # fmt: skip
        try:
            port = int(process.stdout.readline().split(b"=")[1])
            options = [("grpc.max_send_message_length", 64 * 1024 * 1024)]
            with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
                stub = pb_grpc.EnvServiceStub(channel)
                metadata = (("x-rql4j-token", token),)
                for kwargs in ({"y" * 5_000_000: 1}, {"render_mode": "w" * 5_000_000}):
                    try:
                        stub.Make(pb.MakeRequest(env_id="CartPole-v1", kwargs_json=_json.dumps(kwargs)), timeout=30,
                                  metadata=metadata)  # fmt: skip
                    except grpc.RpcError as e:
                        assert len(e.details()) <= 4000
        finally:
            process.stdin.close()
            process.wait(timeout=30)
    text = err.read_bytes()
    assert len(text) < 200_000, len(text)
    assert max(len(line) for line in text.splitlines()) <= 8100
