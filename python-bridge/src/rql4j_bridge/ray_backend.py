"""Ray actors across the hosts of a Ray cluster: the worker backend of ``serve --ray auto|local|ADDRESS``.

Each worker of a :class:`rql4j_bridge.workers.WorkerVectorEnv` becomes a Ray actor that holds its
block of copies (the same :class:`rql4j_bridge.workers._WorkerCore` a worker process runs, so the
commands, answers, snapshots and faults are the worker processes', bit for bit). Actors are placed
with Ray's ``SPREAD`` strategy, one CPU each by default (``serve --ray-cpus-per-worker``), so the
copies of an env spread over the cluster's nodes.

What reaches the nodes: the modules named by ``--import`` / ``--addon`` that are the user's own
files (not installed packages) travel in the job's runtime environment (Ray's ``py_modules``);
installed packages (``rql4j-bridge`` itself, gymnasium, highway-env, a simulator) must be installed
on every node, in the same versions (docs/cluster.md).

Security: Ray runs whatever code it is sent by whoever can reach its ports, by design. Ray 2.52
offers token authentication (``RAY_AUTH_MODE=token``), which this backend requires: ``local`` starts
a one-node Ray with a fresh token of its own; ``auto`` or an address connects only when this server runs
with ``RAY_AUTH_MODE=token`` (and so sends the cluster's token, ``RAY_AUTH_TOKEN`` or ``RAY_AUTH_TOKEN_PATH``,
which Ray itself refuses to go without), unless ``allow_unauthenticated`` (``serve
--ray-allow-unauthenticated``) says otherwise. The check is this side's: whether the cluster's nodes were
started with token authentication, and so refuse others, is up to whoever started them (docs/cluster.md).
docs/reliability.md says what a cluster trusts.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import logging
import os
import secrets
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_log = logging.getLogger("rql4j_bridge.ray_backend")

ENDED_PING_S = 2.0  # how long a Reset waits for an actor's ping before taking it for alive

RAY_EXTRA_HINT = "install Ray with: pip install 'rql4j-bridge[ray]'"


class RayUnavailableError(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached or refused us; the message says what to do."""


def user_module_paths(modules: Iterable[str]) -> list[str]:
    """The files of the imported ``modules`` that are the user's own (not under site-packages): a package's
    folder, or a one-file module's ``.py`` (Ray's ``py_modules`` ships them to every node)."""
    paths: list[str] = []
    for name in modules:
        name = name.split(":")[0]
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if not file:
            continue
        path = Path(file).resolve()
        if any(part in ("site-packages", "dist-packages") for part in path.parts):
            continue  # installed: it must be installed on every node
        top = sys.modules.get(name.split(".")[0])
        top_file = getattr(top, "__file__", None)
        if top_file and Path(top_file).name == "__init__.py":
            entry = str(Path(top_file).resolve().parent)  # the top-level package's folder
        else:
            entry = str(path)
        if entry not in paths:
            paths.append(entry)
    return paths


class _RayEnvWorker:
    """The actor: a worker core (rql4j_bridge.workers) answering the same commands as a worker process."""

    def __init__(self, *args: Any) -> None:
        from rql4j_bridge.workers import _WorkerCore

        self.core = _WorkerCore(*args)

    def start(self) -> tuple[str, Any]:
        return self.core.start()

    def handle(self, message: tuple[Any, ...]) -> tuple[str, Any]:
        if message[0] == "close":
            self.core.close()
            return "ok", None
        return self.core.handle(message)

    def where(self) -> tuple[str, str, int]:
        import ray

        return ray.util.get_node_ip_address(), ray.get_runtime_context().get_node_id(), os.getpid()


class RayBackend:
    """A connection to a Ray cluster that launches env workers as actors (:class:`_RayWorker`)."""

    def __init__(
        self,
        address: str,
        modules: Iterable[str] = (),
        cpus_per_worker: float = 1.0,
        allow_unauthenticated: bool = False,
        num_cpus: int | None = None,
    ) -> None:
        """``address``: ``local`` (start a one-node Ray in this process, ``num_cpus`` CPUs), ``auto`` (the
        cluster this host belongs to, as ``ray start`` left it) or ``HOST:PORT`` of a cluster's head node.
        ``modules``: the modules imported at start (the user's own files among them reach the nodes)."""
        if cpus_per_worker <= 0:
            raise ValueError(f"cpus_per_worker must be > 0, got {cpus_per_worker}")
        if importlib.util.find_spec("ray") is None:
            raise RayUnavailableError(f"--ray needs the ray package, which is not installed: {RAY_EXTRA_HINT}")
        token_auth = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
        if address == "local" and not token_auth and not allow_unauthenticated:
            if "ray" in sys.modules:  # Ray reads RAY_AUTH_* when it is imported
                raise RayUnavailableError("--ray local: Ray was imported before its token authentication was set up")
            os.environ["RAY_AUTH_MODE"] = "token"  # a fresh cluster of our own: a token only this process knows
            os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
            token_auth = True
        if not token_auth and not allow_unauthenticated:
            raise RayUnavailableError(
                f"--ray {address}: the Ray cluster must use Ray's token authentication (anyone who reaches an "
                "unauthenticated cluster runs code on its nodes). Start its nodes with RAY_AUTH_MODE=token and a "
                "token (RAY_AUTH_TOKEN), start this server with the same two variables, or pass "
                "--ray-allow-unauthenticated on a network only you can reach (docs/cluster.md)"
            )
        import ray

        self._ray = ray
        self.address = address
        self.cpus_per_worker = cpus_per_worker
        if not token_auth:
            _log.warning(
                "connecting to the Ray cluster at %s without authentication (--ray-allow-unauthenticated)", address
            )
        paths = user_module_paths(modules)
        runtime_env = {"py_modules": paths} if paths else None
        init: dict[str, Any] = dict(runtime_env=runtime_env, log_to_driver=False, configure_logging=False)
        if address == "local":
            init.update(include_dashboard=False, num_cpus=num_cpus)
        else:
            init["address"] = address
        try:
            if not ray.is_initialized():
                ray.init(**init)
        except Exception as e:
            raise RayUnavailableError(f"--ray {address}: could not connect to the Ray cluster: {e}") from e
        self.actor_class = ray.remote(_RayEnvWorker)
        _log.info(
            "Ray backend: cluster at %s, %d node(s), %s CPU(s); modules sent to the nodes: %s",
            address,
            len([n for n in ray.nodes() if n.get("Alive")]),
            ray.cluster_resources().get("CPU", 0),
            ", ".join(paths) or "none",
        )

    def launch(self, args: tuple[Any, ...], name: str) -> _RayWorker:
        """Starts one env worker as an actor, ``name`` (e.g. ``rql4j-env-worker-0``) naming it in messages
        beside its actor id; its copies are made by the worker core's ``start``."""
        return _RayWorker(self, args, name)

    def shutdown(self) -> None:
        """Disconnects from the cluster (``local``: stops the one-node Ray this process started); the actors
        this process launched end with it. The server calls it when it stops."""
        if self._ray.is_initialized():
            self._ray.shutdown()


