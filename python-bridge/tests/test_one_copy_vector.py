"""env_server._OneCopyVectorEnv (the served env when num_envs == 1) against Gymnasium's own SyncVectorEnv."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import rql4j_bridge.tasks  # noqa: F401  (registers rql4j/cartpole-center-*)
from rql4j_bridge.env_server import _OneCopyVectorEnv

# (env id, make kwargs): Box / Discrete observations, Discrete / Box actions, an info dict on every step
# (the task env), short episodes (FrozenLake's holes, CartPole's falls, a 7-step time limit).
ENVS = [
    ("CartPole-v1", {}),
    ("rql4j/cartpole-center-total-v0", {"max_episode_steps": 7}),
    ("MountainCarContinuous-v0", {"max_episode_steps": 9}),
    ("FrozenLake-v1", {}),
]


def _same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
        return
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
        return
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    assert a_arr.dtype == b_arr.dtype and a_arr.shape == b_arr.shape, f"{where}: {a_arr.dtype}{a_arr.shape}"
    assert a_arr.tobytes() == b_arr.tobytes() if a_arr.dtype != object else repr(a) == repr(b), where


def _pair(env_id: str, kwargs: dict, mode: AutoresetMode) -> tuple[SyncVectorEnv, SyncVectorEnv]:
    def make() -> gymnasium.Env:
        return gymnasium.make(env_id, **kwargs)

    return (
        SyncVectorEnv([make], copy=False, autoreset_mode=mode),
        _OneCopyVectorEnv([make], copy=False, autoreset_mode=mode),
    )


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED])
@pytest.mark.parametrize(("env_id", "kwargs"), ENVS)
def test_steps_bit_for_bit_as_sync_vector_env(env_id: str, kwargs: dict, mode: AutoresetMode) -> None:
    ref, ours = _pair(env_id, kwargs, mode)
    rng = np.random.default_rng(3)
    _same(ref.reset(seed=5), ours.reset(seed=5), "reset")
    ends = 0
    for t in range(300):
        action = ref.action_space.sample()
        if isinstance(action, np.ndarray) and action.dtype.kind == "f":
            action = rng.uniform(-1, 1, size=action.shape).astype(action.dtype)
        got_ref, got_ours = ref.step(action), ours.step(action.copy())
        _same(got_ref, got_ours, f"step {t}")
        for field in ("_env_obs", "_rewards", "_terminations", "_truncations", "_autoreset_envs", "_observations"):
            _same(getattr(ref, field), getattr(ours, field), f"step {t} {field}")
        ended = bool(got_ref[2][0] or got_ref[3][0])
        ends += ended
        if ended and mode == AutoresetMode.DISABLED:
            _same(ref.reset(seed=t), ours.reset(seed=t), f"reset after step {t}")
    assert ends >= 3  # the autoreset branches ran
    ref.close()
    ours.close()


def test_tuple_observations_take_the_parents_step() -> None:
    def make() -> gymnasium.Env:
        return gymnasium.make("CartPole-v1")

    ours = _OneCopyVectorEnv([lambda: gymnasium.make("Blackjack-v1")], copy=False)
    assert not ours._flat  # Tuple observations: SyncVectorEnv's own step
    ours.reset(seed=0)
    obs, *_ = ours.step(np.array([0]))
    assert isinstance(obs, tuple) and len(obs) == 3
    with pytest.raises(ValueError, match="one env"):
        _OneCopyVectorEnv([make, make])


def test_a_wrong_observation_shape_raises_as_in_gymnasium() -> None:
    class Wrong(gymnasium.Wrapper):
        def step(self, action: Any) -> Any:
            obs, *rest = self.env.step(action)
            return obs[:2], *rest

    def make() -> gymnasium.Env:
        return Wrong(gymnasium.make("CartPole-v1"))

    for cls in (SyncVectorEnv, _OneCopyVectorEnv):
        vec = cls([make], copy=False)
        vec.reset(seed=0)
        with pytest.raises(ValueError):
            vec.step(np.array([1]))


@pytest.mark.parametrize("num_envs", [1, 3])
@pytest.mark.parametrize(("env_id", "kwargs"), ENVS)
def test_the_step_template_serializes_as_the_messages_built_anew(env_id: str, kwargs: dict, num_envs: int) -> None:
    """The served Step reply, byte for byte, with and without _Env.step_template (the generic path)."""
    import json

    from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
    from rql4j_bridge.py4j_server import Py4jBridgeService, decode_reply
    from rql4j_bridge.tensors import to_tensor

    services, handles = [Py4jBridgeService(), Py4jBridgeService()], []
    for svc in services:
        make = pb.MakeRequest(env_id=env_id, num_envs=num_envs, kwargs_json=json.dumps(kwargs))
        code, body = decode_reply(svc.call("rql4j.v1.EnvService/Make", make.SerializeToString()))
        assert code == 0, body
        handles.append(pb.MakeResponse.FromString(body).env_handle)
        reset = pb.ResetRequest(env_handle=handles[-1], seeds=list(range(num_envs)))
        assert decode_reply(svc.call("rql4j.v1.EnvService/Reset", reset.SerializeToString()))[0] == 0
    generic = services[1].env_servicer._envs[handles[1]]
    assert services[0].env_servicer._envs[handles[0]].step_template is not None
    generic.step_template = None
    space = generic.vec.single_action_space
    rng = np.random.default_rng(1)
    ends = 0
    for _ in range(150):
        if isinstance(space, gymnasium.spaces.Discrete):
            action = rng.integers(0, space.n, size=num_envs).astype(np.int64)
        else:
            action = rng.uniform(-1, 1, size=(num_envs, *space.shape)).astype(space.dtype)
        replies = [
            svc.call(
                "rql4j.v1.EnvService/Step",
                pb.StepRequest(env_handle=h, action=pb.Value(tensor=to_tensor(action))).SerializeToString(),
            )
            for svc, h in zip(services, handles, strict=True)
        ]
        assert replies[0] == replies[1]
        code, body = decode_reply(replies[0])
        assert code == 0, body
        ends += pb.StepResponse.FromString(body).HasField("final_observation")
    assert ends >= 2


def test_observations_of_another_dtype_cast_or_raise_as_in_gymnasium() -> None:
    """A step's float observation for an integer Box raises (same_kind casting); float64 for float32 is cast."""

    class StepsAs(gymnasium.Wrapper):
        def __init__(self, env: gymnasium.Env, dtype: Any, space_dtype: Any) -> None:
            super().__init__(env)
            self.dtype = dtype
            self.observation_space = gymnasium.spaces.Box(-10, 10, (4,), space_dtype)

        def reset(self, **kwargs: Any) -> Any:
            obs, info = self.env.reset(**kwargs)
            return obs.astype(self.observation_space.dtype), info

        def step(self, action: Any) -> Any:
            obs, *rest = self.env.step(action)
            return np.asarray(obs, dtype=self.dtype) + 0.5, *rest

    for obs_dtype, space_dtype, raises in [(np.float64, np.float32, False), (np.float64, np.int64, True)]:
        results = []
        for cls in (SyncVectorEnv, _OneCopyVectorEnv):
            vec = cls([lambda d=obs_dtype, s=space_dtype: StepsAs(gymnasium.make("CartPole-v1"), d, s)], copy=False)
            vec.reset(seed=0)
            if raises:
                with pytest.raises(TypeError, match="same_kind"):
                    vec.step(np.array([1]))
            else:
                results.append(vec.step(np.array([1]))[0].copy())
        if not raises:
            _same(results[0], results[1], "cast observation")
