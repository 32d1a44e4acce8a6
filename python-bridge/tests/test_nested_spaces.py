"""Dict and Tuple spaces through the server: spaces, observations and nested actions round-trip."""

from __future__ import annotations

from typing import Any

import grpc
import gymnasium
import numpy as np
import pytest
from bridge_helpers import assert_error, assert_value, make, reference, reset, rpc_error, step
from gymnasium import spaces

from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.tensors import from_tensor, from_value, to_value


class GoalEnv(gymnasium.Env):
    """Dict observation (goal-conditioned style), Tuple action (Discrete, Box)."""

    # Given unsorted on purpose: gymnasium sorts plain-dict keys, and the wire follows the space.
    observation_space = spaces.Dict(
        {
            "goal": spaces.Box(-10.0, 10.0, (3,), np.float32),
            "achieved": spaces.Box(-10.0, 10.0, (3,), np.float32),
            "count": spaces.Discrete(100),
        }
    )
    action_space = spaces.Tuple((spaces.Discrete(3), spaces.Box(-1.0, 1.0, (2,), np.float32)))

    def _obs(self) -> dict[str, Any]:
        return {"goal": self.goal.copy(), "achieved": self.achieved.copy(), "count": self.count}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.goal = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        self.achieved = np.zeros(3, np.float32)
        self.count = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        axis, delta = action
        self.achieved[int(axis)] += delta[0] - delta[1]
        self.count += 1
        distance = float(np.linalg.norm(self.achieved - self.goal))
        return self._obs(), -distance, distance < 0.3, False, {"distance": distance}


