"""The worker-process backend (``serve --workers N``) against the in-process one, over real gRPC servers.

Both servers get the same requests; every reply must be the same message, byte for byte (observations,
rewards, flags, info columns, final observations), in all three autoreset modes, with snapshots
restored across workers and envs, and after a worker process is killed and the env reset.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
from bridge_helpers import assert_error, make, reset, rpc_error, step
from gymnasium import spaces

from rql4j_bridge.env_server import EnvServicer, serve
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc
from rql4j_bridge.tensors import from_tensor, to_value
from rql4j_bridge.workers import blocks


class _Server:
    """A real gRPC env server on loopback; ``backend``: EnvServicer's worker options (workers=, ray_backend=)."""

    def __init__(self, workers: int = 0, **backend: Any) -> None:
        self.servicer = EnvServicer(workers=workers, worker_imports=["rql4j_bridge.tasks"], **backend)
        self.server, port = serve("127.0.0.1", 0, max_workers=8, servicer=self.servicer)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self.channel).result(timeout=10)
        self.stub = pb_grpc.EnvServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()
        self.server.stop(grace=None).wait()
        self.servicer.close_all()


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[_Server, _Server]]:
    inprocess, workers = _Server(0), _Server(2)
    yield inprocess, workers
    inprocess.close()
    workers.close()


def _both(servers: tuple[_Server, _Server], call: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    return call(servers[0].stub, *args, **kwargs), call(servers[1].stub, *args, **kwargs)


def test_blocks_are_contiguous_and_balanced() -> None:
    assert blocks(5, 2) == [range(0, 3), range(3, 5)]
    assert blocks(2, 8) == [range(0, 1), range(1, 2)]
    assert blocks(4, 1) == [range(0, 4)]


def _run_pair(
    servers: tuple[_Server, _Server],
    env_id: str,
    num_envs: int,
    mode: int,
    steps: int,
    action_space: spaces.Space,
    max_episode_steps: int = 0,
    seed: int = 11,
) -> int:
    """Steps both servers with the same actions and asserts the same replies; returns the episode ends seen."""
    made = [make(s.stub, env_id, num_envs, mode, max_episode_steps=max_episode_steps) for s in servers]
    assert hasattr(servers[1].servicer._envs[made[1].env_handle].vec, "pids"), "the second server must use workers"
    assert made[0].observation_space == made[1].observation_space
    assert made[0].action_space == made[1].action_space
    handles = [m.env_handle for m in made]
    first = [reset(s.stub, h, [seed]) for s, h in zip(servers, handles, strict=True)]
    assert first[0] == first[1]
    action_space.seed(seed)
    ends = 0
    for t in range(steps):
        batch = np.stack([action_space.sample() for _ in range(num_envs)])
        replies = [step(s.stub, h, batch) for s, h in zip(servers, handles, strict=True)]
        assert replies[0] == replies[1], f"step {t} of {env_id} ({pb.AutoresetMode.Name(mode)}) differs"
        ended = from_tensor(replies[0].terminated) | from_tensor(replies[0].truncated)
        ends += int(ended.sum())
        if mode == pb.DISABLED and ended.any():
            resets = [reset(s.stub, h, mask=ended) for s, h in zip(servers, handles, strict=True)]
            assert resets[0] == resets[1]
    for s, h in zip(servers, handles, strict=True):
        s.stub.Close(pb.CloseRequest(env_handle=h))
    return ends


@pytest.mark.parametrize("mode", [pb.SAME_STEP, pb.NEXT_STEP, pb.DISABLED])
def test_cartpole_task_env_is_bit_identical_in_every_mode(servers: tuple[_Server, _Server], mode: int) -> None:
    """Three copies over two workers (copies 0-1 and 2), a task env that reports info columns, short episodes."""
    ends = _run_pair(servers, "rql4j/cartpole-center-addon-v0", 3, mode, 150, spaces.Discrete(2), max_episode_steps=25)
    assert ends >= 10  # the comparison covered many episode ends (final observations, final infos, resets)


def test_mujoco_is_bit_identical(servers: tuple[_Server, _Server]) -> None:
    pytest.importorskip("mujoco")
    _run_pair(servers, "InvertedPendulum-v5", 2, pb.SAME_STEP, 120, spaces.Box(-3.0, 3.0, (1,), np.float32))


def test_workers_hold_the_copies_in_other_processes(servers: tuple[_Server, _Server]) -> None:
    server = servers[1]
    handle = make(server.stub, "CartPole-v1", 3).env_handle
    vec = server.servicer._envs[handle].vec
    pids = vec.pids
    assert len(pids) == 2 and os.getpid() not in pids and len(set(pids)) == 2
    server.stub.Close(pb.CloseRequest(env_handle=handle))
    for pid in pids:
        assert not _alive(pid), f"worker {pid} outlived its env"


def _alive(pid: int | None, wait_s: float = 5.0) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)  # type: ignore[arg-type]
        except ProcessLookupError:
            return False
        time.sleep(0.05)
    return True


