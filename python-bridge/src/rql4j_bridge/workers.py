"""Worker processes on one host: the copies of one served env spread over N processes, stepped concurrently.

``serve --workers N`` (``EnvServicer(workers=N)``) makes every env a :class:`WorkerVectorEnv`
(``min(N, num_envs)`` processes, contiguous blocks of copies, the first blocks one copy larger when
they do not divide evenly; a one-copy env gets one worker); ``--workers 0``, the default, keeps every
copy in the server's own process (a ``SyncVectorEnv``), unless a Make asks for workers
(``MakeRequest.workers``). One Python process steps its copies one
after the other, however many cores the host has: with workers, a step sends each worker its
block of actions, then collects the replies, so the blocks step at the same time.

The semantics are the in-process env's, bit for bit (``tests/test_workers.py`` compares every
reply field): each worker runs a ``SyncVectorEnv`` (or, for one copy, the server's
``_OneCopyVectorEnv``) of its block with the env's autoreset mode, copy ``i`` of the env is
seeded as the in-process one seeds it (``s + i`` for one seed ``s``), and each worker records
the per-copy info dicts its vector env batched, which the server batches again over all copies
in copy order, with Gymnasium's own ``_add_info`` (so ``final_obs`` / ``final_info`` of
``SAME_STEP`` and the info columns come out as in-process).

Processes start with ``forkserver`` (``spawn`` where it is missing), never with a plain ``fork``
of the server: forking a process that runs grpcio's threads can deadlock. A worker imports the
modules the server imported at start (``--import``, ``--addon``, highway-env and the rql4j tasks
when present) before it makes its copies; it never imports anything a request names beyond what
the in-process server would (``gymnasium.make`` of the env id the server already checked).

Snapshots are held by the worker that holds the copy: ``Snapshot`` leaves a deep copy in that
worker's process and the server keeps only a reference. ``Restore`` into a copy of the same worker
copies it there (``copy.deepcopy``, as in-process); into another worker, another env, or the server's
own process, the snapshot travels as a pickle between the server and its own worker processes (never
one a request sent), so there an env that ``deepcopy`` can copy but ``pickle`` cannot is refused.

With ``serve --ray`` the workers are Ray actors on a Ray cluster instead (:mod:`rql4j_bridge.ray_backend`):
the same :class:`_WorkerCore` answers the same commands, over Ray instead of a pipe.

Faults: an exception in a copy's ``step`` / ``reset`` comes back as :class:`EnvWorkerError` naming
the worker's copies, its pid and the env's error (its traceback goes to the server's log, not to the
client; the server answers INTERNAL and the env needs a Reset). A worker
that dies (killed, out of memory, a crash in native code) gives :class:`WorkerDiedError` naming its
copies, its pid and its exit code; the next ``Reset`` of the env starts a new worker for those
copies (their snapshots are gone with the process).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import logging
import multiprocessing
import os
import pickle
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array, iterate

WORKER_START_TIMEOUT_S = 120.0  # making the copies in a fresh process (imports included)

_log = logging.getLogger("rql4j_bridge.workers")


class EnvWorkerError(RuntimeError):
    """A copy's env raised inside its worker process; the message names the copies, the pid and the env's error."""


class WorkerDiedError(RuntimeError):
    """A worker process ended while the server needed it; the message names its copies, pid and exit code."""


class WorkerRefusal(Exception):
    """Making the copies failed in the worker in a way the server reports with a status (unknown id, ...)."""

    def __init__(self, code_name: str, message: str) -> None:
        super().__init__(message)
        self.code_name = code_name
        self.message = message


@dataclass(frozen=True)
class WorkerSnapshot:
    """A snapshot held in a worker process: the server keeps this reference, the worker the copy."""

    owner: WorkerVectorEnv
    worker: int
    generation: int  # the worker's start count when the snapshot was taken: a restarted worker lost it
    key: str


def worker_context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where the platform has it, else ``spawn``: never a plain fork of the (threaded) server."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def blocks(num_envs: int, workers: int) -> list[range]:
    """Contiguous blocks of copies, one per worker, the first ones a copy larger when they do not divide evenly."""
    workers = max(1, min(workers, num_envs))
    size, extra = divmod(num_envs, workers)
    out, start = [], 0
    for w in range(workers):
        end = start + size + (1 if w < extra else 0)
        out.append(range(start, end))
        start = end
    return out


class _InfoBatcher:
    """Gymnasium's ``VectorEnv._add_info`` over ``num_envs`` copies, without a vector env around it."""

    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs

    _add_info = VectorEnv._add_info


