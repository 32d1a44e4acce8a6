"""The bridge as a user installs it: `pip wheel --no-deps python-bridge`, installed into a fresh venv
with only its declared dependencies (no extras: no torch, no highway-env, no matplotlib), serves
envs, its built-in CartPole task and its reward parts; the commands that need an extra say which."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import grpc
import numpy as np
import pytest

from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc
from rql4j_bridge.tensors import to_value

BRIDGE = Path(__file__).resolve().parents[1]
TOKEN = "wheel-token-0123456789abcdef"


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


@pytest.mark.skipif(os.environ.get("RQL4J_SKIP_WHEEL_TEST") == "1", reason="RQL4J_SKIP_WHEEL_TEST=1")
def test_the_wheel_installs_alone_and_serves(tmp_path: Path) -> None:
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(BRIDGE)])
    assert built.returncode == 0, built.stderr
    wheels = list((tmp_path / "dist").glob("rql4j_bridge-*.whl"))
    assert len(wheels) == 1
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    installed = _run([python, "-m", "pip", "install", "-q", str(wheels[0])])
    assert installed.returncode == 0, installed.stderr
    listed = _run([python, "-m", "pip", "list", "--format=freeze"]).stdout.lower()
    assert "torch" not in listed and "highway" not in listed and "matplotlib" not in listed, listed

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["RQL4J_BRIDGE_TOKEN"] = TOKEN
    # from a folder outside the checkout, as a user's project would
    server = subprocess.Popen([python, "-P", "-m", "rql4j_bridge", "serve", "--port", "0", "--exit-on-stdin-eof"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                              cwd=tmp_path)  # fmt: skip
    try:
        line = server.stdout.readline()
        assert line.startswith(b"RQL4J_BRIDGE_PORT="), server.stderr.read()
        with grpc.insecure_channel(f"127.0.0.1:{int(line.split(b'=')[1])}") as channel:
            stub = pb_grpc.EnvServiceStub(channel)
            md = (("x-rql4j-token", TOKEN),)
            info = stub.GetServerInfo(pb.ServerInfoRequest(), timeout=30, metadata=md)
            assert info.bridge_version == _run([python, "-c", "import rql4j_bridge; print(rql4j_bridge.__version__)"],
                                               env=env).stdout.strip()  # fmt: skip
            made = stub.Make(pb.MakeRequest(env_id="rql4j/cartpole-center-total-v0"), timeout=60, metadata=md)
            stub.Reset(pb.ResetRequest(env_handle=made.env_handle, seeds=[0]), timeout=30, metadata=md)
            step = stub.Step(pb.StepRequest(env_handle=made.env_handle, action=to_value(np.zeros(1, np.int64))),
                             timeout=30, metadata=md)  # fmt: skip
            assert {"basic_reward", "addon_reward"} <= set(step.info.keys()), step.info
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    # the commands that need an extra name it
    for args, extra in ((["export", "--kind", "sb3-dqn", "--checkpoint", "x.zip", "--out", "o"], "priors"),
                        (["export-policy", "run", "--out", "o"], "priors"),
                        (["inspect-prior", "prior", "--env-id", "CartPole-v1"], "priors"),
                        (["train", "--help"], "priors"), (["plot", "x", "--out", "y.png"], "plot")):  # fmt: skip
        out = _run([python, "-m", "rql4j_bridge", *args], env=env, cwd=tmp_path)
        assert out.returncode != 0 and f"rql4j-bridge[{extra}]" in out.stderr, (args, out.stderr[-2000:])