def _snapshot(stub: pb_grpc.EnvServiceStub, handle: str, index: int) -> str:
    return stub.Snapshot(pb.SnapshotRequest(env_handle=handle, index=index)).snapshot_handle


def _restore(stub: pb_grpc.EnvServiceStub, handle: str, snap: str, index: int) -> None:
    stub.Restore(pb.RestoreRequest(env_handle=handle, index=index, snapshot_handle=snap))


def test_snapshots_restore_within_and_across_workers_and_envs(servers: tuple[_Server, _Server]) -> None:
    """Copy 0's snapshot restored into copy 1 (same worker), copy 2 (the other worker) and another env's copy 0."""
    handles = [make(s.stub, "CartPole-v1", 3, pb.NEXT_STEP).env_handle for s in servers]
    others = [make(s.stub, "CartPole-v1", 2, pb.NEXT_STEP).env_handle for s in servers]
    for s, h, o in zip(servers, handles, others, strict=True):
        reset(s.stub, h, [3])
        reset(s.stub, o, [50])
    for a in (0, 1, 1, 0):
        step(servers[0].stub, handles[0], np.array([a, 1 - a, a]), None)
        step(servers[1].stub, handles[1], np.array([a, 1 - a, a]), None)
    snaps = [_snapshot(s.stub, h, 0) for s, h in zip(servers, handles, strict=True)]
    for s, h, o, snap in zip(servers, handles, others, snaps, strict=True):
        _restore(s.stub, h, snap, 1)
        _restore(s.stub, h, snap, 2)
        _restore(s.stub, o, snap, 1)
    trajectories: list[list[np.ndarray]] = [[], []]
    for t in range(12):
        a = t % 2
        replies = [step(s.stub, h, np.array([a, a, a])) for s, h in zip(servers, handles, strict=True)]
        assert replies[0] == replies[1]
        other = [step(s.stub, o, np.array([1, a])) for s, o in zip(servers, others, strict=True)]
        assert other[0] == other[1]
        obs = np.frombuffer(replies[1].observation.tensor.data, dtype=np.float32).reshape(3, 4)
        trajectories[0].append(obs)
        trajectories[1].append(np.frombuffer(other[1].observation.tensor.data, dtype=np.float32).reshape(2, 4))
    # the three copies of the worker env (and copy 1 of the other env) replay one trajectory from the snapshot
    for obs, o in zip(trajectories[0], trajectories[1], strict=True):
        np.testing.assert_array_equal(obs[0], obs[1])
        np.testing.assert_array_equal(obs[0], obs[2])
        np.testing.assert_array_equal(obs[0], o[1])
    released = servers[1].stub.ReleaseSnapshots(pb.ReleaseSnapshotsRequest(snapshot_handles=[snaps[1]]))
    assert released.released == 1
    for s, h, o in zip(servers, handles, others, strict=True):
        s.stub.Close(pb.CloseRequest(env_handle=h))
        s.stub.Close(pb.CloseRequest(env_handle=o))