class WorkerVectorEnv:
    """The copies of one env over worker processes, with the interface the server uses of a ``SyncVectorEnv``.

    Each worker runs :func:`_worker_main`: it imports ``imports``, makes its block of copies (with the
    add-on reward ``addon`` in ``variant``) and answers the commands this class sends."""

    def __init__(
        self,
        env_id: str,
        kwargs: dict[str, Any],
        num_envs: int,
        workers: int,
        autoreset_mode: AutoresetMode,
        addon: Callable[..., Any] | None = None,
        variant: str = "total",
        imports: Sequence[str] = (),
        backend: Any = None,
    ) -> None:
        """``backend``: None for worker processes on this host, or a :class:`rql4j_bridge.ray_backend.RayBackend`
        for Ray actors on a Ray cluster (the same commands and answers, another transport)."""
        self.env_id = env_id
        self.num_envs = num_envs
        self.autoreset_mode = autoreset_mode
        self.blocks = blocks(num_envs, workers)
        self._args = (env_id, kwargs, addon, variant, autoreset_mode, tuple(imports))
        self._backend = backend
        self._context = worker_context() if backend is None else None
        self._lock = threading.RLock()  # one request / reply exchange with the workers at a time
        self._workers: list[Any] = [None] * len(self.blocks)
        self._generations = [0] * len(self.blocks)
        self._dead: list[str | None] = [None] * len(self.blocks)
        self._last_obs: list[Any] = [None] * len(self.blocks)
        self.closed = False
        self.spec_json = ""
        try:
            for w in range(len(self.blocks)):
                self._launch(w)
            for w in range(len(self.blocks)):
                spaces = self._receive(w, "make its copies", timeout=WORKER_START_TIMEOUT_S)
                self._workers[w].located()
                if w == 0:
                    self.single_observation_space, self.single_action_space, self.spec_json = spaces
        except BaseException:
            self.close()
            raise
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._block_obs_spaces = [batch_space(self.single_observation_space, len(b)) for b in self.blocks]

    # -- workers ------------------------------------------------------------------------------

    @property
    def pids(self) -> list[int | None]:
        """Each worker's process id (a Ray actor's on its node; None before it is known)."""
        return [x.pid if x is not None else None for x in self._workers]

    @property
    def locations(self) -> list[str]:
        """Where each worker runs, in words (``worker process pid N``, ``Ray actor on node IP, pid N``)."""
        return [x.where() if x is not None else "not started" for x in self._workers]

    def _describe(self, w: int) -> str:
        b = self.blocks[w]
        copies = f"copy {b.start}" if len(b) == 1 else f"copies {b.start}..{b.stop - 1}"
        where = self._workers[w].where() if self._workers[w] is not None else "not started"
        return f"{copies} of {self.env_id!r} ({where})"

    def _launch(self, w: int) -> None:
        args = (*self._args[:2], len(self.blocks[w]), *self._args[2:])
        if self._backend is None:
            self._workers[w] = _ProcessWorker(self._context, args, f"rql4j-env-worker-{w}")
        else:
            self._workers[w] = self._backend.launch(args, f"rql4j-env-worker-{w}")
        self._generations[w] += 1
        self._dead[w] = None
        self._last_obs[w] = None

    def _died(self, w: int) -> WorkerDiedError:
        worker = self._workers[w]
        message = f"the {worker.kind} holding {self._describe(w)} {worker.death()}; Reset the env to start a new one"
        self._dead[w] = message
        return WorkerDiedError(message)

    def _send(self, w: int, message: tuple[Any, ...]) -> None:
        if self._dead[w] is not None:
            raise WorkerDiedError(self._dead[w])
        try:
            self._workers[w].send(message)
        except (OSError, EOFError, BrokenPipeError):
            raise self._died(w) from None

    def _receive(self, w: int, what: str, timeout: float | None = None) -> Any:
        worker = self._workers[w]
        try:
            if timeout is not None and not worker.poll(timeout):
                worker.kill()  # its late reply must never be read as the answer to a later request
                self._dead[w] = f"the {worker.kind} holding {self._describe(w)} did not {what} in {timeout:.0f} s"
                hint = getattr(worker, "start_hint", "") if what == "make its copies" else ""
                raise WorkerDiedError(self._dead[w] + "; it was stopped" + hint)
            status, payload = worker.recv()
        except (OSError, EOFError, BrokenPipeError):
            raise self._died(w) from None
        if status == "ok":
            return payload
        if status == "refused":
            raise WorkerRefusal(*payload)
        kind, message, trace = payload
        _log.error("%s raised in its %s:\n%s", self._describe(w), worker.kind, trace[-8000:])
        raise EnvWorkerError(f"{kind}: {message} (in {self._describe(w)})")

    def _exchange(self, messages: dict[int, tuple[Any, ...]], what: str) -> dict[int, Any]:
        """Sends each worker its message, then collects every reply (so the workers run at the same time).

        Every reply is read even when one fails, so that no pipe is left holding an unread one."""
        sent = []
        error: BaseException | None = None
        for w, message in messages.items():
            try:
                self._send(w, message)
                sent.append(w)
            except BaseException as e:
                error = error or e
        replies = {}
        for w in sent:
            try:
                replies[w] = self._receive(w, what)
            except BaseException as e:
                error = error or e
        if error is not None:
            raise error
        return replies

    # -- the vector env interface -------------------------------------------------------------

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        with self._lock:
            for w, worker in enumerate(self._workers):  # Ray actors: their pings go out together, ended() reads them
                if self._dead[w] is None and worker is not None and hasattr(worker, "probe"):
                    worker.probe()
            messages = {}
            for w, b in enumerate(self.blocks):
                block_mask = None if mask is None else mask[b.start : b.stop]
                if block_mask is not None and not block_mask.any():
                    continue  # Gymnasium refuses a mask without a copy; this block keeps its observations
                worker = self._workers[w]
                if self._dead[w] is None and worker is not None and worker.ended():
                    self._died(w)  # it ended since the last call: this Reset starts a new one
                if self._dead[w] is not None:
                    if block_mask is not None and not block_mask.all():
                        raise WorkerDiedError(
                            self._dead[w] + " (a Reset without reset_mask, or one naming all its copies, starts it)"
                        )
                    self._restart(w)
                block_options = dict(options)
                if block_mask is not None:
                    block_options["reset_mask"] = block_mask.copy()
                messages[w] = ("reset", seeds[b.start : b.stop], block_options or None)
            replies = self._exchange(messages, "reset")
            for w, (obs, _) in replies.items():
                self._last_obs[w] = obs
            return self._merge_obs(), self._merge_info(replies)

    def _restart(self, w: int) -> None:
        if self._workers[w] is not None:
            self._workers[w].kill()
        self._launch(w)
        try:
            self._receive(w, "make its copies", timeout=WORKER_START_TIMEOUT_S)
            self._workers[w].located()
        except (EnvWorkerError, WorkerRefusal) as e:  # the next Reset tries again
            self._dead[w] = f"a new {self._workers[w].kind} for {self._describe(w)} could not make its copies ({e})"
            self._workers[w].kill()  # a process exits after reporting; an actor would keep its CPU
            raise

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        with self._lock:
            if isinstance(actions, np.ndarray):
                parts = [actions[b.start : b.stop] for b in self.blocks]
            else:  # Dict / Tuple action spaces: per copy, then batched per block
                items = list(iterate(self.action_space, actions))
                parts = [
                    concatenate(
                        self.single_action_space,
                        items[b.start : b.stop],
                        create_empty_array(self.single_action_space, len(b)),
                    )
                    for b in self.blocks
                ]
            replies = self._exchange({w: ("step", parts[w]) for w in range(len(self.blocks))}, "step")
            rewards, terminated, truncated = [], [], []
            for w in range(len(self.blocks)):
                obs, reward, term, trunc, _ = replies[w]
                self._last_obs[w] = obs
                rewards.append(reward)
                terminated.append(term)
                truncated.append(trunc)
            return (
                self._merge_obs(),
                np.concatenate(rewards),
                np.concatenate(terminated),
                np.concatenate(truncated),
                self._merge_info(replies),
            )

    def _merge_obs(self) -> Any:
        parts = self._last_obs
        if all(isinstance(p, np.ndarray) for p in parts):
            return np.concatenate(parts, axis=0)
        items = [item for w, p in enumerate(parts) for item in iterate(self._block_obs_spaces[w], p)]
        return concatenate(
            self.single_observation_space, items, create_empty_array(self.single_observation_space, self.num_envs)
        )

    def _merge_info(self, replies: dict[int, Any]) -> dict[str, Any]:
        batcher = _InfoBatcher(self.num_envs)
        infos: dict[str, Any] = {}
        for w in sorted(replies):
            for local, info in replies[w][-1]:
                infos = batcher._add_info(infos, info, self.blocks[w].start + local)
        return infos

    # -- snapshots ----------------------------------------------------------------------------

    def _locate(self, index: int) -> tuple[int, int]:
        for w, b in enumerate(self.blocks):
            if index in b:
                return w, index - b.start
        raise IndexError(f"copy {index} of {self.num_envs}")

    def snapshot(self, index: int) -> tuple[WorkerSnapshot, bool]:
        """A deep copy of copy ``index`` left in its worker, and whether its next step is its reset (NEXT_STEP)."""
        w, local = self._locate(index)
        key = uuid.uuid4().hex
        with self._lock:
            self._send(w, ("snapshot", local, key))
            autoreset_next = self._receive(w, "take a snapshot")
            return WorkerSnapshot(self, w, self._generations[w], key), autoreset_next

    def export_snapshot(self, snap: WorkerSnapshot) -> bytes:
        """The snapshot's copy as a pickle (to restore it elsewhere)."""
        with self._lock:
            self._check_held(snap)
            self._send(snap.worker, ("export", snap.key))
            return self._receive(snap.worker, "export a snapshot")

    def _check_held(self, snap: WorkerSnapshot) -> None:
        if self.closed:
            raise WorkerDiedError(f"the env that held this snapshot of {self.env_id!r} was closed")
        if self._generations[snap.worker] != snap.generation or self._dead[snap.worker] is not None:
            raise WorkerDiedError(
                f"this snapshot was held by the worker process of {self._describe(snap.worker)}, which died since; "
                "its snapshots are gone with it"
            )

    def restore(self, index: int, state: Any, autoreset_next: bool) -> None:
        """Copy ``index`` becomes ``state``: a :class:`WorkerSnapshot` (of any worker env) or an env held here."""
        w, local = self._locate(index)
        if isinstance(state, WorkerSnapshot) and state.owner is self and state.worker == w:
            with self._lock:
                self._check_held(state)
                self._send(w, ("restore", local, state.key, autoreset_next))
                self._receive(w, "restore a snapshot")
            return
        data = state.owner.export_snapshot(state) if isinstance(state, WorkerSnapshot) else pickle.dumps(state)
        with self._lock:
            self._send(w, ("restore_pickle", local, data, autoreset_next))
            self._receive(w, "restore a snapshot")

    def release(self, snap: WorkerSnapshot) -> None:
        """Drops the snapshot's copy in its worker (nothing when that worker or env is gone)."""
        with self._lock:
            if self.closed or self._generations[snap.worker] != snap.generation or self._dead[snap.worker] is not None:
                return
            try:
                self._send(snap.worker, ("release", snap.key))
                self._receive(snap.worker, "release a snapshot")
            except (WorkerDiedError, EnvWorkerError):
                pass

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            for w, worker in enumerate(self._workers):
                if worker is not None and self._dead[w] is None:
                    with contextlib.suppress(OSError, EOFError):
                        worker.send(("close",))
            for worker in self._workers:
                if worker is not None:
                    worker.close()