class TupleObsEnv(gymnasium.Env):
    """Tuple observation of every leaf kind; Dict action of MultiDiscrete and MultiBinary."""

    observation_space = spaces.Tuple(
        (
            spaces.Discrete(5, start=-2),
            spaces.Box(0.0, 1.0, (2,), np.float64),
            spaces.MultiBinary(3),
            spaces.MultiDiscrete([2, 3]),
            spaces.Box(0, 255, (2, 2), np.uint8),
        )
    )
    action_space = spaces.Dict({"move": spaces.MultiDiscrete([3, 4]), "flags": spaces.MultiBinary(2)})

    def _obs(self) -> tuple:
        r = self.np_random
        return (
            int(r.integers(-2, 3)),
            r.random(2),
            r.integers(0, 2, 3).astype(np.int8),
            r.integers([0, 0], [2, 3]),
            r.integers(0, 256, (2, 2)).astype(np.uint8),
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[tuple, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[tuple, float, bool, bool, dict]:
        self.t += 1
        reward = float(action["move"].sum() + action["flags"].sum())
        return self._obs(), reward, bool(action["flags"].all()), False, {}


gymnasium.register("rql4j-test/Goal-v0", entry_point=GoalEnv, max_episode_steps=12)
gymnasium.register("rql4j-test/TupleObs-v0", entry_point=TupleObsEnv, max_episode_steps=9)


def test_dict_space_proto(stub: Any) -> None:
    made = make(stub, "rql4j-test/Goal-v0", num_envs=2)
    entries = made.observation_space.dict.entries
    assert [e.key for e in entries] == list(GoalEnv.observation_space.spaces)
    assert [e.key for e in entries] == ["achieved", "count", "goal"]
    assert entries[0].space.box.dtype == pb.FLOAT32 and list(entries[0].space.box.shape) == [3]
    assert entries[1].space.discrete.n == 100
    assert from_tensor(entries[2].space.box.low).tolist() == [-10.0] * 3
    items = made.action_space.tuple.spaces
    assert items[0].discrete.n == 3 and list(items[1].box.shape) == [2]


def test_tuple_space_proto(stub: Any) -> None:
    made = make(stub, "rql4j-test/TupleObs-v0")
    items = made.observation_space.tuple.spaces
    assert [s.WhichOneof("kind") for s in items] == ["discrete", "box", "multi_binary", "multi_discrete", "box"]
    assert (items[0].discrete.n, items[0].discrete.start) == (5, -2)
    assert items[1].box.dtype == pb.FLOAT64
    assert list(items[2].multi_binary.shape) == [3]
    md = items[3].multi_discrete
    assert from_tensor(md.nvec).tolist() == [2, 3] and from_tensor(md.start).tolist() == [0, 0]
    assert md.nvec.dtype == pb.INT64 and md.dtype == pb.INT64
    assert items[4].box.dtype == pb.UINT8 and from_tensor(items[4].box.high).tolist() == [[255.0] * 2] * 2
    action = made.action_space.dict.entries
    assert [e.key for e in action] == ["flags", "move"]


@pytest.mark.parametrize("env_id", ["rql4j-test/Goal-v0", "rql4j-test/TupleObs-v0"])
@pytest.mark.parametrize("mode", [pb.SAME_STEP, pb.NEXT_STEP])
def test_nested_rollout_matches_sync_vector_env(stub: Any, env_id: str, mode: int) -> None:
    n = 3
    handle = make(stub, env_id, num_envs=n, mode=mode).env_handle
    ref = reference(env_id, n, mode)
    obs_space, act_space = ref.single_observation_space, ref.single_action_space
    ref.action_space.seed(7)
    assert_value(reset(stub, handle, seeds=[5]).observation, ref.reset(seed=5)[0], obs_space)
    finals = 0
    for _ in range(40):
        action = ref.action_space.sample()
        response = step(stub, handle, action, act_space)
        obs, reward, terminated, truncated, info = ref.step(action)
        assert_value(response.observation, obs, obs_space)
        assert from_tensor(response.reward).tobytes() == reward.tobytes()
        assert from_tensor(response.terminated).tolist() == terminated.tolist()
        assert from_tensor(response.truncated).tolist() == truncated.tolist()
        if mode == pb.SAME_STEP and "final_obs" in info:
            finals += 1
            decoded = from_value(response.final_observation)
            for i in range(n):
                if info["_final_obs"][i]:
                    assert_value(to_value(_row(decoded, i)), info["final_obs"][i], obs_space)
                else:
                    zero_leaves = [np.all(leaf[i] == 0) for leaf in _leaves(decoded)]
                    assert all(zero_leaves)
    if mode == pb.SAME_STEP:
        assert finals > 0


def test_nested_action_errors(stub: Any) -> None:
    handle = make(stub, "rql4j-test/TupleObs-v0", num_envs=2).env_handle
    reset(stub, handle, seeds=[0])
    space = TupleObsEnv.action_space
    good = {"move": np.array([[0, 1], [2, 3]]), "flags": np.array([[0, 1], [1, 0]], np.int8)}
    step(stub, handle, good, space)
    bad = {"move": np.array([[0, 1], [3, 3]]), "flags": good["flags"]}
    assert_error(
        rpc_error(step, stub, handle, bad, space), grpc.StatusCode.INVALID_ARGUMENT, "copy 1", "'move'", "[3, 3]"
    )
    missing = to_value({"move": good["move"]})
    assert_error(rpc_error(step, stub, handle, missing), grpc.StatusCode.INVALID_ARGUMENT, "keys", "flags")
    as_bool = {"move": good["move"], "flags": good["flags"].astype(bool)}
    step(stub, handle, to_value(as_bool), None)  # MultiBinary also accepts BOOL


def _leaves(x: Any) -> list[np.ndarray]:
    if isinstance(x, dict):
        return [leaf for v in x.values() for leaf in _leaves(v)]
    if isinstance(x, tuple):
        return [leaf for v in x for leaf in _leaves(v)]
    return [x]


def _row(x: Any, i: int) -> Any:
    if isinstance(x, dict):
        return {k: _row(v, i) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(_row(v, i) for v in x)
    return x[i]