def test_a_killed_worker_names_its_copies_and_reset_starts_a_new_one(servers: tuple[_Server, _Server]) -> None:
    server = servers[1]
    handle = make(server.stub, "CartPole-v1", 3).env_handle
    reset(server.stub, handle, [0])
    step(server.stub, handle, np.array([0, 1, 0]))
    vec = server.servicer._envs[handle].vec
    victim = vec.pids[1]
    os.kill(victim, signal.SIGKILL)
    assert not _alive(victim)
    error = rpc_error(step, server.stub, handle, np.array([0, 1, 0]))
    assert_error(
        error,
        grpc.StatusCode.INTERNAL,
        "WorkerDiedError",
        "copy 2 of 'CartPole-v1'",
        f"pid {victim}",
        "killed by signal 9",
        "Reset",
    )
    # the env wants a Reset before anything else, which starts a new worker for copy 2
    assert_error(
        rpc_error(step, server.stub, handle, np.array([0, 1, 0])), grpc.StatusCode.FAILED_PRECONDITION, "Reset"
    )
    again = reset(server.stub, handle, [0])
    assert vec.pids[1] != victim and _alive(vec.pids[1], wait_s=0.2)
    fresh = EnvServicer()  # the same seeds in-process: the new worker's copy starts where a fresh one does
    try:
        h = fresh.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=3), None).env_handle
        expected = fresh.Reset(pb.ResetRequest(env_handle=h, seeds=[0]), None)
        assert again == expected
    finally:
        fresh.close_all()
    step(server.stub, handle, np.array([0, 1, 0]))
    server.stub.Close(pb.CloseRequest(env_handle=handle))


def test_an_unknown_env_id_is_refused_as_in_process(servers: tuple[_Server, _Server]) -> None:
    errors = [rpc_error(make, s.stub, "NoSuchEnv-v0", 2) for s in servers]
    assert errors[0].code() == errors[1].code() == grpc.StatusCode.NOT_FOUND
    assert "unknown Gymnasium env id 'NoSuchEnv-v0'" in errors[1].details()


def test_serve_takes_workers(tmp_path: Any) -> None:
    from rql4j_bridge.cli import build_parser

    args = build_parser().parse_args(["serve", "--no-auth", "--workers", "3"])
    assert args.workers == 3
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--workers", "-1"])


def test_a_make_chooses_its_backend_and_the_server_bounds_the_processes() -> None:
    """MakeRequest.workers: N, -1 (none) or 0 (the server's); serve --max-env-workers bounds them over all envs."""
    servicer = EnvServicer(workers=0, max_env_workers=3)
    try:
        three = servicer.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=4, workers=3), None)
        assert len(servicer._envs[three.env_handle].vec.pids) == 3
        assert servicer.worker_processes == 3
        plain = servicer.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=2), None)  # the server's: none
        assert not hasattr(servicer._envs[plain.env_handle].vec, "pids")
        with pytest.raises(Exception) as refused:
            servicer.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=2, workers=1), _AbortingContext())
        assert "RESOURCE_EXHAUSTED" in str(refused.value) and "--max-env-workers 3" in str(refused.value)
        with pytest.raises(Exception) as bad:
            servicer.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=2, workers=-2), _AbortingContext())
        assert "INVALID_ARGUMENT" in str(bad.value) and "got -2" in str(bad.value)
        servicer.Close(pb.CloseRequest(env_handle=three.env_handle), None)
        assert servicer.worker_processes == 0
        one = servicer.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=2, workers=1), None)
        assert len(servicer._envs[one.env_handle].vec.pids) == 1 and servicer.worker_processes == 1
    finally:
        servicer.close_all()
    assert servicer.worker_processes == 0
    on = EnvServicer(workers=2)
    try:
        none = on.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=2, workers=-1), None)
        assert not hasattr(on._envs[none.env_handle].vec, "pids") and on.worker_processes == 0
    finally:
        on.close_all()