class _ProcessWorker:
    """A worker process on this host and the pipe to it (:func:`_worker_main` at its end)."""

    kind = "worker process"

    def __init__(self, context: multiprocessing.context.BaseContext, args: tuple[Any, ...], name: str) -> None:
        parent, child = context.Pipe()
        self.proc = context.Process(target=_worker_main, args=(child, *args), name=name, daemon=True)
        self.proc.start()
        child.close()
        self.pipe = parent

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def where(self) -> str:
        return f"worker process pid {self.proc.pid}"

    def located(self) -> None:
        pass

    def send(self, message: tuple[Any, ...]) -> None:
        self.pipe.send(message)

    def poll(self, timeout: float) -> bool:
        return self.pipe.poll(timeout)

    def recv(self) -> tuple[str, Any]:
        return self.pipe.recv()

    def ended(self) -> bool:
        return self.proc.exitcode is not None

    def death(self) -> str:
        self.proc.join(timeout=5)
        code = self.proc.exitcode
        if code is None:
            return "is still running but closed its pipe"
        return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.pipe.close()

    def close(self) -> None:
        """After ``close`` was sent (or the worker died): waits for it, kills it if it does not end."""
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=5)
        self.pipe.close()


# ---------------------------------------------------------------------------------------------
# The worker's side: one core, behind a pipe (a process) or a Ray actor
# ---------------------------------------------------------------------------------------------