class _RayWorker:
    """One env worker as a Ray actor: the same send / poll / recv a worker process's pipe gives."""

    kind = "Ray actor"
    start_hint = (
        " (an actor waits for a node with a free CPU, --ray-cpus-per-worker each: `ray status` shows the cluster's; "
        "add a node, or ask for fewer workers)"
    )

    def __init__(self, backend: RayBackend, args: tuple[Any, ...], name: str = "rql4j-env-worker") -> None:
        self._ray = backend._ray
        self.name = name  # in our messages; not Ray's name= (which must be unique in the cluster)
        self.actor = backend.actor_class.options(
            num_cpus=backend.cpus_per_worker, max_restarts=0, max_task_retries=0, scheduling_strategy="SPREAD"
        ).remote(*args)
        self._pending: collections.deque[Any] = collections.deque([self.actor.start.remote()])
        self.pid: int | None = None
        self.node: str | None = None  # Ray's node id
        self.ip: str | None = None
        self.lost: str | None = None
        self._ping: Any = None  # a ping sent by probe(), answered in ended()

    def where(self) -> str:
        actor = f"{self.name} ({self.actor._actor_id.hex()[:8]})"
        if self.node is None:
            return f"Ray actor {actor}"
        return f"Ray actor {actor} on node {self.ip} (node id {self.node[:8]}), pid {self.pid}"

    def located(self) -> None:
        """Asks the started actor where it runs (named in every message about its copies)."""
        with contextlib.suppress(Exception):  # else it stays "Ray actor ID"; a lost actor shows at the next command
            self.ip, self.node, self.pid = self._ray.get(self.actor.where.remote(), timeout=60)

    def send(self, message: tuple[Any, ...]) -> None:
        if self.lost is not None:
            raise EOFError(self.lost)
        self._pending.append(self.actor.handle.remote(message))

    def poll(self, timeout: float) -> bool:
        ready, _ = self._ray.wait([self._pending[0]], timeout=timeout)
        return bool(ready)

    def recv(self) -> tuple[str, Any]:
        ref = self._pending.popleft()
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(ref)
        except exceptions.RayTaskError as e:  # the actor's method raised (its answer did not serialize, ...)
            cause = e.cause if getattr(e, "cause", None) is not None else e
            return "error", (type(cause).__name__, str(cause).splitlines()[0][:4000] if str(cause) else "", str(e))
        except exceptions.RayError as e:  # the actor, its node, its object or its runtime env is gone
            self._mark_lost(e)
            raise EOFError(self.lost) from None

    def _mark_lost(self, error: BaseException) -> None:
        """Records why the actor is gone: the error's kind and the first line of Ray's message."""
        first = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
        self.lost = f"{type(error).__name__}: {first[:300]}"

    def probe(self) -> None:
        """Sends the ping :meth:`ended` waits for, so that the pings of all actors before a Reset are in flight
        together (the wait is then about one round trip, not one per actor)."""
        if self.lost is None and not self._pending and self._ping is None:
            self._ping = self.actor.where.remote()

    def ended(self) -> bool:
        """Whether the actor is gone. Asked before a Reset: an actor not known lost is pinged (an idle actor
        answers in about a millisecond; one that does not answer within ``ENDED_PING_S`` counts as alive, and
        a later command names it if it is not), so that a death between two calls restarts it at that Reset
        rather than failing it."""
        if self.lost is not None:
            return True
        if self._pending:  # replies still owed: the actor is busy, and its next reply tells
            self._ping = None
            return False
        self.probe()
        ping, self._ping = self._ping, None
        try:
            ready, _ = self._ray.wait([ping], timeout=ENDED_PING_S)
            if ready:
                self._ray.get(ping)
        except self._ray.exceptions.RayError as e:
            self._mark_lost(e)
        return self.lost is not None

    def death(self) -> str:
        return f"was lost ({self.lost or 'no reply'})"

    def kill(self) -> None:
        self._pending.clear()
        with contextlib.suppress(Exception):
            self._ray.kill(self.actor, no_restart=True)

    def close(self) -> None:
        """After ``close`` was sent: waits a little for the actor to close its copies, then ends it."""
        try:
            if self._pending and self.lost is None:
                self._ray.wait(list(self._pending), timeout=5, num_returns=len(self._pending))
        except Exception:
            pass
        self.kill()
