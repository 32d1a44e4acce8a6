"""rql4j_bridge.customize: a customization started from Python runs the real rql4j command line (this
checkout's bin/rql4j, built by `make setup`), the real env server and DJL, and returns the exported policy.

These tests need the Java side built (`make setup`, which `make test` runs first); they fail, not skip,
without it: CI must run them.
"""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import rql4j_bridge
from rql4j_bridge.customized.customize import CustomizationError, find_cli, main

ROOT = Path(__file__).resolve().parents[2]
PRIOR = ROOT / "examples" / "priors" / "cartpole-center-softdqn"

pytest.importorskip("torch")


@pytest.fixture()
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's working folder with a requirement module, importable as `stay_left_tasks`."""
    (tmp_path / "stay_left_tasks.py").write_text(
        textwrap.dedent(
            """
            def stay_left(obs, action, next_obs, reward, terminated, truncated, info):
                return 1.0 if next_obs[0] < 0.0 else 0.0
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_customize_returns_the_exported_policy_and_it_runs_on_the_env(user_dir: Path) -> None:
    import stay_left_tasks

    lines: list[str] = []
    policy = rql4j_bridge.customize(
        PRIOR, "CartPole-v1", stay_left_tasks.stay_left, out="run", steps=2000, eval_episodes=2,
        on_output=lines.append,
    )  # fmt: skip
    # the command line's output was streamed: its settings line, the table
    text = "\n".join(lines)
    assert "rql4j customize: residual on CartPole-v1 + stay_left_tasks:stay_left" in text
    assert "| customized (residual) |" in text
    assert (user_dir / "run" / "export" / "policy.pt").is_file()
    assert policy.distribution == "categorical"
    # the returned module is the exported one, and predict acts on the env
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=0)
    steps, done = 0, False
    while not done and steps < 50:
        action, state = policy.predict(obs, deterministic=True)
        assert state is None and int(action) in (0, 1)
        obs, _, terminated, truncated, _ = env.step(int(action))
        done = terminated or truncated
        steps += 1
    assert steps > 5
    # the same settings again: the finished run is read back (nothing trained), from the shell command
    assert main(["--prior", str(PRIOR), "--env-id", "CartPole-v1", "--addon", "stay_left_tasks:stay_left",
                 "--out", "run", "--steps", "2000", "--", "--eval-episodes", "2"]) == 0  # fmt: skip


def test_customize_from_an_sb3_zip(user_dir: Path) -> None:
    sb3 = pytest.importorskip("stable_baselines3")
    model = sb3.DQN("MlpPolicy", "CartPole-v1", buffer_size=100, policy_kwargs={"net_arch": [16]}, seed=0)
    model.save(user_dir / "dqn.zip")
    with pytest.raises(ValueError, match="temperature="):
        rql4j_bridge.customize(user_dir / "dqn.zip", "CartPole-v1", "stay_left_tasks:stay_left", out="run-zip")
    # settings the command line refuses: its message; the prior package it made stays for the retry
    with pytest.raises(CustomizationError, match="learningStarts"):
        rql4j_bridge.customize(user_dir / "dqn.zip", "CartPole-v1", "stay_left_tasks:stay_left", out="run-zip",
                               temperature=1.0, steps=1000, on_output=None)  # fmt: skip
    policy = rql4j_bridge.customize(
        user_dir / "dqn.zip", "CartPole-v1", "stay_left_tasks:stay_left", out="run-zip", temperature=1.0,
        steps=1500, eval_episodes=1, on_output=None,
    )  # fmt: skip
    assert (user_dir / "run-zip" / "prior-package" / "prior.json").is_file()
    assert (user_dir / "run-zip" / "export" / "prior" / "prior.json").is_file()
    action, _ = policy.predict(np.zeros(4, np.float32))
    assert int(action) in (0, 1)


def test_java_errors_reach_python_with_their_message(user_dir: Path) -> None:
    with pytest.raises(CustomizationError) as info:
        rql4j_bridge.customize(PRIOR, "CartPole-v1", "stay_left_tasks:nope", out="bad", steps=100, on_output=None)
    assert "module 'stay_left_tasks' has no function 'nope'" in info.value.message
    assert info.value.exit_code not in (0, None)
    # a prior that does not fit the env: the command line's check (a prior failure: exit code 1)
    with pytest.raises(CustomizationError) as info:
        rql4j_bridge.customize(PRIOR, "MountainCarContinuous-v0", "stay_left_tasks:stay_left", out="bad2",
                               steps=100, on_output=None)  # fmt: skip
    assert "MountainCarContinuous-v0" in info.value.message and "acts in Discrete" in info.value.message
    assert info.value.exit_code == 1
    # a setting the command line refuses: exit code 2
    with pytest.raises(CustomizationError) as info:
        rql4j_bridge.customize(PRIOR, "CartPole-v1", "stay_left_tasks:stay_left", out="bad4", steps=100,
                               options=["--eval-episodes", "0"], on_output=None)  # fmt: skip
    assert "--eval-episodes" in info.value.message and info.value.exit_code == 2
    assert main(["--prior", str(PRIOR), "--env-id", "CartPole-v1", "--addon", "stay_left_tasks:nope",
                 "--out", "bad3", "--steps", "100"]) != 0  # fmt: skip


def test_functions_the_server_cannot_import_are_refused_before_anything_runs(user_dir: Path) -> None:
    def local(*args: object) -> float:
        return 0.0

    for fn in (local, lambda *a: 0.0):
        with pytest.raises(ValueError, match="top level of a module file"):
            rql4j_bridge.customize(PRIOR, "CartPole-v1", fn, out="never", cli=["false"])
    with pytest.raises(ValueError, match="MODULE:FUNCTION"):
        rql4j_bridge.customize(PRIOR, "CartPole-v1", "no_colon", out="never", cli=["false"])
    with pytest.raises(ValueError, match="not a prior package"):
        rql4j_bridge.customize(user_dir, "CartPole-v1", "m:f", out="never", cli=["false"])
    assert not (user_dir / "never").exists()


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_command_line_is_found_by_the_documented_rule(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = _executable(home / "bin" / "rql4j")
    on_path = _executable(tmp_path / "path" / "rql4j")
    path = f"{on_path.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    # 1. RQL4J_HOME's bin/rql4j, before PATH
    assert find_cli({"RQL4J_HOME": str(home), "PATH": path}) == [str(script)]
    # ... or its runnable jar, with java -jar
    jar_home = tmp_path / "jar-home"
    jar_home.mkdir()
    (jar_home / "rql4j-cli-0.2.0.jar").write_bytes(b"")
    (jar_home / "rql4j-cli-0.2.0-sources.jar").write_bytes(b"")
    cmd = find_cli({"RQL4J_HOME": str(jar_home), "PATH": os.environ.get("PATH", "")})
    assert cmd[1:] == ["-jar", str(jar_home / "rql4j-cli-0.2.0.jar")] and cmd[0].endswith("java")
    # ... and a RQL4J_HOME with neither is an error naming it
    with pytest.raises(CustomizationError, match="neither bin/rql4j nor"):
        find_cli({"RQL4J_HOME": str(tmp_path / "path"), "PATH": path})
    # 2. rql4j on PATH
    assert find_cli({"PATH": path}) == [str(on_path)]
    # 3. this checkout's bin/rql4j
    assert find_cli({"PATH": str(tmp_path / "empty")}) == [str(ROOT / "bin" / "rql4j")]


def test_env_workers_and_server_reach_the_command_line(user_dir: Path) -> None:
    """The keyword arguments become the command line's options (a stand-in command records them)."""
    recorder = user_dir / "record.sh"
    recorder.write_text('#!/bin/sh\necho "$@" > args.txt\nexit 3\n')
    recorder.chmod(recorder.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(CustomizationError):
        rql4j_bridge.customize(PRIOR, "CartPole-v1", "stay_left_tasks:stay_left", out="never", env_workers=2,
                               server="127.0.0.1:5000", on_output=None, cli=[str(recorder)])  # fmt: skip
    words = (user_dir / "args.txt").read_text().split()
    assert words[words.index("--env-workers") + 1] == "2"
    assert words[words.index("--server") + 1] == "127.0.0.1:5000"
    with pytest.raises(CustomizationError):
        rql4j_bridge.customize(PRIOR, "CartPole-v1", "stay_left_tasks:stay_left", out="never2", ray="auto",
                               greedy_share=0.05, on_output=None, cli=[str(recorder)])  # fmt: skip
    words = (user_dir / "args.txt").read_text().split()
    assert words[words.index("--ray") + 1] == "auto" and "--server" not in words
    assert words[words.index("--greedy-share") + 1] == "0.05"
