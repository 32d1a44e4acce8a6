"""The Ray backend (``serve --ray``) against the in-process server, on a two-node Ray cluster simulated here.

``ray.cluster_utils.Cluster`` starts a head node and a second node on this machine (each with its own raylet
and object store, no dashboard), with Ray's token authentication on. Every reply of a server whose workers are
Ray actors must be the in-process server's, byte for byte (in the three autoreset modes, with snapshots); the
actors of an env are spread over both nodes; a node that dies names the copies and the node it held.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
from bridge_helpers import assert_error, make, reset, rpc_error, step
from gymnasium import spaces

if "ray" in sys.modules and os.environ.get("RAY_AUTH_MODE") != "token":
    pytest.skip("Ray was imported before this module could turn its token authentication on", allow_module_level=True)
os.environ["RAY_AUTH_MODE"] = "token"  # read when Ray is imported, by this process and the nodes it starts
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

from test_workers import _Server  # noqa: E402

from rql4j_bridge.env_server import EnvServicer  # noqa: E402
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb  # noqa: E402
from rql4j_bridge.ray_backend import RayBackend, RayUnavailableError, user_module_paths  # noqa: E402

NODE = dict(num_cpus=2, object_store_memory=80 * 1024 * 1024)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    c = cluster_utils.Cluster(initialize_head=True, connect=True, head_node_args=dict(NODE, include_dashboard=False))
    c.add_node(**NODE)
    c.wait_for_nodes()
    yield c
    ray.shutdown()
    c.shutdown()


@pytest.fixture(scope="module")
def servers(cluster: Any) -> Iterator[tuple[_Server, _Server]]:
    backend = RayBackend(cluster.address, modules=["rql4j_bridge.tasks"])
    inprocess, on_ray = _Server(), _Server(ray_backend=backend, workers=2)
    yield inprocess, on_ray
    inprocess.close()
    on_ray.close()


@pytest.mark.parametrize("mode", [pb.SAME_STEP, pb.NEXT_STEP, pb.DISABLED])
def test_a_task_env_on_ray_actors_is_bit_identical_in_every_mode(servers: tuple[_Server, _Server], mode: int) -> None:
    from test_workers import _run_pair

    ends = _run_pair(servers, "rql4j/cartpole-center-addon-v0", 3, mode, 120, spaces.Discrete(2), max_episode_steps=25)
    assert ends >= 8


def test_mujoco_on_ray_actors_is_bit_identical(servers: tuple[_Server, _Server]) -> None:
    pytest.importorskip("mujoco")
    from test_workers import _run_pair

    _run_pair(servers, "InvertedPendulum-v5", 2, pb.SAME_STEP, 100, spaces.Box(-3.0, 3.0, (1,), np.float32))


def test_the_actors_spread_over_both_nodes_and_snapshots_stay_with_them(servers: tuple[_Server, _Server]) -> None:
    from test_workers import _restore, _snapshot

    handles = [make(s.stub, "CartPole-v1", 2, pb.NEXT_STEP).env_handle for s in servers]
    vec = servers[1].servicer._envs[handles[1]].vec
    nodes = {w.node for w in vec._workers}
    assert len(nodes) == 2, f"the two actors should run on the two nodes, got {vec.locations}"
    assert all("Ray actor" in where and "on node" in where for where in vec.locations)
    for s, h in zip(servers, handles, strict=True):
        reset(s.stub, h, [5])
        step(s.stub, h, np.array([0, 1]))
    snaps = [_snapshot(s.stub, h, 0) for s, h in zip(servers, handles, strict=True)]
    for s, h, snap in zip(servers, handles, snaps, strict=True):
        _restore(s.stub, h, snap, 0)  # held by copy 0's actor
        _restore(s.stub, h, snap, 1)  # from one node to the other (a pickle through the server)
    for t in range(10):
        replies = [step(s.stub, h, np.array([t % 2, t % 2])) for s, h in zip(servers, handles, strict=True)]
        assert replies[0] == replies[1]
        obs = np.frombuffer(replies[1].observation.tensor.data, dtype=np.float32).reshape(2, 4)
        np.testing.assert_array_equal(obs[0], obs[1])
    for s, h in zip(servers, handles, strict=True):
        s.stub.Close(pb.CloseRequest(env_handle=h))


def _lost_actor_env(server: _Server) -> tuple[str, Any]:
    """A two-copy CartPole on the Ray server, reset once; its handle and vector env."""
    handle = make(server.stub, "CartPole-v1", 2).env_handle
    reset(server.stub, handle, [0])
    return handle, server.servicer._envs[handle].vec


def _in_process_reset(seed: int) -> pb.ResetResponse:
    """What the in-process server answers to the first Reset of a two-copy CartPole with ``seed``."""
    fresh = EnvServicer()
    try:
        h = fresh.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=2), None).env_handle
        return fresh.Reset(pb.ResetRequest(env_handle=h, seeds=[seed]), None)
    finally:
        fresh.close_all()


def test_a_lost_actor_names_its_copies_and_reset_starts_a_new_one(servers: tuple[_Server, _Server]) -> None:
    server = servers[1]
    handle, vec = _lost_actor_env(server)
    victim = vec._workers[1]
    where = victim.where()
    ray.kill(victim.actor, no_restart=True)
    error = rpc_error(step, server.stub, handle, np.array([0, 1]))
    assert_error(
        error, grpc.StatusCode.INTERNAL, "WorkerDiedError", "copy 1 of 'CartPole-v1'", where, "was lost", "Reset"
    )
    again = reset(server.stub, handle, [0])
    assert vec._workers[1] is not victim
    assert again == _in_process_reset(0)
    server.stub.Close(pb.CloseRequest(env_handle=handle))


def test_an_actor_lost_between_calls_is_restarted_by_the_next_reset(servers: tuple[_Server, _Server]) -> None:
    server = servers[1]
    handle, vec = _lost_actor_env(server)
    victim = vec._workers[0]
    ray.kill(victim.actor, no_restart=True)  # nothing asked it since: its death is not known yet
    with pytest.raises(ray.exceptions.RayActorError):  # dead for Ray (ray.kill returns before), not for our env
        ray.get(victim.actor.where.remote(), timeout=60)
    again = reset(server.stub, handle, [7])  # the ping before the Reset finds it gone: no error, a new actor
    assert vec._workers[0] is not victim and victim.lost is not None and vec._workers[1].lost is None
    assert "rql4j-env-worker-0" in vec.locations[0]
    assert again == _in_process_reset(7)
    server.stub.Close(pb.CloseRequest(env_handle=handle))


def test_one_actor_per_copy_unless_told(cluster: Any) -> None:
    servicer = EnvServicer(ray_backend=RayBackend(cluster.address), max_env_workers=8)
    try:
        three = servicer.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=3), None)
        assert len(servicer._envs[three.env_handle].vec.pids) == 3
        none = servicer.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=2, workers=-1), None)
        assert not hasattr(servicer._envs[none.env_handle].vec, "pids")
    finally:
        servicer.close_all()


def test_the_users_own_modules_reach_the_nodes_installed_ones_do_not(tmp_path: Any) -> None:
    (tmp_path / "my_addon.py").write_text("def f(*a):\n    return 0.0\n")
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "rewards.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        import my_addon  # noqa: F401
        import mypkg.rewards  # noqa: F401

        paths = user_module_paths(["my_addon", "mypkg.rewards", "gymnasium", "no_such_module"])
        assert paths == [str((tmp_path / "my_addon.py").resolve()), str((tmp_path / "mypkg").resolve())]
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("my_addon", "mypkg", "mypkg.rewards"):
            sys.modules.pop(name, None)


def test_a_cluster_without_token_authentication_is_refused() -> None:
    """In a fresh process (Ray reads RAY_AUTH_MODE when imported): no token auth, no --ray-allow-unauthenticated."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    code = (
        "from rql4j_bridge.ray_backend import RayBackend, RayUnavailableError\n"
        "try:\n"
        "    RayBackend('203.0.113.9:6379')\n"
        "except RayUnavailableError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "token authentication" in out.stdout and "RAY_AUTH_MODE=token" in out.stdout, out
    assert RayUnavailableError.__doc__


def test_serve_takes_ray_options() -> None:
    from rql4j_bridge.cli import build_parser

    args = build_parser().parse_args(["serve", "--no-auth", "--ray", "auto", "--ray-cpus-per-worker", "0.5"])
    assert args.ray == "auto" and args.ray_cpus_per_worker == 0.5 and not args.ray_allow_unauthenticated
