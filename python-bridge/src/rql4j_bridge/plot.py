"""Learning curves of rql4j training runs: ``rql4j-bridge plot RUN/metrics.csv ... --out curves.png``.

Reads the ``metrics.csv`` files that ``rql4j customize --out RUN`` (and ``rql4j results``) write, one
row per progress report, and draws one line per run in three panels over env steps: the mean basic
return and the mean add-on return of the last 20 training episodes, and the training loss. A run
is labelled by its folder name. Needs matplotlib: the ``plot`` extra (``pip install 'rql4j-bridge[plot]'``;
``tasks`` and ``dev`` bring it too).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

COLUMNS = ("step", "recent_basic_return", "recent_addon_return", "loss")
PANELS = (
    ("recent_basic_return", "basic return (last 20 training episodes)"),
    ("recent_addon_return", "add-on return (last 20 training episodes)"),
    ("loss", "training loss"),
)


class PlotError(ValueError):
    """A metrics file that cannot be plotted; the message names it and says why."""


def read_metrics(path: Path) -> dict[str, list[float]]:
    """The plotted columns of one metrics.csv (NaN where a report had no finished episode yet)."""
    if not path.is_file():
        raise PlotError(f"{path}: no such file (expected a run's metrics.csv, written by rql4j customize --out RUN)")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise PlotError(f"{path}: not an rql4j metrics.csv (columns {missing} missing; has {reader.fieldnames})")
        out: dict[str, list[float]] = {c: [] for c in COLUMNS}
        for line, row in enumerate(reader, start=2):
            try:
                for c in COLUMNS:
                    out[c].append(float(row[c]))
            except (TypeError, ValueError):
                raise PlotError(f"{path}:{line}: a value is not a number: {row}") from None
    if not out["step"]:
        raise PlotError(f"{path}: no progress reports yet")
    return out


def plot(paths: Sequence[Path], out: Path, title: str | None = None) -> Path:
    """Draws the runs' curves into ``out`` (PNG, SVG or PDF by its suffix); returns ``out``."""
    try:
        import matplotlib
    except ImportError as e:
        raise PlotError(
            "rql4j-bridge plot needs matplotlib: pip install 'rql4j-bridge[plot]' (or matplotlib) into this Python"
        ) from e

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [(p.parent.name or str(p), read_metrics(p)) for p in paths]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 3.8), constrained_layout=True)
    for ax, (column, label) in zip(axes, PANELS, strict=True):
        positive = True
        for name, m in runs:
            pts = [(s, v) for s, v in zip(m["step"], m[column], strict=True) if not math.isnan(v)]
            if pts:
                ax.plot([s for s, _ in pts], [v for _, v in pts], label=name, linewidth=1.2)
                positive = positive and all(v > 0 for _, v in pts)
        ax.set_xlabel("env steps")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
        if column == "loss":
            # TD losses are positive (log scale); PPO's (clipped surrogate + value) go below 0 (linear)
            ax.set_yscale("log" if positive else "linear")
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
