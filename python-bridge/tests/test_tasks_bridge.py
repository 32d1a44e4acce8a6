"""The task envs served over gRPC: the reward parts arrive as info columns, kwargs pass through."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from bridge_helpers import info_dict, make, reset, step

import rql4j_bridge.tasks  # noqa: F401  (registers the ids, as `rql4j-bridge serve` does)
from rql4j_bridge import cli
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.tensors import from_tensor

pytest.importorskip("highway_env")


def test_serve_imports_the_tasks() -> None:
    assert "rql4j_bridge.tasks" in cli.AUTO_IMPORTS


@pytest.mark.parametrize(
    ("env_id", "kwargs", "action", "extra_keys"),
    [
        ("rql4j/cartpole-center-total-v0", None, np.array([1, 0]), set()),
        ("rql4j/highway-rightlane-total-v0", {"config": {"vehicles_count": 5}}, np.array([1, 2]), set()),
        ("rql4j/parking-boundary-total-v0", None, np.zeros((2, 2), np.float32), {"is_success"}),
    ],
)
def test_reward_parts_arrive_as_info_columns(
    stub: Any, env_id: str, kwargs: dict[str, Any] | None, action: np.ndarray, extra_keys: set[str]
) -> None:
    made = make(stub, env_id, num_envs=2, kwargs=kwargs)
    assert json.loads(made.spec_json)["id"] == env_id
    reset(stub, made.env_handle, seeds=[3])
    response = step(stub, made.env_handle, action)
    info = info_dict(response.info)
    assert {"basic_reward", "addon_reward"} | extra_keys <= info.keys()
    basic, addon = np.array(info["basic_reward"][0]), np.array(info["addon_reward"][0])
    assert info["basic_reward"][1] == info["addon_reward"][1] == [True, True]
    np.testing.assert_allclose(from_tensor(response.reward), basic + addon, atol=1e-12)
    stub.Close(pb.CloseRequest(env_handle=made.env_handle))