class _AbortingContext:
    """A grpc.ServicerContext stand-in whose abort raises with the status and message."""

    def abort(self, code: grpc.StatusCode, message: str) -> None:
        raise RuntimeError(f"{code.name}: {message}")


def test_restore_carries_the_next_step_flag_across_workers(servers: tuple[_Server, _Server]) -> None:
    """NEXT_STEP: a snapshot of a copy whose episode just ended restores "reset next step" into another worker."""
    handles = [make(s.stub, "CartPole-v1", 3, pb.NEXT_STEP, max_episode_steps=3).env_handle for s in servers]
    for s, h in zip(servers, handles, strict=True):
        reset(s.stub, h, [4])
    for _ in range(3):  # all three copies reach their time limit on this step
        replies = [step(s.stub, h, np.array([0, 1, 0])) for s, h in zip(servers, handles, strict=True)]
        assert replies[0] == replies[1]
    assert from_tensor(replies[1].truncated).all()
    snaps = [_snapshot(s.stub, h, 0) for s, h in zip(servers, handles, strict=True)]
    for s, h in zip(servers, handles, strict=True):
        reset(s.stub, h, [9])  # every copy mid-episode again, with other states
        step(s.stub, h, np.array([1, 1, 1]))
    for s, h, snap in zip(servers, handles, snaps, strict=True):
        _restore(s.stub, h, snap, 2)  # copy 2 lives in the other worker
    for _ in range(3):
        replies = [step(s.stub, h, np.array([1, 0, 1])) for s, h in zip(servers, handles, strict=True)]
        assert replies[0] == replies[1]
    for s, h in zip(servers, handles, strict=True):
        s.stub.Close(pb.CloseRequest(env_handle=h))


def test_snapshots_travel_between_the_servers_process_and_workers() -> None:
    """One server, one env in its own process and one in workers (MakeRequest.workers): restores both ways."""
    servicer = EnvServicer()
    try:
        inproc = servicer.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=2), None).env_handle
        worker = servicer.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=2, workers=2), None).env_handle
        for h, seed in ((inproc, 1), (worker, 2)):
            servicer.Reset(pb.ResetRequest(env_handle=h, seeds=[seed]), None)
        a = servicer.Snapshot(pb.SnapshotRequest(env_handle=inproc, index=0), None).snapshot_handle
        b = servicer.Snapshot(pb.SnapshotRequest(env_handle=worker, index=1), None).snapshot_handle
        servicer.Restore(pb.RestoreRequest(env_handle=worker, index=0, snapshot_handle=a), None)
        servicer.Restore(pb.RestoreRequest(env_handle=inproc, index=1, snapshot_handle=b), None)
        servicer.Restore(pb.RestoreRequest(env_handle=worker, index=1, snapshot_handle=b), None)
        servicer.Restore(pb.RestoreRequest(env_handle=inproc, index=0, snapshot_handle=a), None)
        space = spaces.MultiDiscrete([2, 2])
        for t in range(20):
            action = to_value(np.array([t % 2, t % 2]), space)
            x = servicer.Step(pb.StepRequest(env_handle=inproc, action=action), None)
            y = servicer.Step(pb.StepRequest(env_handle=worker, action=action), None)
            assert x == y, f"step {t}: both envs hold the same two states"
    finally:
        servicer.close_all()


def test_a_reset_after_an_unnoticed_death_starts_the_worker_at_once(servers: tuple[_Server, _Server]) -> None:
    server = servers[1]
    handle = make(server.stub, "CartPole-v1", 2).env_handle
    reset(server.stub, handle, [0])
    vec = server.servicer._envs[handle].vec
    victim = vec.pids[0]
    os.kill(victim, signal.SIGKILL)
    assert not _alive(victim)
    reset(server.stub, handle, [0])  # the first call after the death is a Reset: it restarts the worker
    assert victim not in vec.pids
    step(server.stub, handle, np.array([0, 1]))
    server.stub.Close(pb.CloseRequest(env_handle=handle))
