"""A user's own task: register_task, reward functions in both forms, and add-ons applied by the server."""

from __future__ import annotations

import subprocess
import os
import sys
import textwrap
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import gymnasium
import numpy as np
import pytest

from rql4j_bridge.env_server import EnvServicer
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc
from rql4j_bridge.tasks import TaskReward, register_task, registered_tasks
from rql4j_bridge.tensors import from_tensor, to_value


def torque_penalty(obs: Any, action: Any, next_obs: Any, reward: float, terminated: bool, truncated: bool,
                   info: dict[str, Any]) -> float:
    return -0.1 * float(np.asarray(action).reshape(-1)[0]) ** 2


def upright_bonus(env: gymnasium.Env, obs: Any, action: Any, next_obs: Any, reward: float, terminated: bool,
                  truncated: bool, info: dict[str, Any]) -> float:
    theta = env.unwrapped.state[0]  # Pendulum's angle after the step: the simulator's state, not the observation
    return float(np.cos(theta))


def _rollout(env_id: str, actions: list[float], **kwargs: Any) -> list[tuple[Any, ...]]:
    env = gymnasium.make(env_id, **kwargs)
    env.reset(seed=3)
    out = [env.step(np.array([a], np.float32)) for a in actions]
    env.close()
    return out


def test_register_task_makes_three_variants_on_the_base_env() -> None:
    ids = register_task("rql4j-test/pendulum-gentle", "Pendulum-v1", torque_penalty)
    assert ids == {v: f"rql4j-test/pendulum-gentle-{v}-v0" for v in ("basic", "addon", "total")}
    assert "rql4j-test/pendulum-gentle" in registered_tasks()
    actions = [2.0, -1.0, 0.5, 0.0]
    base = _rollout("Pendulum-v1", actions)
    runs = {v: _rollout(i, actions) for v, i in ids.items()}
    for k, (obs, env_reward, *_ ) in enumerate(base):
        for variant, run in runs.items():
            o, r, _, _, info = run[k]
            np.testing.assert_array_equal(o, obs)
            assert info["basic_reward"] == float(env_reward)  # the basic reward defaults to the env's own
            assert info["addon_reward"] == pytest.approx(-0.1 * actions[k] ** 2)
            want = {"basic": info["basic_reward"], "addon": info["addon_reward"],
                    "total": info["basic_reward"] + info["addon_reward"]}[variant]
            assert r == want and type(r) is float
    # the base id's own time limit (200) is kept
    env = gymnasium.make(ids["addon"])
    env.reset(seed=0)
    steps = 0
    while True:
        steps += 1
        if env.step(np.zeros(1, np.float32))[3]:
            break
    assert steps == 200


def test_a_reward_function_may_take_the_env_first_and_replace_the_basic_reward() -> None:
    ids = register_task("rql4j-test/pendulum-up", "Pendulum-v1", upright_bonus, basic_reward=torque_penalty,
                        max_episode_steps=5)
    run = _rollout(ids["total"], [1.0] * 5)
    assert run[-1][3]  # truncated by max_episode_steps=5
    for obs, reward, _, _, info in run:
        assert info["addon_reward"] == pytest.approx(float(obs[0]), abs=1e-6)  # obs[0] is cos(theta)
        assert info["basic_reward"] == pytest.approx(-0.1)
        assert reward == pytest.approx(info["addon_reward"] + info["basic_reward"])


def test_bad_reward_functions_are_refused_with_their_name() -> None:
    def two(obs: Any, action: Any) -> float:
        return 0.0

    with pytest.raises(ValueError, match=r"takes 2 positional parameters without a default.*\(obs, action, next_obs"):
        register_task("rql4j-test/bad", "Pendulum-v1", two)

    def scaled(obs, action, next_obs, reward, terminated, truncated, info, scale=0.5):  # type: ignore[no-untyped-def]
        return scale

    env = TaskReward(gymnasium.make("Pendulum-v1"), scaled, "addon")  # a setting with a default is not the env
    env.reset(seed=0)
    assert env.step(np.zeros(1, np.float32))[1] == 0.5
    with pytest.raises(ValueError, match="must be a function or 'module:function'"):
        register_task("rql4j-test/bad", "Pendulum-v1", "no_colon")
    with pytest.raises(ValueError, match="without spaces or a version"):
        register_task("rql4j-test/bad-v0", "Pendulum-v1", torque_penalty)

    def text(*args: Any) -> str:
        return "high"

    env = TaskReward(gymnasium.make("Pendulum-v1"), text, "addon")
    env.reset(seed=0)
    with pytest.raises(TypeError, match=r"add-on reward .*text returned 'high' \(str\); it must return a number"):
        env.step(np.zeros(1, np.float32))


def test_a_module_function_string_that_does_not_import_names_the_module() -> None:
    ids = register_task("rql4j-test/missing", "Pendulum-v1", "no_such_module_rql4j:f")
    with pytest.raises(ValueError, match=r"module 'no_such_module_rql4j' does not import.*PYTHONPATH"):
        gymnasium.make(ids["addon"])


ADDON_MODULE = textwrap.dedent(
    """
    import numpy as np

    def gentle(obs, action, next_obs, reward, terminated, truncated, info):
        return -0.1 * float(np.asarray(action).reshape(-1)[0]) ** 2
    """
)


