"""Helpers shared by the bridge tests: thin wrappers over the generated stub and reference envs."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import grpc
import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc
from rql4j_bridge.tensors import from_tensor, from_value, to_tensor, to_value

Stub = pb_grpc.EnvServiceStub

MODES = {
    pb.SAME_STEP: AutoresetMode.SAME_STEP,
    pb.NEXT_STEP: AutoresetMode.NEXT_STEP,
    pb.DISABLED: AutoresetMode.DISABLED,
}


def make(
    stub: Stub,
    env_id: str,
    num_envs: int = 1,
    mode: int = pb.SAME_STEP,
    kwargs: dict[str, Any] | None = None,
    max_episode_steps: int = 0,
) -> pb.MakeResponse:
    return stub.Make(
        pb.MakeRequest(
            env_id=env_id,
            num_envs=num_envs,
            autoreset_mode=mode,
            kwargs_json=json.dumps(kwargs) if kwargs else "",
            max_episode_steps=max_episode_steps,
        )
    )


def reset(
    stub: Stub, handle: str, seeds: tuple[int, ...] | list[int] = (), mask: np.ndarray | None = None, options: str = ""
) -> pb.ResetResponse:
    request = pb.ResetRequest(env_handle=handle, seeds=list(seeds), options_json=options)
    if mask is not None:
        request.reset_mask.CopyFrom(to_tensor(mask))
    return stub.Reset(request)


def step(stub: Stub, handle: str, action: Any, space: spaces.Space | None = None) -> pb.StepResponse:
    value = action if isinstance(action, pb.Value) else to_value(action, space)
    return stub.Step(pb.StepRequest(env_handle=handle, action=value))


def reference(
    env_id: str, num_envs: int, mode: int, kwargs: dict[str, Any] | None = None, max_episode_steps: int = 0
) -> SyncVectorEnv:
    """An in-process vector env built exactly as the server builds one."""
    make_kwargs = dict(kwargs or {})
    if max_episode_steps > 0:
        make_kwargs["max_episode_steps"] = max_episode_steps
    return SyncVectorEnv(
        [functools.partial(gymnasium.make, env_id, **make_kwargs) for _ in range(num_envs)],
        autoreset_mode=MODES[mode],
    )


def rpc_error(call: Callable[..., Any], *args: Any, **kwargs: Any) -> grpc.RpcError:
    """Calls ``call`` and returns the RpcError it must raise."""
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return info.value


def assert_error(error: grpc.RpcError, code: grpc.StatusCode, *fragments: str) -> None:
    assert error.code() == code, f"{error.code()}: {error.details()}"
    for fragment in fragments:
        assert fragment in error.details(), f"{fragment!r} not in {error.details()!r}"


def assert_value(actual: pb.Value, expected: Any, space: spaces.Space) -> None:
    """Bit-for-bit: same structure, wire dtypes, shapes and bytes."""
    wanted = to_value(expected, space)
    if actual != wanted:
        raise AssertionError(f"values differ:\nactual   {from_value(actual)!r}\nexpected {from_value(wanted)!r}")


def info_dict(columns: Any) -> dict[str, tuple[list[float], list[bool]]]:
    return {key: (from_tensor(c.values).tolist(), from_tensor(c.present).tolist()) for key, c in columns.items()}


_SCALAR = (bool, int, float, np.bool_, np.integer, np.floating)


def expected_info(info: dict[str, Any], n: int) -> dict[str, tuple[list[float], list[bool]]]:
    """The proto's info semantics, written per copy: an ended copy reports its final_info."""
    ended = info.get("_final_info", np.zeros(n, dtype=bool))
    result: dict[str, tuple[list[float], list[bool]]] = {}
    for i in range(n):
        source = info["final_info"] if ended[i] else info
        for key, values in source.items():
            if key.startswith("_") or key in ("final_obs", "final_info"):
                continue
            if not isinstance(values, np.ndarray) or values.ndim != 1 or not source[f"_{key}"][i]:
                continue
            if isinstance(values[i], _SCALAR):
                column = result.setdefault(key, ([0.0] * n, [False] * n))
                column[0][i] = float(values[i])
                column[1][i] = True
    return result
