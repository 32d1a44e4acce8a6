"""A Ray cluster of several nodes simulated on this machine, driven over stdin (for RayClusterIT and trying --ray).

``ray.cluster_utils.Cluster``: a head node and ``--nodes - 1`` more, each its own raylet and object store with
``--cpus`` CPUs, no dashboard. Ray's token authentication must be on: run it with ``RAY_AUTH_MODE=token`` and
``RAY_AUTH_TOKEN`` set, and give the env server (``rql4j-bridge serve --ray ADDRESS``) the same two.

Prints ``address HOST:PORT`` once the nodes are up, then reads commands, one per line, and answers each:
``kill-node`` (SIGKILLs the last node that is not the head, its actors' processes first, as if its host
vanished: ``killed NODE_ID``),
``add-node`` (``added NODE_ID``), ``nodes`` (``nodes N`` alive). End of input shuts the cluster down.

    RAY_AUTH_MODE=token RAY_AUTH_TOKEN=$(openssl rand -hex 32) .venv/bin/python compat-tests/python/ray_cluster.py
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (from /proc: a node's raylet starts the node's Ray workers)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_host(cluster, node) -> None:  # noqa: ANN001
    """As if the node's host vanished: its Ray workers (the actors) and then its own processes, all SIGKILLed."""
    raylet = node.all_processes["raylet"][0].process.pid
    for pid in _descendants(raylet):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    cluster.remove_node(node, allow_graceful=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=2, help="nodes, the head included (default 2)")
    parser.add_argument("--cpus", type=int, default=1, help="CPUs each node offers Ray (default 1)")
    parser.add_argument("--object-store-mb", type=int, default=80, help="each node's object store (default 80 MB)")
    args = parser.parse_args()
    if os.environ.get("RAY_AUTH_MODE") != "token" or not os.environ.get("RAY_AUTH_TOKEN"):
        print(
            "ray_cluster.py: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (the env server needs the same)",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    from ray.cluster_utils import Cluster

    node = dict(num_cpus=args.cpus, object_store_memory=args.object_store_mb * 1024 * 1024)
    cluster = Cluster(initialize_head=True, connect=False, head_node_args=dict(node, include_dashboard=False))
    workers = [cluster.add_node(**node) for _ in range(args.nodes - 1)]
    cluster.wait_for_nodes()
    print(f"address {cluster.address}", flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "kill-node" and workers:
                victim = workers.pop()
                _kill_host(cluster, victim)
                print(f"killed {victim.node_id}", flush=True)
            elif command == "add-node":
                workers.append(cluster.add_node(**node))
                cluster.wait_for_nodes()
                print(f"added {workers[-1].node_id}", flush=True)
            elif command == "nodes":
                print(f"nodes {1 + len(workers)}", flush=True)
            elif command:
                print(f"unknown command {command!r}", flush=True)
    finally:
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
