"""Snapshot / Restore / ReleaseSnapshots over the real server (both server kinds, see conftest)."""

from __future__ import annotations

import threading
from typing import Any

import grpc
import gymnasium
import numpy as np
import pytest
from bridge_helpers import assert_error, make, reset, rpc_error, step
from gymnasium import spaces

from rql4j_bridge.env_server import EnvServicer, serve
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc
from rql4j_bridge.tensors import from_tensor, from_value


def _obs(response: Any) -> np.ndarray:
    return np.asarray(from_value(response.observation))


def _snapshot(stub: pb_grpc.EnvServiceStub, handle: str, index: int = 0) -> pb.SnapshotResponse:
    return stub.Snapshot(pb.SnapshotRequest(env_handle=handle, index=index))


def _restore(stub: pb_grpc.EnvServiceStub, handle: str, snap: str, index: int = 0) -> None:
    stub.Restore(pb.RestoreRequest(env_handle=handle, index=index, snapshot_handle=snap))


def _release(stub: pb_grpc.EnvServiceStub, *snaps: str) -> pb.ReleaseSnapshotsResponse:
    return stub.ReleaseSnapshots(pb.ReleaseSnapshotsRequest(snapshot_handles=list(snaps)))


def test_restore_replays_the_same_trajectory(stub: pb_grpc.EnvServiceStub) -> None:
    """CartPole from a snapshot: the same actions give bit-identical observations and rewards, twice."""
    made = make(stub, "CartPole-v1", 1, pb.DISABLED)
    handle = made.env_handle
    reset(stub, handle, [7])
    for a in (0, 1, 1):
        step(stub, handle, np.array([a]), spaces.MultiDiscrete([2]))
    snap = _snapshot(stub, handle).snapshot_handle
    actions = [0, 0, 1, 0, 1, 1, 1, 0]
    runs = []
    for _ in range(2):
        _restore(stub, handle, snap)
        runs.append([_obs(step(stub, handle, np.array([a]), spaces.MultiDiscrete([2]))) for a in actions])
    # a different path from the snapshot differs, so the comparison above can fail
    _restore(stub, handle, snap)
    other = _obs(step(stub, handle, np.array([1 - actions[0]]), spaces.MultiDiscrete([2])))
    assert not np.array_equal(other, runs[0][0])
    for a, b in zip(runs[0], runs[1], strict=True):
        np.testing.assert_array_equal(a, b)
    _release(stub, snap)
    stub.Close(pb.CloseRequest(env_handle=handle))


def test_restore_keeps_the_time_limit_and_the_end_flag(stub: pb_grpc.EnvServiceStub) -> None:
    """The TimeLimit's counter travels with the snapshot; a snapshot of an ended copy restores "ended"."""
    handle = make(stub, "CartPole-v1", 1, pb.DISABLED, max_episode_steps=4).env_handle
    reset(stub, handle, [0])
    step(stub, handle, np.array([0]), spaces.MultiDiscrete([2]))
    mid = _snapshot(stub, handle).snapshot_handle  # 1 of 4 steps taken
    flags = []
    for _ in range(3):
        r = step(stub, handle, np.array([1]), spaces.MultiDiscrete([2]))
        flags.append(bool(from_tensor(r.truncated)[0]))
    assert flags == [False, False, True]
    ended = _snapshot(stub, handle).snapshot_handle
    _restore(stub, handle, mid)
    r = [step(stub, handle, np.array([1]), spaces.MultiDiscrete([2])) for _ in range(3)]
    assert [bool(from_tensor(x.truncated)[0]) for x in r] == [False, False, True]
    _restore(stub, handle, ended)
    assert_error(
        rpc_error(step, stub, handle, np.array([0]), spaces.MultiDiscrete([2])),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ended their episode",
    )
    _restore(stub, handle, mid)  # back to a running episode: steppable again
    step(stub, handle, np.array([0]), spaces.MultiDiscrete([2]))
    assert _release(stub, mid, ended, "never-taken").released == 2
    stub.Close(pb.CloseRequest(env_handle=handle))


def test_the_random_generator_travels_with_the_snapshot(stub: pb_grpc.EnvServiceStub) -> None:
    """InfoEnv-like check on a real stochastic env: FrozenLake with slippery ice draws from np_random."""
    handle = make(stub, "FrozenLake-v1", 1, pb.DISABLED, kwargs={"is_slippery": True}).env_handle
    reset(stub, handle, [11])
    snap = _snapshot(stub, handle).snapshot_handle
    paths = []
    for _ in range(2):
        _restore(stub, handle, snap)
        path = []
        for _ in range(12):
            r = step(stub, handle, np.array([2]), spaces.MultiDiscrete([4]))
            path.append(int(_obs(r)[0]))
            if bool(from_tensor(r.terminated)[0]) or bool(from_tensor(r.truncated)[0]):
                break
        paths.append(path)
    assert paths[0] == paths[1]
    # without the snapshot's generator the slippery walk differs (so the check above can fail)
    reset(stub, handle, [12])
    other = []
    for _ in range(12):
        r = step(stub, handle, np.array([2]), spaces.MultiDiscrete([4]))
        other.append(int(_obs(r)[0]))
        if bool(from_tensor(r.terminated)[0]) or bool(from_tensor(r.truncated)[0]):
            break
    assert other != paths[0]
    _release(stub, snap)
    stub.Close(pb.CloseRequest(env_handle=handle))