def _recording(base: type) -> type:
    """``base`` (a vector env class) that also records each copy's info dict as ``_add_info`` receives it."""

    class Recording(base):  # type: ignore[misc, valid-type]
        calls: list[tuple[int, dict[str, Any]]]
        _depth = 0

        def _add_info(self, vector_infos: dict[str, Any], env_info: dict[str, Any], env_num: int) -> dict[str, Any]:
            if self._depth == 0:
                self.calls.append((env_num, env_info))
            self._depth += 1
            try:
                return super()._add_info(vector_infos, env_info, env_num)
            finally:
                self._depth -= 1

    Recording.__name__ = f"Recording{base.__name__}"
    return Recording


class _WorkerCore:
    """A worker's block of copies and its snapshots; answers the commands :class:`WorkerVectorEnv` sends.

    Every answer is ``("ok", payload)``, ``("refused", (status code name, message))`` (making the copies
    failed in a way the server reports with a status) or ``("error", (exception kind, message, traceback))``."""

    def __init__(
        self,
        env_id: str,
        kwargs: dict[str, Any],
        count: int,
        addon: Callable[..., Any] | None,
        variant: str,
        mode: AutoresetMode,
        imports: tuple[str, ...],
    ) -> None:
        self._args = (env_id, kwargs, count, addon, variant, mode, imports)
        self.vec: Any = None
        self.snapshots: dict[str, gymnasium.Env] = {}

    def start(self) -> tuple[str, Any]:
        """Imports the modules, makes the copies; answers their spaces and the env's spec."""
        env_id, kwargs, count, addon, variant, mode, imports = self._args
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        try:
            for module in imports:
                importlib.import_module(module)
            from gymnasium.vector import SyncVectorEnv

            from rql4j_bridge.env_server import RpcError, _make_copies, _OneCopyVectorEnv, _returning, _spec_json
            from rql4j_bridge.tasks.core import TaskReward

            try:
                envs = _make_copies(env_id, kwargs, count)
            except RpcError as e:
                return "refused", (e.code.name, e.message)
            if addon is not None:
                envs = [TaskReward(e, addon, variant) for e in envs]
            cls = _recording(_OneCopyVectorEnv if count == 1 else SyncVectorEnv)
            vec = cls([_returning(e) for e in envs], copy=False, autoreset_mode=mode)
            vec.calls = []
            self.vec = vec
            return "ok", (vec.single_observation_space, vec.single_action_space, _spec_json(envs[0]))
        except BaseException as e:
            return _error_reply(e)

    def handle(self, message: tuple[Any, ...]) -> tuple[str, Any]:
        """One command's answer (the env's exceptions come back as an ``"error"`` answer; the worker keeps serving)."""
        vec, snapshots = self.vec, self.snapshots
        command = message[0]
        try:
            if command == "step":
                vec.calls = []
                obs, reward, terminated, truncated, _ = vec.step(message[1])
                return "ok", (obs, reward, terminated, truncated, vec.calls)
            if command == "reset":
                vec.calls = []
                obs, _ = vec.reset(seed=message[1], options=message[2])
                return "ok", (obs, vec.calls)
            if command == "snapshot":
                _, local, key = message
                snapshots[key] = copy.deepcopy(vec.envs[local])
                flags = getattr(vec, "_autoreset_envs", None)
                return "ok", bool(flags[local]) if isinstance(flags, np.ndarray) else False
            if command in ("restore", "restore_pickle"):
                _, local, source, autoreset_next = message
                state = copy.deepcopy(snapshots[source]) if command == "restore" else pickle.loads(source)
                replaced, vec.envs[local] = vec.envs[local], state
                with contextlib.suppress(Exception):
                    replaced.close()
                flags = getattr(vec, "_autoreset_envs", None)
                if isinstance(flags, np.ndarray):
                    flags[local] = autoreset_next
                return "ok", None
            if command == "export":
                return "ok", pickle.dumps(snapshots[message[1]])
            if command == "release":
                snapshots.pop(message[1], None)
                return "ok", None
            raise RuntimeError(f"unknown worker command {command!r}")
        except BaseException as e:  # the env raised: report it, keep serving (the server asks for a Reset)
            return _error_reply(e)

    def close(self) -> None:
        if self.vec is not None:
            with contextlib.suppress(Exception):
                self.vec.close()
        self.snapshots.clear()


