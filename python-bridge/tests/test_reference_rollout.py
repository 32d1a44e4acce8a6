"""compat-tests/python/reference_rollout.py agrees byte for byte with the server's responses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bridge_helpers import make, reset

from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.tensors import from_tensor, from_value, to_tensor, to_value

SCRIPT = Path(__file__).resolve().parents[2] / "compat-tests" / "python" / "reference_rollout.py"
MODES = {"same_step": pb.SAME_STEP, "next_step": pb.NEXT_STEP, "disabled": pb.DISABLED}


def write_actions(path: Path, actions: np.ndarray) -> None:
    header = json.dumps({"dtype": actions.dtype.name, "shape": list(actions.shape)})
    path.write_bytes(header.encode() + b"\n" + actions.astype(actions.dtype.newbyteorder("<")).tobytes())


def read_rollout(path: Path) -> tuple[dict[str, Any], dict[str, bytes], dict[str, np.ndarray]]:
    raw = path.read_bytes()
    newline = raw.index(b"\n")
    header = json.loads(raw[:newline])
    payload = raw[newline + 1 :]
    blobs, arrays = {}, {}
    for entry in header["arrays"]:
        blob = payload[entry["offset"] : entry["offset"] + entry["nbytes"]]
        blobs[entry["name"]] = blob
        arrays[entry["name"]] = np.frombuffer(blob, dtype=np.dtype(entry["dtype"]).newbyteorder("<")).reshape(
            entry["shape"]
        )
    assert sum(e["nbytes"] for e in header["arrays"]) == len(payload)
    return header, blobs, arrays


def run_reference(
    tmp_path: Path, mode: str, actions: np.ndarray, env_id: str = "CartPole-v1", extra: tuple[str, ...] = ()
) -> Path:
    actions_file, out = tmp_path / "actions.bin", tmp_path / "rollout.bin"
    write_actions(actions_file, actions)
    subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--env-id",
            env_id,
            "--num-envs",
            str(actions.shape[1]),
            "--autoreset-mode",
            mode,
            "--seed",
            "7",
            "--actions",
            str(actions_file),
            "--out",
            str(out),
            *extra,
        ],
        check=True,
    )
    return out


@pytest.mark.parametrize("mode", list(MODES))
def test_cartpole_reference_matches_server(stub: Any, tmp_path: Path, mode: str) -> None:
    steps, n = 150, 4
    actions = np.random.default_rng(3).integers(0, 2, size=(steps, n)).astype(np.int64)
    header, blobs, arrays = read_rollout(run_reference(tmp_path, mode, actions))
    assert header["format"] == "rql4j-reference-rollout/1" and header["steps"] == steps and header["num_envs"] == n

    handle = make(stub, "CartPole-v1", num_envs=n, mode=MODES[mode]).env_handle
    assert reset(stub, handle, seeds=[7]).observation.tensor.data == blobs["reset_observation"]
    obs_size = arrays["observation"][0].nbytes
    ended_total = 0
    for t in range(steps):
        r = stub.Step(pb.StepRequest(env_handle=handle, action=to_value(actions[t])))
        assert r.observation.tensor.data == blobs["observation"][t * obs_size : (t + 1) * obs_size], t
        assert r.reward.data == arrays["reward"][t].tobytes()
        assert r.terminated.data == arrays["terminated"][t].tobytes()
        assert r.truncated.data == arrays["truncated"][t].tobytes()
        ended = from_tensor(r.terminated) | from_tensor(r.truncated)
        ended_total += int(ended.sum())
        if mode == "same_step":
            assert arrays["final_mask"][t].tolist() == ended.tolist()
            if ended.any():
                assert r.final_observation.tensor.data == arrays["final_observation"][t].tobytes()
            else:
                assert not r.HasField("final_observation") and not arrays["final_observation"][t].any()
        if mode == "disabled":
            assert arrays["reset_mask"][t].tolist() == ended.tolist()
            if ended.any():
                masked = stub.Reset(pb.ResetRequest(env_handle=handle, reset_mask=to_tensor(ended)))
                assert masked.observation.tensor.data == arrays["reset_mask_observation"][t].tobytes()
    assert ended_total > 0


def test_box_actions_and_layout(tmp_path: Path, stub: Any) -> None:
    steps, n = 30, 2
    actions = np.random.default_rng(0).uniform(-1, 1, size=(steps, n, 1)).astype(np.float32)
    out = run_reference(tmp_path, "same_step", actions, "MountainCarContinuous-v0", ("--max-episode-steps", "10"))
    header, _, arrays = read_rollout(out)
    names = [a["name"] for a in header["arrays"]]
    assert names == [
        "reset_observation",
        "observation",
        "reward",
        "terminated",
        "truncated",
        "final_observation",
        "final_mask",
    ]
    assert arrays["observation"].shape == (steps, n, 2) and arrays["observation"].dtype == np.float32
    assert arrays["truncated"][9].tolist() == [True, True]  # max_episode_steps reached
    handle = make(stub, "MountainCarContinuous-v0", num_envs=n, max_episode_steps=10).env_handle
    reset(stub, handle, seeds=[7])
    for t in range(steps):
        r = stub.Step(pb.StepRequest(env_handle=handle, action=to_value(actions[t])))
        assert from_value(r.observation).tobytes() == arrays["observation"][t].tobytes()
