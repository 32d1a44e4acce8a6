"""`rql4j-bridge tensorboard`: a run's metrics.csv as TensorBoard scalars, read back with TensorBoard's
own event reader; --follow picks up rows as the run writes them and stops when it has finished."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from rql4j_bridge.tensorboard import follow  # noqa: E402

# the headers org.rql4j.train.MetricsCsv writes (off-policy learners, PPO)
OFF_POLICY = ("step,episodes,recent_return,recent_basic_return,recent_addon_return,exploration,exploration_value,"
              "loss,steps_per_second,env_seconds,prior_seconds,learner_seconds,alpha_hat,kl_to_prior,"
              "greedy_moved")  # fmt: skip
PPO = ("step,episodes,recent_return,recent_basic_return,recent_addon_return,loss,policy_loss,value_loss,entropy,"
       "approx_kl,clip_fraction,grad_norm,steps_per_second,train_seconds,alpha_hat,kl_to_prior")  # fmt: skip


def test_the_headers_here_are_the_ones_the_java_side_writes() -> None:
    java = Path(__file__).resolve().parents[2] / "rql4j/src/main/java/org/rql4j/train/MetricsCsv.java"
    if not java.is_file():
        pytest.skip("not in the rql4j checkout")
    text = re.sub(r'"\s*\+\s*"', "", java.read_text())  # join the Java string literals split over lines
    assert f'"{OFF_POLICY}\\n"' in text and f'"{PPO}\\n"' in text


def _scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """The run's scalars as TensorBoard reads them (summary v2: tensors of the scalars plugin)."""
    from tensorboard.util import tensor_util

    acc = EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    out = {}
    for tag in acc.Tags()["tensors"]:
        assert acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars", tag
        out[tag] = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
    return out


def test_an_off_policy_run_becomes_scalars(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text(
        OFF_POLICY + "\n"
        "1000,3,NaN,NaN,NaN,alpha,0.5,NaN,900.0,0.4,0.2,0.3,,,\n"
        "2000,9,120.5,130.0,-9.5,alpha,0.25,0.031,950.0,0.8,0.4,0.7,0.61,0.052,0.034\n"
    )
    assert follow([run]) == {run: 2}
    s = _scalars(run)
    assert s["return/basic"] == [(2000, 130.0)], "NaN reports are left out"
    assert s["return/addon"] == [(2000, -9.5)]
    assert s["exploration/alpha"] == [(1000, 0.5), (2000, 0.25)]
    assert [x for _, x in s["loss/total"]] == [pytest.approx(0.031)]
    assert {"speed/steps_per_second", "time/env", "time/prior", "time/learner", "episodes"} <= set(s)
    # a KL budget's columns: empty without one (left out), its temperature and KL with one
    assert s["kl_budget/alpha_hat"] == [(2000, pytest.approx(0.61))]
    assert s["kl_budget/kl_to_prior"] == [(2000, pytest.approx(0.052))]
    assert s["kl_budget/greedy_moved"] == [(2000, pytest.approx(0.034))]


def test_follow_picks_up_new_rows_until_the_run_finishes(tmp_path: Path) -> None:
    run = tmp_path / "ppo-run"
    run.mkdir()
    metrics = run / "metrics.csv"
    metrics.write_text(PPO + "\n2048,0,NaN,NaN,NaN,0.5,0.1,0.4,1.2,0.01,0.1,0.5,400.0,5.1,,\n")

    def the_run_goes_on() -> None:
        time.sleep(0.6)
        with metrics.open("a") as f:
            f.write("4096,4,210.0,220.0,-10.0,0.4,0.08,0.3,1.1,0.02,0.12,0.45,410.0,10.2,,\n")
        time.sleep(0.4)
        (run / "summary.json").write_text("{}")

    writer = threading.Thread(target=the_run_goes_on)
    writer.start()
    out = subprocess.run([sys.executable, "-m", "rql4j_bridge", "tensorboard", str(run), "--follow", "--interval",
                          "0.2"], capture_output=True, text=True, timeout=60)  # fmt: skip
    writer.join()
    assert out.returncode == 0, out.stderr
    assert "2 reports" in out.stdout
    s = _scalars(run)
    assert [step for step, _ in s["return/basic"]] == [4096]
    assert [step for step, _ in s["ppo/approx_kl"]] == [2048, 4096]
    assert {"loss/policy", "loss/value", "ppo/entropy", "ppo/clip_fraction", "ppo/grad_norm", "time/train"} <= set(s)


def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "rql4j_bridge", "tensorboard", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 2 and "not a folder" in out.stderr