def _error_reply(e: BaseException) -> tuple[str, Any]:
    cls = type(e)
    kind = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    return "error", (kind, str(e)[:4000], traceback.format_exc())


def _worker_main(pipe: Connection, *args: Any) -> None:
    """A worker process: a :class:`_WorkerCore` of ``args`` answering over ``pipe`` until ``close`` or its end."""
    core = _WorkerCore(*args)
    reply = core.start()
    if not _send_reply(pipe, reply) or reply[0] != "ok":
        core.close()
        return  # the server reads the refusal or the error, and starts a new worker at the next Reset
    while True:
        try:
            message = pipe.recv()
        except (EOFError, OSError):
            break
        if message[0] == "close":
            break
        _send_reply(pipe, core.handle(message))
    core.close()


def _send_reply(pipe: Connection, reply: tuple[str, Any]) -> bool:
    """Sends ``reply``; False when it could not go (an error about it was sent instead, or the server is gone)."""
    try:
        pipe.send(reply)
        return True
    except (OSError, EOFError):
        return False  # the server is gone
    except BaseException as e:  # the answer does not pickle (an info value, ...): the pipe got nothing
        try:
            pipe.send(_error_reply(e))
        except (OSError, EOFError, pickle.PicklingError):
            print(f"rql4j env worker: {type(e).__name__}: {e}", file=sys.stderr)
        return False