@pytest.fixture
def addon_stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A server whose only add-on module is the user module rql4j_test_addons (written to tmp_path), imported at start."""
    (tmp_path / "rql4j_test_addons.py").write_text(ADDON_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    importlib.import_module("rql4j_test_addons")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_EnvServiceServicer_to_server(EnvServicer(addon_modules=["rql4j_test_addons"]), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.EnvServiceStub(channel)
    server.stop(None)


@pytest.mark.parametrize(("variant", "part"), [(pb.REWARD_ADDON, "addon"), (pb.REWARD_TOTAL, "total"),
                                               (pb.REWARD_VARIANT_UNSPECIFIED, "total"), (pb.REWARD_BASIC, "basic")])
def test_make_applies_an_addon_of_a_module_imported_at_start(addon_stub: Any, variant: int, part: str) -> None:
    made = addon_stub.Make(pb.MakeRequest(env_id="Pendulum-v1", addon_reward="rql4j_test_addons:gentle",
                                          reward_variant=variant))
    addon_stub.Reset(pb.ResetRequest(env_handle=made.env_handle, seeds=[0]))
    space = gymnasium.spaces.Box(-2.0, 2.0, (1, 1), np.float32)
    step = addon_stub.Step(pb.StepRequest(env_handle=made.env_handle, action=to_value(np.full((1, 1), 2.0,
                                                                                                  np.float32), space)))
    reward = float(from_tensor(step.reward)[0])
    basic = float(from_tensor(step.info["basic_reward"].values)[0])
    addon = float(from_tensor(step.info["addon_reward"].values)[0])
    assert addon == pytest.approx(-0.4)
    assert reward == pytest.approx({"addon": addon, "basic": basic, "total": basic + addon}[part], rel=1e-6)


def test_make_refuses_an_addon_module_the_server_did_not_import(addon_stub: Any) -> None:
    for target, code, words in [
        ("os:system", grpc.StatusCode.FAILED_PRECONDITION, "was not imported when this server started"),
        ("rql4j_never_imported_module:f", grpc.StatusCode.FAILED_PRECONDITION, "serve --addon"),
        ("rql4j_test_addons:nothing", grpc.StatusCode.NOT_FOUND, "defines no public function 'nothing'"),
        ("rql4j_test_addons:np", grpc.StatusCode.NOT_FOUND, "defines no public function 'np'"),
        ("rql4j_test_addons", grpc.StatusCode.INVALID_ARGUMENT, "MODULE:FUNCTION"),
    ]:
        with pytest.raises(grpc.RpcError) as error:
            addon_stub.Make(pb.MakeRequest(env_id="Pendulum-v1", addon_reward=target))
        assert error.value.code() == code and words in error.value.details(), error.value.details()
    assert "rql4j_never_imported_module" not in sys.modules


def test_the_console_script_finds_modules_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "rql4j_cwd_addons.py").write_text(ADDON_MODULE)
    script = Path(sys.executable).with_name("rql4j-bridge")
    process = subprocess.Popen([str(script), "serve", "--port", "0", "--exit-on-stdin-eof", "--addon",
                                "rql4j_cwd_addons:gentle"], cwd=tmp_path, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "RQL4J_BRIDGE_TOKEN": "t" * 32})  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line.startswith(b"RQL4J_BRIDGE_PORT="), process.stderr.read()
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def test_serve_addon_that_does_not_import_exits_2(tmp_path: Path) -> None:
    for target, words in [("rql4j_no_such_module:f", b"does not import"), ("json:no_such_function", b"no function")]:
        out = subprocess.run([sys.executable, "-m", "rql4j_bridge", "serve", "--addon", target],
                             capture_output=True, timeout=60, cwd=tmp_path,
                             env={**os.environ, "RQL4J_BRIDGE_TOKEN": "t" * 32})
        assert out.returncode == 2 and out.stdout == b"", out
        assert words in out.stderr and target.encode() in out.stderr


def test_a_file_in_the_working_directory_cannot_shadow_what_a_request_imports(tmp_path: Path) -> None:
    """As Java starts it (python -P, --addon from the working directory): a torch.py there is not what the
    first LoadPrior imports; the add-on's module is found."""
    from rql4j_bridge.proto.rql4j.v1 import prior_pb2 as ppb
    from rql4j_bridge.proto.rql4j.v1 import prior_pb2_grpc as ppb_grpc

    prior = Path(__file__).resolve().parents[2] / "examples" / "priors" / "cartpole-center-softdqn"
    marker = tmp_path / "shadowed"
    (tmp_path / "rql4j_cwd_addons2.py").write_text(ADDON_MODULE)
    for name in ("torch", "json5", "mujoco"):
        (tmp_path / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write('{name}')\n")
    token = "t" * 32
    process = subprocess.Popen([sys.executable, "-P", "-m", "rql4j_bridge", "serve", "--port", "0",
                                "--exit-on-stdin-eof", "--addon", "rql4j_cwd_addons2:gentle"], cwd=tmp_path,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "RQL4J_BRIDGE_TOKEN": token, "PYTHONSAFEPATH": "1"})  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line.startswith(b"RQL4J_BRIDGE_PORT="), process.stderr.read()
        with grpc.insecure_channel(f"127.0.0.1:{int(line.split(b'=')[1])}") as channel:
            metadata = (("x-rql4j-token", token),)
            made = pb_grpc.EnvServiceStub(channel).Make(
                pb.MakeRequest(env_id="Pendulum-v1", addon_reward="rql4j_cwd_addons2:gentle"), timeout=30,
                metadata=metadata,
            )
            assert made.env_handle
            loaded = ppb_grpc.PriorServiceStub(channel).LoadPrior(ppb.LoadPriorRequest(path=str(prior)), timeout=120,
                                                                  metadata=metadata)  # fmt: skip
            assert loaded.prior_handle
        assert not marker.exists(), marker.read_text()
    finally:
        process.stdin.close()
        process.wait(timeout=30)