def test_snapshot_of_one_copy_restores_into_another(stub: pb_grpc.EnvServiceStub) -> None:
    handle = make(stub, "CartPole-v1", 2, pb.DISABLED).env_handle
    first = _obs(reset(stub, handle, [3]))
    assert not np.array_equal(first[0], first[1])
    snap = _snapshot(stub, handle, 0).snapshot_handle
    _restore(stub, handle, snap, index=1)
    r = step(stub, handle, np.array([1, 1]), spaces.MultiDiscrete([2, 2]))
    o = _obs(r)
    np.testing.assert_array_equal(o[0], o[1])
    _release(stub, snap)
    stub.Close(pb.CloseRequest(env_handle=handle))


def test_bad_snapshot_requests_are_named(stub: pb_grpc.EnvServiceStub) -> None:
    handle = make(stub, "CartPole-v1", 1, pb.DISABLED).env_handle
    assert_error(rpc_error(_snapshot, stub, handle), grpc.StatusCode.FAILED_PRECONDITION, "never reset")
    reset(stub, handle, [0])
    assert_error(rpc_error(_snapshot, stub, handle, 3), grpc.StatusCode.INVALID_ARGUMENT, "index 3", "0..0")
    assert_error(rpc_error(_restore, stub, handle, "nope"), grpc.StatusCode.NOT_FOUND, "unknown snapshot handle")
    other = make(stub, "MountainCar-v0", 1, pb.DISABLED).env_handle
    reset(stub, other, [0])
    snap = _snapshot(stub, other).snapshot_handle
    assert_error(rpc_error(_restore, stub, handle, snap), grpc.StatusCode.INVALID_ARGUMENT, "MountainCar-v0")
    # a snapshot restores only into an env of the same autoreset mode
    same_step = make(stub, "MountainCar-v0", 1, pb.SAME_STEP).env_handle
    reset(stub, same_step, [0])
    assert_error(rpc_error(_restore, stub, same_step, snap), grpc.StatusCode.INVALID_ARGUMENT, "DISABLED", "SAME_STEP")
    stub.Close(pb.CloseRequest(env_handle=same_step))
    # closing an env releases its snapshots
    stub.Close(pb.CloseRequest(env_handle=other))
    assert_error(rpc_error(_restore, stub, handle, snap), grpc.StatusCode.NOT_FOUND, "unknown snapshot handle")
    stub.Close(pb.CloseRequest(env_handle=handle))


class LockedEnv(gymnasium.Env):
    """Holds a lock: copy.deepcopy cannot copy it."""

    observation_space = spaces.Box(-1, 1, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        return np.zeros(1, np.float32), 0.0, False, False, {}


gymnasium.register("rql4j-test/Locked-v0", entry_point=LockedEnv)


def test_an_env_that_cannot_be_copied_is_named(stub: pb_grpc.EnvServiceStub) -> None:
    handle = make(stub, "rql4j-test/Locked-v0", 1, pb.DISABLED).env_handle
    reset(stub, handle, [0])
    assert_error(
        rpc_error(_snapshot, stub, handle),
        grpc.StatusCode.FAILED_PRECONDITION,
        "rql4j-test/Locked-v0",
        "cannot be copied",
    )
    step(stub, handle, np.array([0]), spaces.MultiDiscrete([2]))  # the env is unharmed
    stub.Close(pb.CloseRequest(env_handle=handle))


def test_the_number_of_snapshots_is_bounded() -> None:
    servicer = EnvServicer(max_snapshots=2)
    server, port = serve("127.0.0.1", 0, max_workers=4, servicer=servicer)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            s = pb_grpc.EnvServiceStub(channel)
            handle = make(s, "CartPole-v1", 1, pb.DISABLED).env_handle
            reset(s, handle, [0])
            a = _snapshot(s, handle)
            b = _snapshot(s, handle)
            assert (b.open_snapshots, b.max_snapshots) == (2, 2)
            assert_error(rpc_error(_snapshot, s, handle), grpc.StatusCode.RESOURCE_EXHAUSTED, "--max-snapshots 2")
            released = _release(s, a.snapshot_handle)
            assert (released.released, released.open_snapshots) == (1, 1)
            assert _snapshot(s, handle).open_snapshots == 2
            assert servicer.open_snapshots == 2
    finally:
        server.stop(grace=None).wait()
        servicer.close_all()


@pytest.mark.parametrize("bad", [-1])
def test_a_negative_bound_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="max_snapshots"):
        EnvServicer(max_snapshots=bad)
