"""End-to-end tests of the EnvService: a real server on a loopback port, the generated stub, and
in-process Gymnasium envs as the reference (bit-for-bit)."""

from __future__ import annotations

import json
import threading
from typing import Any

import grpc
import gymnasium
import numpy as np
import pytest
from bridge_helpers import (
    assert_error,
    assert_value,
    expected_info,
    info_dict,
    make,
    reference,
    reset,
    rpc_error,
    step,
)
from gymnasium import spaces

from rql4j_bridge import __version__
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.tensors import from_tensor, from_value, to_tensor, to_value

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
INTERNAL = grpc.StatusCode.INTERNAL


# ---------------------------------------------------------------------------------------------
# Test envs
# ---------------------------------------------------------------------------------------------


class InfoEnv(gymnasium.Env):
    """obs [t, episode]; action 2 terminates. Info mixes numeric and non-numeric entries."""

    observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = spaces.Discrete(3)

    def __init__(self) -> None:
        self.t, self.episode = 0, -1

    def _obs(self) -> np.ndarray:
        return np.array([self.t, self.episode], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t, self.episode = 0, self.episode + 1
        return self._obs(), {"from_reset": 1, "t": 0, "noise": float(self.np_random.random())}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        reward = float(action) + 0.25
        info = {
            "t": self.t,
            "basic_reward": reward,
            "flag": np.bool_(self.t % 2 == 0),  # numpy bools land in object arrays
            "name": "info-env",  # non-numeric: not sent
            "vec": np.arange(2.0),  # array: not sent
        }
        return self._obs(), reward, bool(action == 2), False, info


class BoomEnv(gymnasium.Env):
    """Raises in step when the action is 2."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = spaces.Discrete(3)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if action == 2:
            raise RuntimeError("boom: action 2 is not allowed here")
        return np.zeros(1, np.float32), 0.0, False, False, {}


class TextEnv(gymnasium.Env):
    observation_space = spaces.Text(5)
    action_space = spaces.Discrete(2)


gymnasium.register("rql4j-test/Info-v0", entry_point=InfoEnv)
gymnasium.register("rql4j-test/Boom-v0", entry_point=BoomEnv)
gymnasium.register("rql4j-test/Text-v0", entry_point=TextEnv)


# ---------------------------------------------------------------------------------------------
# Make / spaces / server info
# ---------------------------------------------------------------------------------------------


def test_server_info(stub: Any) -> None:
    info = stub.GetServerInfo(pb.ServerInfoRequest())
    assert info.protocol == "rql4j.v1"
    assert info.bridge_version == __version__
    assert info.gymnasium_version == gymnasium.__version__
    assert info.python_version.count(".") == 2
    before = info.open_envs
    handle = make(stub, "CartPole-v1").env_handle
    assert stub.GetServerInfo(pb.ServerInfoRequest()).open_envs == before + 1
    stub.Close(pb.CloseRequest(env_handle=handle))
    assert stub.GetServerInfo(pb.ServerInfoRequest()).open_envs == before


@pytest.mark.parametrize("num_envs", [1, 4])
def test_make_cartpole(stub: Any, num_envs: int) -> None:
    made = stub.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=num_envs))
    assert made.num_envs == num_envs
    assert made.autoreset_mode == pb.SAME_STEP  # UNSPECIFIED means SAME_STEP
    single = gymnasium.make("CartPole-v1")
    box = made.observation_space.box
    assert list(box.shape) == [4] and box.dtype == pb.FLOAT32
    assert from_tensor(box.low).tobytes() == single.observation_space.low.astype(np.float64).tobytes()
    assert from_tensor(box.high).tobytes() == single.observation_space.high.astype(np.float64).tobytes()
    assert box.low.dtype == pb.FLOAT64 and list(box.low.shape) == [4]
    assert made.action_space.WhichOneof("kind") == "discrete"
    assert (made.action_space.discrete.n, made.action_space.discrete.start) == (2, 0)
    spec = json.loads(made.spec_json)
    assert spec["id"] == "CartPole-v1" and spec["max_episode_steps"] == 500
    stub.Close(pb.CloseRequest(env_handle=made.env_handle))


def test_num_envs_zero_means_one(stub: Any) -> None:
    made = make(stub, "CartPole-v1", num_envs=0)
    assert made.num_envs == 1
    obs = from_value(reset(stub, made.env_handle, seeds=[0]).observation)
    assert obs.shape == (1, 4)


def test_make_mountain_car_continuous(stub: Any) -> None:
    made = make(stub, "MountainCarContinuous-v0", num_envs=2, mode=pb.NEXT_STEP, max_episode_steps=7)
    assert made.autoreset_mode == pb.NEXT_STEP
    act = made.action_space.box
    assert list(act.shape) == [1] and act.dtype == pb.FLOAT32
    assert from_tensor(act.low).tolist() == [-1.0] and from_tensor(act.high).tolist() == [1.0]
    obs = made.observation_space.box
    assert list(obs.shape) == [2] and obs.dtype == pb.FLOAT32
    assert json.loads(made.spec_json)["max_episode_steps"] == 7


# ---------------------------------------------------------------------------------------------
# Reset / step against in-process gymnasium
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_envs", [1, 4])
def test_reset_seed_matches_gymnasium_make(stub: Any, num_envs: int) -> None:
    handle = make(stub, "CartPole-v1", num_envs=num_envs).env_handle
    obs = from_value(reset(stub, handle, seeds=[42]).observation)
    assert obs.shape == (num_envs, 4) and obs.dtype == np.float32
    for i in range(num_envs):
        single, _ = gymnasium.make("CartPole-v1").reset(seed=42 + i)
        assert obs[i].tobytes() == single.tobytes()
    seeds = [5, 900, 13, 2][:num_envs]
    obs = from_value(reset(stub, handle, seeds=seeds).observation)
    for i, seed in enumerate(seeds):
        assert obs[i].tobytes() == gymnasium.make("CartPole-v1").reset(seed=seed)[0].tobytes()


ROLLOUTS = [
    pytest.param("CartPole-v1", 4, 0, 300, id="CartPole-x4"),
    pytest.param("CartPole-v1", 1, 0, 120, id="CartPole-x1"),
    pytest.param("MountainCarContinuous-v0", 3, 25, 80, id="MountainCarContinuous-x3"),
    pytest.param("rql4j-test/Info-v0", 3, 5, 60, id="Info-x3"),
]


@pytest.mark.parametrize("mode", [pb.SAME_STEP, pb.NEXT_STEP, pb.DISABLED], ids=["same_step", "next_step", "disabled"])
@pytest.mark.parametrize(("env_id", "num_envs", "max_episode_steps", "steps"), ROLLOUTS)
def test_rollout_matches_sync_vector_env(
    stub: Any, env_id: str, num_envs: int, max_episode_steps: int, steps: int, mode: int
) -> None:
    handle = make(stub, env_id, num_envs, mode, max_episode_steps=max_episode_steps).env_handle
    ref = reference(env_id, num_envs, mode, max_episode_steps=max_episode_steps)
    obs_space, act_space = ref.single_observation_space, ref.single_action_space
    ref.action_space.seed(1234)

    response = reset(stub, handle, seeds=[11])
    ref_obs, ref_info = ref.reset(seed=11)
    assert_value(response.observation, ref_obs, obs_space)
    assert info_dict(response.info) == expected_info(ref_info, num_envs)

    ends = finals = 0
    for t in range(steps):
        action = ref.action_space.sample()
        response = step(stub, handle, action, act_space)
        ref_obs, ref_reward, ref_term, ref_trunc, ref_info = ref.step(action)
        assert_value(response.observation, ref_obs, obs_space)
        assert from_tensor(response.reward).tobytes() == ref_reward.tobytes(), t
        assert from_tensor(response.terminated).tolist() == ref_term.tolist(), t
        assert from_tensor(response.truncated).tolist() == ref_trunc.tolist(), t
        assert response.reward.dtype == pb.FLOAT64 and response.terminated.dtype == pb.BOOL
        assert info_dict(response.info) == expected_info(ref_info, num_envs), t
        ended = ref_term | ref_trunc
        ends += int(ended.sum())
        if mode == pb.SAME_STEP and ended.any():
            finals += 1
            rows = ref_info["final_obs"]
            expected = np.zeros((num_envs, *obs_space.shape), obs_space.dtype)
            for i in np.flatnonzero(ended):
                expected[i] = rows[i]
            assert_value(response.final_observation, expected, obs_space)
        else:
            assert not response.HasField("final_observation"), t
        if mode == pb.DISABLED and ended.any():
            error = rpc_error(step, stub, handle, action, act_space)
            assert_error(error, PRECONDITION, str(np.flatnonzero(ended).tolist()), "reset_mask")
            masked = reset(stub, handle, mask=ended)
            ref_obs, ref_info = ref.reset(options={"reset_mask": ended.copy()})
            assert_value(masked.observation, ref_obs, obs_space)
            assert info_dict(masked.info) == expected_info(ref_info, num_envs)
    assert ends > 0, "the rollout should cross episode ends"
    if mode == pb.SAME_STEP:
        assert finals > 0
    stub.Close(pb.CloseRequest(env_handle=handle))


def test_same_step_info_describes_the_ended_step(stub: Any) -> None:
    handle = make(stub, "rql4j-test/Info-v0", num_envs=2, mode=pb.SAME_STEP).env_handle
    reset(stub, handle, seeds=[0])
    step(stub, handle, np.array([0, 0]), spaces.Discrete(3))
    response = step(stub, handle, np.array([2, 1]), spaces.Discrete(3))  # copy 0 terminates at t=2
    assert from_tensor(response.terminated).tolist() == [True, False]
    info = info_dict(response.info)
    assert info["t"] == ([2.0, 2.0], [True, True])  # the ended step's t, not the reset's 0
    assert info["basic_reward"] == ([2.25, 1.25], [True, True])
    assert info["flag"] == ([1.0, 1.0], [True, True])
    assert "from_reset" not in info and "noise" not in info  # the reset's info is not this step's
    assert "name" not in info and "vec" not in info  # non-numeric entries are not sent
    assert from_value(response.observation)[0].tolist() == [0.0, 1.0]  # new episode's first obs
    assert from_value(response.final_observation).tolist() == [[2.0, 0.0], [0.0, 0.0]]


def test_next_step_reports_the_reset(stub: Any) -> None:
    handle = make(stub, "rql4j-test/Info-v0", num_envs=2, mode=pb.NEXT_STEP).env_handle
    reset(stub, handle, seeds=[0])
    ended = step(stub, handle, np.array([2, 0]), spaces.Discrete(3))
    assert from_value(ended.observation)[0].tolist() == [1.0, 0.0]  # last obs of the ended episode
    after = step(stub, handle, np.array([1, 0]), spaces.Discrete(3))
    assert from_tensor(after.reward).tolist() == [0.0, 0.25]
    info = info_dict(after.info)
    assert info["from_reset"] == ([1.0, 0.0], [True, False])
    assert info["t"] == ([0.0, 2.0], [True, True])


def test_reset_mask_keeps_other_rows(stub: Any) -> None:
    handle = make(stub, "CartPole-v1", num_envs=3, mode=pb.NEXT_STEP).env_handle
    first = from_value(reset(stub, handle, seeds=[3]).observation)
    stepped = from_value(step(stub, handle, np.array([1, 1, 1]), spaces.Discrete(2)).observation)
    masked = from_value(reset(stub, handle, seeds=[100], mask=np.array([False, True, False])).observation)
    assert masked[0].tobytes() == stepped[0].tobytes() and masked[2].tobytes() == stepped[2].tobytes()
    assert masked[1].tobytes() == gymnasium.make("CartPole-v1").reset(seed=101)[0].tobytes()
    assert masked[1].tobytes() != first[1].tobytes()


def test_int32_discrete_actions_are_accepted(stub: Any) -> None:
    a = make(stub, "CartPole-v1", num_envs=2).env_handle
    b = make(stub, "CartPole-v1", num_envs=2).env_handle
    reset(stub, a, seeds=[9])
    reset(stub, b, seeds=[9])
    for action in ([0, 1], [1, 1], [1, 0]):
        ra = step(stub, a, to_value(np.array(action, np.int64)))
        rb = step(stub, b, to_value(np.array(action, np.int32)))
        assert ra == rb


def test_step_stream_matches_unary_steps(stub: Any) -> None:
    unary = make(stub, "CartPole-v1", num_envs=4).env_handle
    streamed = make(stub, "CartPole-v1", num_envs=4).env_handle
    reset(stub, unary, seeds=[21])
    reset(stub, streamed, seeds=[21])
    rng = np.random.default_rng(0)
    actions = [rng.integers(0, 2, size=4) for _ in range(200)]
    expected = [step(stub, unary, a, spaces.Discrete(2)) for a in actions]
    requests = (pb.StepRequest(env_handle=streamed, action=to_value(a, spaces.Discrete(2))) for a in actions)
    got = list(stub.StepStream(requests))
    assert len(got) == len(expected)
    assert all(g == e for g, e in zip(got, expected, strict=True))


def test_step_stream_error_ends_the_stream_env_stays_usable(stub: Any) -> None:
    handle = make(stub, "CartPole-v1", num_envs=2).env_handle
    reset(stub, handle, seeds=[1])
    good = pb.StepRequest(env_handle=handle, action=to_value(np.array([0, 1])))
    bad = pb.StepRequest(env_handle=handle, action=to_value(np.array([0, 7])))
    responses = stub.StepStream(iter([good, good, bad, good]))
    received = []
    with pytest.raises(grpc.RpcError) as error:
        for r in responses:
            received.append(r)
    assert len(received) == 2
    assert_error(error.value, INVALID, "copy 1", "7", "Discrete(2)")
    step(stub, handle, np.array([1, 1]), spaces.Discrete(2))


def test_concurrent_envs(stub: Any) -> None:
    handles = [make(stub, "CartPole-v1", num_envs=2).env_handle for _ in range(4)]
    errors: list[BaseException] = []

    def run(handle: str) -> None:
        try:
            reset(stub, handle, seeds=[0])
            requests = (pb.StepRequest(env_handle=handle, action=to_value(np.array([0, 1]))) for _ in range(100))
            assert len(list(stub.StepStream(requests))) == 100
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(h,)) for h in handles]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_unknown_env_id(stub: Any) -> None:
    error = rpc_error(make, stub, "CartPoleX-v1")
    assert_error(error, NOT_FOUND, "CartPoleX", "doesn't exist", "installed in the server's Python")
    error = rpc_error(make, stub, "no_such_module:Foo-v0")  # a request never imports a module (issue 18)
    assert_error(error, INVALID, "no_such_module", "--import no_such_module")


def test_malformed_json(stub: Any) -> None:
    error = rpc_error(stub.Make, pb.MakeRequest(env_id="CartPole-v1", kwargs_json="{oops"))
    assert_error(error, INVALID, "kwargs_json", "not valid JSON")
    error = rpc_error(stub.Make, pb.MakeRequest(env_id="CartPole-v1", kwargs_json="[1, 2]"))
    assert_error(error, INVALID, "kwargs_json", "JSON object")
    handle = make(stub, "CartPole-v1").env_handle
    error = rpc_error(reset, stub, handle, options="{'single': 'quotes'}")
    assert_error(error, INVALID, "options_json")


def test_bad_make_arguments(stub: Any) -> None:
    assert_error(rpc_error(make, stub, ""), INVALID, "env_id")
    assert_error(rpc_error(make, stub, "CartPole-v1", num_envs=-2), INVALID, "num_envs")
    assert_error(rpc_error(make, stub, "CartPole-v1", mode=9), INVALID, "autoreset_mode")
    assert_error(rpc_error(make, stub, "CartPole-v1", max_episode_steps=-1), INVALID, "max_episode_steps")


def test_env_constructor_error_is_internal(stub: Any) -> None:
    error = rpc_error(make, stub, "CartPole-v1", kwargs={"no_such_kwarg": 1})
    assert_error(error, INTERNAL, "TypeError", "no_such_kwarg")


def test_unsupported_space(stub: Any) -> None:
    error = rpc_error(make, stub, "rql4j-test/Text-v0")
    assert_error(error, grpc.StatusCode.UNIMPLEMENTED, "Text", "supported spaces")


def test_unknown_handle(stub: Any) -> None:
    assert_error(rpc_error(reset, stub, "nope"), NOT_FOUND, "unknown env handle")
    assert_error(rpc_error(step, stub, "nope", np.array([0]), spaces.Discrete(2)), NOT_FOUND, "unknown env handle")
    assert_error(rpc_error(stub.Close, pb.CloseRequest(env_handle="nope")), NOT_FOUND, "unknown env handle")
    assert_error(rpc_error(reset, stub, ""), NOT_FOUND, "empty")


def test_close_is_idempotent_and_final(stub: Any) -> None:
    handle = make(stub, "CartPole-v1").env_handle
    reset(stub, handle)
    stub.Close(pb.CloseRequest(env_handle=handle))
    stub.Close(pb.CloseRequest(env_handle=handle))
    assert_error(rpc_error(step, stub, handle, np.array([0]), spaces.Discrete(2)), NOT_FOUND, "closed")
    assert_error(rpc_error(reset, stub, handle), NOT_FOUND, "closed")


def test_step_before_reset(stub: Any) -> None:
    handle = make(stub, "CartPole-v1", num_envs=2).env_handle
    error = rpc_error(step, stub, handle, np.array([0, 1]), spaces.Discrete(2))
    assert_error(error, PRECONDITION, "call Reset first")
    error = rpc_error(reset, stub, handle, mask=np.array([True, False]))
    assert_error(error, PRECONDITION, "copies [1]", "without reset_mask")
    reset(stub, handle, mask=np.array([True, True]))
    step(stub, handle, np.array([0, 1]), spaces.Discrete(2))


def test_bad_actions(stub: Any) -> None:
    handle = make(stub, "CartPole-v1", num_envs=4).env_handle
    reset(stub, handle, seeds=[0])
    error = rpc_error(step, stub, handle, to_value(np.array([0, 1, 1], np.int64)))
    assert_error(error, INVALID, "batch size", "expected 4", "got 3")
    error = rpc_error(step, stub, handle, to_value(np.array([0, 1, 1, 0], np.float32)))
    assert_error(error, INVALID, "INT64", "FLOAT32")
    error = rpc_error(step, stub, handle, to_value(np.array([[0], [1], [1], [0]], np.int64)))
    assert_error(error, INVALID, "shape", "[4]", "[4, 1]")
    error = rpc_error(step, stub, handle, to_value(np.array([0, 1, 5, 0], np.int64)))
    assert_error(error, INVALID, "copy 2", "5", "Discrete(2)")
    error = rpc_error(step, stub, handle, to_value({"a": np.zeros(4, np.int64)}))
    assert_error(error, INVALID, "expected a tensor")
    error = rpc_error(stub.Step, pb.StepRequest(env_handle=handle))
    assert_error(error, INVALID, "action is missing")
    broken = pb.Value(tensor=pb.Tensor(dtype=pb.INT64, shape=[4], data=b"\x00" * 5))
    assert_error(rpc_error(step, stub, handle, broken), INVALID, "needs 32 bytes, got 5")
    step(stub, handle, np.array([0, 1, 1, 0]), spaces.Discrete(2))  # still usable


def test_box_action_outside_bounds(stub: Any) -> None:
    handle = make(stub, "MountainCarContinuous-v0", num_envs=2).env_handle
    reset(stub, handle, seeds=[0])
    error = rpc_error(step, stub, handle, to_value(np.array([[0.5], [1.5]], np.float32)))
    assert_error(error, INVALID, "copy 1", "1.5", "Box(")
    error = rpc_error(step, stub, handle, to_value(np.array([[np.nan], [0.0]], np.float32)))
    assert_error(error, INVALID, "copy 0", "nan")
    error = rpc_error(step, stub, handle, to_value(np.array([[0.5], [0.5]], np.float64)))
    assert_error(error, INVALID, "FLOAT32", "FLOAT64")


def test_bad_seeds_and_masks(stub: Any) -> None:
    handle = make(stub, "CartPole-v1", num_envs=3).env_handle
    assert_error(rpc_error(reset, stub, handle, seeds=[1, 2]), INVALID, "seeds", "num_envs = 3", "got 2")
    assert_error(rpc_error(reset, stub, handle, seeds=[-1]), INVALID, "non-negative")
    assert_error(rpc_error(reset, stub, handle, mask=np.array([True, False])), INVALID, "BOOL [3]")
    assert_error(rpc_error(reset, stub, handle, mask=np.array([1, 0, 0], np.int8)), INVALID, "BOOL [3]", "INT8")
    assert_error(rpc_error(reset, stub, handle, mask=np.zeros(3, bool)), INVALID, "names no copy")
    error = rpc_error(reset, stub, handle, options='{"reset_mask": [true, false, true]}')
    assert_error(error, INVALID, "reset_mask field")


def test_disabled_mode_requires_masked_reset(stub: Any) -> None:
    handle = make(stub, "rql4j-test/Info-v0", num_envs=3, mode=pb.DISABLED).env_handle
    reset(stub, handle, seeds=[0])
    response = step(stub, handle, np.array([0, 2, 2]), spaces.Discrete(3))
    assert from_tensor(response.terminated).tolist() == [False, True, True]
    error = rpc_error(step, stub, handle, np.array([0, 0, 0]), spaces.Discrete(3))
    assert_error(error, PRECONDITION, "copies [1, 2]", "DISABLED", "reset_mask")
    reset(stub, handle, mask=np.array([False, True, False]))
    error = rpc_error(step, stub, handle, np.array([0, 0, 0]), spaces.Discrete(3))
    assert_error(error, PRECONDITION, "copies [2]")
    masked = reset(stub, handle, mask=np.array([False, False, True]))
    assert from_value(masked.observation).tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    step(stub, handle, np.array([0, 0, 0]), spaces.Discrete(3))


def test_env_exception_is_internal(stub: Any) -> None:
    handle = make(stub, "rql4j-test/Boom-v0", num_envs=2).env_handle
    reset(stub, handle, seeds=[0])
    step(stub, handle, np.array([0, 1]), spaces.Discrete(3))
    error = rpc_error(step, stub, handle, np.array([0, 2]), spaces.Discrete(3))
    assert_error(error, INTERNAL, "RuntimeError", "boom: action 2 is not allowed here")
    error = rpc_error(step, stub, handle, np.array([0, 1]), spaces.Discrete(3))
    assert_error(error, PRECONDITION, "RuntimeError in step", "call Reset")
    reset(stub, handle)
    step(stub, handle, np.array([0, 1]), spaces.Discrete(3))


def test_reset_mask_tensor_helper_round_trip() -> None:
    mask = np.array([True, False, True])
    tensor = to_tensor(mask)
    assert tensor.dtype == pb.BOOL and tensor.data == b"\x01\x00\x01"
