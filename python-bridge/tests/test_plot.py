"""rql4j-bridge plot: learning curves from rql4j's metrics.csv files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rql4j_bridge.cli import main
from rql4j_bridge.plot import PlotError, read_metrics

HEADER = (
    "step,episodes,recent_return,recent_basic_return,recent_addon_return,exploration,exploration_value,loss,"
    "steps_per_second,env_seconds,prior_seconds,learner_seconds\n"
)


def _run(tmp: Path, name: str, rows: list[str]) -> Path:
    run = tmp / name
    run.mkdir()
    (run / "metrics.csv").write_text(HEADER + "".join(r + "\n" for r in rows))
    return run


def test_plots_every_run_into_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _run(
        tmp_path,
        "residual-seed0",
        ["1000,2,nan,nan,nan,eps,0.5,0.1,200,1,1,1", "2000,5,-3,90,-3,eps,0.2,0.05,210,2,2,2"],
    )
    b = _run(tmp_path, "oracle-seed0", ["1000,1,-5,80,-5,alpha,0.1,0.3,190,1,1,1"])
    out = tmp_path / "curves.png"
    assert main(["plot", str(a), str(b / "metrics.csv"), "--out", str(out), "--title", "t"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out
    m = read_metrics(a / "metrics.csv")
    assert m["step"] == [1000.0, 2000.0] and m["recent_basic_return"][1] == 90.0


def test_refuses_a_file_that_is_not_a_metrics_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["plot", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "other.csv" in err and "not an rql4j metrics.csv" in err
    with pytest.raises(PlotError, match="no such file"):
        read_metrics(tmp_path / "missing.csv")
    broken = _run(tmp_path, "broken", ["1000,2,x,y,z,eps,0.5,0.1,200,1,1,1"])
    with pytest.raises(PlotError, match=r"metrics.csv:2: a value is not a number"):
        read_metrics(broken / "metrics.csv")


def test_a_loss_below_zero_gets_a_linear_axis(tmp_path: Path) -> None:
    """PPO's loss (clipped surrogate + value) goes below 0: plotted, not dropped by a log scale."""
    from rql4j_bridge.plot import plot

    run = tmp_path / "ppo-seed0"
    run.mkdir()
    (run / "metrics.csv").write_text(
        "step,episodes,recent_return,recent_basic_return,recent_addon_return,loss\n"
        "2048,4,-50,1200,-50,0.4\n4096,8,-45,1210,-45,-0.05\n6144,12,-40,1220,-40,-0.07\n"
    )
    out = plot([run / "metrics.csv"], tmp_path / "curves.png")
    assert out.stat().st_size > 0
