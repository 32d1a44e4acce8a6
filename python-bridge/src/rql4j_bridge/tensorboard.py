"""``rql4j-bridge tensorboard RUN...``: runs' learning curves in TensorBoard, live.

A run folder's ``metrics.csv`` (written by ``rql4j customize --out RUN`` / ``rql4j ppo --out RUN``,
one row per progress report; docs/run-folder.md) becomes TensorBoard scalars in ``RUN/tensorboard``,
written with TensorBoard's own event writer (``tensorboard.summary.Writer``). With ``--follow`` the
command keeps reading the files as the runs write them, until every run has its ``summary.json`` (or
Ctrl-C): start it beside a run and open ``tensorboard --logdir runs/``.

Tags: ``return/env``, ``return/basic``, ``return/addon`` (mean of the last 20 training episodes), the
losses (``loss/total``; PPO: ``loss/policy``, ``loss/value``), the exploration setting by its name
(``exploration/alpha``: the temperature, ``exploration/epsilon``), PPO's ``ppo/entropy``,
``ppo/approx_kl`` (between successive policies), ``ppo/clip_fraction``, ``ppo/grad_norm``,
``speed/steps_per_second``, and where the time went (``time/env``, ``time/prior``, ``time/learner``;
PPO: ``time/train``), each over env steps. Needs the ``tensorboard`` extra.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Sequence
from pathlib import Path

TAGS = {
    "episodes": "episodes",
    "recent_return": "return/env",
    "recent_basic_return": "return/basic",
    "recent_addon_return": "return/addon",
    "loss": "loss/total",
    "policy_loss": "loss/policy",
    "value_loss": "loss/value",
    "entropy": "ppo/entropy",
    "approx_kl": "ppo/approx_kl",
    "clip_fraction": "ppo/clip_fraction",
    "grad_norm": "ppo/grad_norm",
    "steps_per_second": "speed/steps_per_second",
    "env_seconds": "time/env",
    "prior_seconds": "time/prior",
    "learner_seconds": "time/learner",
    "train_seconds": "time/train",
    "alpha_hat": "kl_budget/alpha_hat",
    "kl_to_prior": "kl_budget/kl_to_prior",
    "greedy_moved": "kl_budget/greedy_moved",
}
LOGDIR_NAME = "tensorboard"


class TensorBoardError(ValueError):
    """A folder that is not a run, or the extra not installed."""


def _writer_class():  # type: ignore[no-untyped-def]
    try:
        from tensorboard.summary import Writer
    except ImportError as e:
        raise TensorBoardError(
            "rql4j-bridge tensorboard needs tensorboard: pip install 'rql4j-bridge[tensorboard]' into this Python"
        ) from e
    return Writer


class _Follower:
    """One run: the rows of its metrics.csv not yet written, as scalars of its event file."""

    def __init__(self, run: Path, writer_class) -> None:  # type: ignore[no-untyped-def]
        self.run = run
        self.metrics = run / "metrics.csv"
        self.logdir = run / LOGDIR_NAME
        # a fresh event file each time: a resumed run rewrites its rows after the checkpoint's step
        for old in self.logdir.glob("events.out.tfevents.*"):
            old.unlink()
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.writer = writer_class(str(self.logdir))
        self.rows = 0

    def poll(self) -> int:
        """Writes the rows added since the last poll; returns how many."""
        if not self.metrics.is_file():
            return 0
        with self.metrics.open(newline="") as f:
            rows = list(csv.DictReader(f))
        if len(rows) < self.rows:  # a resumed run dropped the rows after its checkpoint: start over
            self.rows = 0
        added = 0
        for row in rows[self.rows :]:
            if not row.get("step") or None in row.values():
                break  # a row still being written
            step = int(float(row["step"]))
            for column, value in row.items():
                tag = TAGS.get(column)
                if column == "exploration_value":
                    tag = f"exploration/{row.get('exploration') or 'value'}"
                if tag is None:
                    continue
                try:
                    x = float(value)
                except (TypeError, ValueError):
                    continue
                if math.isfinite(x):
                    self.writer.add_scalar(tag, x, step)
            self.rows += 1
            added += 1
        if added:
            self.writer.flush()
        return added

    def finished(self) -> bool:
        return (self.run / "summary.json").is_file()

    def close(self) -> None:
        self.writer.close()


def follow(runs: Sequence[Path], *, keep_following: bool = False, interval_s: float = 2.0) -> dict[Path, int]:
    """Writes each run's metrics.csv as TensorBoard scalars under ``RUN/tensorboard``; with
    ``keep_following``, polls every ``interval_s`` until every run has finished. Returns the rows
    written per run."""
    writer_class = _writer_class()
    for run in runs:
        if not run.is_dir():
            raise TensorBoardError(f"{run}: not a folder (expected a run folder, written by rql4j customize --out RUN)")
    followers = [_Follower(run, writer_class) for run in runs]
    try:
        while True:
            for f in followers:
                f.poll()
            if not keep_following or all(f.finished() for f in followers):
                for f in followers:
                    f.poll()  # the last rows, written before summary.json
                return {f.run: f.rows for f in followers}
            time.sleep(interval_s)
    finally:
        for f in followers:
            f.close()
