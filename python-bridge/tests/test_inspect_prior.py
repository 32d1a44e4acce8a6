"""inspect_prior / ``rql4j-bridge inspect-prior`` (rql4j_bridge.prior.inspection): a prior checked on an env
before customizing it, on the shipped prior packages and real Gymnasium envs.

The statistics are checked against priors whose distribution is known exactly (a constant categorical and a
constant squashed Gaussian), the shipped priors against each other (the behaviour-cloned CartPole prior is
sharper than the soft-DQN one), the "prior alone" returns against episodes run by hand with ``load_policy``,
and every refusal for its one-line message naming the input.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch
from torch import nn

from rql4j_bridge.cli import main
from rql4j_bridge.customized import load_policy
from rql4j_bridge.prior.inspection import (
    SURE_PROBABILITY,
    SURE_STD,
    PriorInspection,
    PriorInspectionError,
    inspect_prior,
)
from rql4j_bridge.prior.package import save_prior_package

REPO = Path(__file__).resolve().parents[2]
PRIORS = REPO / "examples" / "priors"
BC = PRIORS / "cartpole-center-bc"
SOFTDQN = PRIORS / "cartpole-center-softdqn"
SAC = PRIORS / "mountaincar-lessleft-sac"
MC_BC = PRIORS / "mountaincar-lessleft-bc"
CENTER = "rql4j_bridge.tasks.classic:cartpole_center_addon"  # takes the env first
LESS_LEFT = "rql4j_bridge.tasks.classic:mountaincar_lessleft_addon"  # does not
NEARLY = "nearly deterministic"


@pytest.fixture(scope="module")
def cartpole() -> dict[str, PriorInspection]:
    return {name: inspect_prior(prior, "CartPole-v1", addon=CENTER)
            for name, prior in (("bc", BC), ("softdqn", SOFTDQN))}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The statistics, on priors of a known distribution
# ---------------------------------------------------------------------------------------------


class FixedLogits(nn.Module):
    """The same categorical distribution in every state."""

    def __init__(self, probs: list[float]) -> None:
        super().__init__()
        self.log_probs = nn.Parameter(torch.log(torch.tensor(probs)).unsqueeze(0))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.log_probs.expand(obs.shape[0], -1) + 0.0 * obs[:, :1], dim=1)


class FixedGaussian(nn.Module):
    """The same (pre-tanh) Gaussian in every state: mean 0.3, log_std given."""

    def __init__(self, log_std: float) -> None:
        super().__init__()
        self.log_std = nn.Parameter(torch.tensor([[log_std]]))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zero = 0.0 * obs[:, :1]
        return zero + 0.3, zero + self.log_std


def fixed_categorical(tmp_path: Path, probs: list[float]) -> Path:
    env = gymnasium.make("CartPole-v1")
    return save_prior_package(tmp_path / "fixed-categorical", FixedLogits(probs), name="fixed-categorical",
                              distribution="categorical", observation_space=env.observation_space,
                              action_space=env.action_space, source_kind="torch-module")  # fmt: skip


def fixed_squashed(tmp_path: Path, log_std: float) -> Path:
    env = gymnasium.make("MountainCarContinuous-v0")
    return save_prior_package(tmp_path / "fixed-squashed", FixedGaussian(log_std), name="fixed-squashed",
                              distribution="squashed_gaussian", observation_space=env.observation_space,
                              action_space=env.action_space, source_kind="torch-module")  # fmt: skip


def test_categorical_statistics_are_exact(tmp_path: Path) -> None:
    p = [0.995, 0.005]
    r = inspect_prior(fixed_categorical(tmp_path, p), "CartPole-v1", episodes=2, max_steps=300)
    entropy = -sum(q * math.log(q) for q in p)
    assert r.entropy_mean == pytest.approx(entropy, abs=1e-6)
    assert r.entropy_min == pytest.approx(entropy, abs=1e-6) and r.entropy_p10 == pytest.approx(entropy, abs=1e-6)
    assert r.max_entropy == pytest.approx(math.log(2))
    assert r.mean_max_probability == pytest.approx(0.995, abs=1e-6)
    assert r.mean_log_prob_gap == pytest.approx(math.log(0.995 / 0.005), abs=1e-4)
    assert r.mean_std is None and r.sure_share == 1.0 and r.nearly_deterministic
    assert sum(NEARLY in w for w in r.warnings) == 1
    assert r.steps == sum(e.length for e in r.sampled) <= 300


def test_a_uniform_prior_is_not_sure(tmp_path: Path) -> None:
    r = inspect_prior(fixed_categorical(tmp_path, [0.5, 0.5]), "CartPole-v1", episodes=1)
    assert r.entropy_mean == pytest.approx(math.log(2), abs=1e-6) and r.mean_log_prob_gap == pytest.approx(0, abs=1e-6)
    assert r.sure_share == 0.0 and not r.nearly_deterministic and not any(NEARLY in w for w in r.warnings)


@pytest.mark.parametrize("std", [0.02, 0.5])
def test_gaussian_statistics_are_the_pre_tanh_gaussians(tmp_path: Path, std: float) -> None:
    r = inspect_prior(fixed_squashed(tmp_path, math.log(std)), "MountainCarContinuous-v0", addon=LESS_LEFT,
                      episodes=1, max_steps=200)  # fmt: skip
    entropy = 0.5 * math.log(2 * math.pi * math.e) + math.log(std)
    assert r.entropy_mean == pytest.approx(entropy, abs=1e-5) and r.entropy_min == pytest.approx(entropy, abs=1e-5)
    assert r.max_entropy is None and r.mean_max_probability is None and r.mean_log_prob_gap is None
    assert r.mean_std is not None and r.mean_std[0] == pytest.approx(std, rel=1e-5)
    sure = std < SURE_STD
    assert r.nearly_deterministic is sure and r.sure_share == (1.0 if sure else 0.0)
    warning = [w for w in r.warnings if NEARLY in w]
    assert len(warning) == sure
    if sure:
        assert "--prior-weight" in warning[0] and "--prior-min-std" in warning[0]  # SAC's stabilizers
    # the mean 0.3 pre-tanh, squashed: the add-on (-0.1 for a push left) is 0 in every deterministic step
    assert [e.addon_return for e in r.deterministic] == [0.0]


# ---------------------------------------------------------------------------------------------
# The shipped priors
# ---------------------------------------------------------------------------------------------


def test_the_bc_prior_is_sharper_than_the_soft_dqn_prior(cartpole: dict[str, PriorInspection]) -> None:
    bc, soft = cartpole["bc"], cartpole["softdqn"]
    for r in (bc, soft):
        assert r.spaces_match and r.distribution == "categorical" and r.addon == CENTER
        assert r.steps == 1500  # 3 episodes of 500 steps: both keep the pole up
        assert 0 <= r.entropy_min <= r.entropy_p10 <= r.entropy_mean <= math.log(2)
    # measured: bc entropy 0.074, gap 11.7 nats, sure on 80% of its states; soft-DQN 0.333, 2.64 nats, 14%
    assert bc.entropy_mean < soft.entropy_mean / 2
    assert bc.mean_log_prob_gap is not None and soft.mean_log_prob_gap is not None
    assert bc.mean_log_prob_gap > 3 * soft.mean_log_prob_gap
    assert bc.mean_max_probability is not None and soft.mean_max_probability is not None
    assert bc.mean_max_probability > soft.mean_max_probability
    assert bc.sure_share > 0.5 > soft.sure_share
    assert bc.nearly_deterministic and not soft.nearly_deterministic
    (warning,) = bc.warnings
    assert NEARLY in warning and "--prior-weight" in warning and "--kl-budget" in warning
    assert f"above {SURE_PROBABILITY}" in warning and "docs/tuning.md" in warning
    assert soft.warnings == ()
    assert "no warnings" in soft.text() and f"warning: {warning}" in bc.text()


def test_the_prior_alone_row_is_the_priors_deterministic_episodes(cartpole: dict[str, PriorInspection]) -> None:
    """Java's evaluator written out: reset(10000 + i), predict(deterministic), the add-on summed by hand."""
    from rql4j_bridge.tasks.classic import cartpole_center_addon

    for name, prior in (("bc", BC), ("softdqn", SOFTDQN)):
        policy = load_policy(prior)
        env = gymnasium.make("CartPole-v1")
        for i, episode in enumerate(cartpole[name].deterministic):
            obs, _ = env.reset(seed=10_000 + i)
            addon = basic = 0.0
            length = 0
            done = False
            while not done:
                action, _ = policy.predict(obs, deterministic=True)
                next_obs, reward, terminated, truncated, info = env.step(int(action))
                addon += cartpole_center_addon(env, obs, action, next_obs, reward, terminated, truncated, info)
                basic += float(reward)
                obs, length, done = next_obs, length + 1, terminated or truncated
            assert (episode.seed, episode.length, episode.finished) == (10_000 + i, length, True)
            assert episode.basic_return == basic and episode.addon_return == pytest.approx(addon, abs=1e-9)
        summary = cartpole[name].summary()
        assert summary["basic_return"]["mean"] == 500.0 and summary["addon_return"]["mean"] < 0


def test_the_sac_prior_is_not_sure_and_the_bc_one_is() -> None:
    sac = inspect_prior(SAC, "MountainCarContinuous-v0", addon=LESS_LEFT)
    bc = inspect_prior(MC_BC, "MountainCarContinuous-v0", addon=LESS_LEFT)
    for r in (sac, bc):
        assert r.spaces_match and r.distribution == "squashed_gaussian" and r.mean_std is not None
        assert all(e.finished and e.terminated for e in r.deterministic)  # both reach the flag
        assert r.summary()["basic_return"]["mean"] > 90
    # measured: SAC entropy 0.81 nats per dimension, mean pre-tanh std 0.56; BC -1.7, 0.056 (below 0.1 on 90%)
    assert sac.entropy_mean > bc.entropy_mean + 1
    assert sac.mean_std is not None and bc.mean_std is not None and sac.mean_std[0] > 5 * bc.mean_std[0]
    assert not sac.nearly_deterministic and sac.warnings == ()
    assert bc.nearly_deterministic and len(bc.warnings) == 1 and "--prior-min-std" in bc.warnings[0]


def test_a_builtin_task_reports_both_parts_itself() -> None:
    r = inspect_prior(SOFTDQN, "rql4j/cartpole-center-total-v0", episodes=1)
    assert r.addon is None and r.warnings == ()
    (episode,) = r.deterministic
    assert 400 < episode.basic_return < 500 and episode.addon_return < 0  # the task's basic reward, its add-on


def test_no_addon_on_a_plain_env_is_a_warning_not_a_failure() -> None:
    r = inspect_prior(SOFTDQN, "CartPole-v1", episodes=1)
    assert math.isnan(r.deterministic[0].addon_return)
    (warning,) = r.warnings
    assert "--addon" in warning and "CartPole-v1" in warning
    assert "add-on return not reported" in r.text()


def test_max_steps_caps_each_pass() -> None:
    r = inspect_prior(SOFTDQN, "CartPole-v1", addon=CENTER, episodes=3, max_steps=120)
    assert r.steps == 120 and len(r.sampled) == 1 and not r.sampled[0].finished
    assert r.summary("sampled")["basic_return"]["mean"] is None
    assert sum("only 0 of 3" in w for w in r.warnings) == 2
    assert "no episode ended" in r.text()


# ---------------------------------------------------------------------------------------------
# Spaces
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prior", "env_id", "named"),
    [
        (BC, "Acrobot-v1", ["Discrete(2)", "Discrete(3)"]),
        (SOFTDQN, "MountainCarContinuous-v0", ["Discrete(2)", "Box(-1.0, 1.0, (1,), float32)"]),
        (SAC, "Pendulum-v1", ["width 2", "width 3"]),
        (SAC, "CartPole-v1", ["Box(-1.0, 1.0, (1,), float32)", "Discrete(2)"]),
    ],
)
def test_spaces_that_do_not_fit_are_refused(prior: Path, env_id: str, named: list[str]) -> None:
    with pytest.raises(PriorInspectionError) as e:
        inspect_prior(prior, env_id)
    message = str(e.value)
    assert "\n" not in message and env_id in message and prior.name in message
    for text in named:
        assert text in message


def test_a_compatible_but_different_observation_space_is_a_warning(tmp_path: Path, monkeypatch: Any) -> None:
    """CartPole with its observation bounds widened (same width): Java would run it, so a warning only."""
    (tmp_path / "wide_cartpole.py").write_text(
        "import gymnasium, numpy as np\n"
        "from gymnasium.envs.registration import register\n"
        "class Wide(gymnasium.ObservationWrapper):\n"
        "    def __init__(self, env):\n"
        "        super().__init__(env)\n"
        "        self.observation_space = gymnasium.spaces.Box(-10, 10, (4,), np.float32)\n"
        "    def observation(self, obs):\n"
        "        return obs\n"
        "def make(**kwargs):\n"
        "    return Wide(gymnasium.make('CartPole-v1', **kwargs))\n"
        "register('InspectTest/WideCartPole-v0', entry_point=make)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    r = inspect_prior(SOFTDQN, "InspectTest/WideCartPole-v0", imports=["wide_cartpole"], addon=CENTER, episodes=1)
    assert not r.observation_spaces_equal and r.action_spaces_equal and not r.spaces_match
    (warning,) = r.warnings
    assert "observation space" in warning and "Box(-10.0, 10.0, (4,), float32)" in warning
    assert r.to_dict()["spaces"]["match"] is False and ": compatible" in r.text()


# ---------------------------------------------------------------------------------------------
# The add-on, the env, the inputs
# ---------------------------------------------------------------------------------------------

ADDONS = """\
import math
import numpy as np
calls = []
def nan_at_step_5(obs, action, next_obs, reward, terminated, truncated, info):
    calls.append(1)
    return float("nan") if len(calls) == 5 else 0.5
def text(obs, action, next_obs, reward, terminated, truncated, info):
    return "fast"
def infinite(env, obs, action, next_obs, reward, terminated, truncated, info):
    return math.inf
def vector(obs, action, next_obs, reward, terminated, truncated, info):
    return np.array([1.0, 2.0])
def fails(obs, action, next_obs, reward, terminated, truncated, info):
    raise KeyError("speed")
def numpy_scalar(obs, action, next_obs, reward, terminated, truncated, info):
    return np.float32(-1.0)
def two_args(obs, action):
    return 0.0
"""


@pytest.fixture
def addons(tmp_path: Path, monkeypatch: Any) -> str:
    """A fresh module of add-ons (its own name per test, so that the call counter starts at 0)."""
    name = f"inspect_addons_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(ADDONS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


@pytest.mark.parametrize(
    ("function", "named"),
    [
        ("nan_at_step_5", ["returned nan (float) at step 5 of sampled episode 1 (seed 0) on CartPole-v1"]),
        ("text", ["returned 'fast' (str) at step 1 of sampled episode 1", "finite real number"]),
        ("infinite", ["returned inf (float) at step 1"]),
        ("vector", ["returned array([1., 2.]) (ndarray) at step 1"]),
        ("fails", ["raised KeyError: 'speed'", "at step 1 of sampled episode 1"]),
        ("two_args", ["takes 2 positional parameters"]),
    ],
)
def test_a_bad_addon_is_named_with_its_step(addons: str, function: str, named: list[str]) -> None:
    target = f"{addons}:{function}"
    with pytest.raises(PriorInspectionError) as e:
        inspect_prior(SOFTDQN, "CartPole-v1", addon=target)
    message = str(e.value)
    assert "\n" not in message and (target in message or target.replace(":", ".") in message), message
    for text in named:
        assert text in message, message


def test_a_numpy_scalar_addon_is_fine(addons: str) -> None:
    r = inspect_prior(SOFTDQN, "CartPole-v1", addon=f"{addons}:numpy_scalar", episodes=1, max_steps=600)
    assert [e.addon_return for e in r.deterministic] == [-500.0]


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"addon": "no_such_module_for_inspect:f"}, ["no_such_module_for_inspect", "does not import", "PYTHONPATH"]),
        ({"addon": "rql4j_bridge.tasks.classic:no_such_function"}, ["no function 'no_such_function'"]),
        ({"addon": "no colon"}, ["'module:function'"]),
        ({"imports": ["no_such_module_for_inspect"]}, ["import no_such_module_for_inspect failed"]),
        ({"env_id": "NoSuchEnv-v0"}, ["unknown Gymnasium env id 'NoSuchEnv-v0'", "--import"]),
        ({"episodes": 0}, ["episodes must be an integer >= 1"]),
        ({"max_steps": -1}, ["max_steps must be an integer >= 1"]),
        ({"seed": -1}, ["seed must be an integer >= 0"]),
    ],
)
def test_bad_input_is_refused_naming_it(kwargs: dict[str, Any], named: list[str]) -> None:
    env_id = kwargs.pop("env_id", "CartPole-v1")
    with pytest.raises(PriorInspectionError) as e:
        inspect_prior(SOFTDQN, env_id, **kwargs)
    for text in named:
        assert text in str(e.value), str(e.value)


class NanRight(nn.Module):
    """A categorical prior that returns NaN once the cart is right of the centre (the load's probe, zeros, passes)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 2)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out = torch.log_softmax(self.lin(obs), dim=1)
        return torch.where(obs[:, :1] > 0.01, torch.full_like(out, float("nan")), out)


def test_a_prior_returning_nan_on_the_envs_states_is_refused(tmp_path: Path) -> None:
    env = gymnasium.make("CartPole-v1")
    torch.manual_seed(0)
    prior = save_prior_package(tmp_path / "nan-right", NanRight(), name="nan-right", distribution="categorical",
                               observation_space=env.observation_space, action_space=env.action_space,
                               source_kind="torch-module")  # fmt: skip
    with pytest.raises(PriorInspectionError) as e:
        inspect_prior(prior, "CartPole-v1", seed=1)
    message = str(e.value)
    assert message.startswith("prior 'nan-right' cannot act at step ") and "returned NaN" in message, message
    assert "export it again" in message and "\n" not in message


def test_a_folder_without_a_package_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no prior package at"):
        inspect_prior(tmp_path, "CartPole-v1")


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

JSON_KEYS = {"format", "prior_dir", "prior_name", "env_id", "addon", "imports", "distribution", "spaces", "steps",
             "entropy", "spread", "sure_share", "thresholds", "nearly_deterministic", "returns", "warnings",
             "text"}  # fmt: skip


def test_cli_inspect_prior(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect-prior", str(BC), "--env-id", "CartPole-v1", "--addon", CENTER, "--episodes", "1"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"prior 'cartpole-center-bc' (categorical, {BC}) on CartPole-v1 + add-on {CENTER}\n")
    assert "  entropy on its own states (500 sampled steps): mean " in printed
    assert "warning: the prior is nearly deterministic" in printed

    # --json: one JSON object and nothing else on stdout
    assert main(["inspect-prior", str(SOFTDQN), "--env-id", "CartPole-v1", "--episodes", "1", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    data = json.loads(out)
    assert set(data) == JSON_KEYS and data["format"] == "rql4j-prior-inspection/1"
    assert data["spaces"]["match"] is True and data["entropy"]["uniform"] == pytest.approx(math.log(2))
    assert set(data["spread"]) == {"mean_max_probability", "mean_log_prob_gap", "mean_std"}
    assert data["spread"]["mean_std"] is None and data["nearly_deterministic"] is False
    assert data["returns"]["deterministic"]["episodes"][0]["addon_return"] is None  # NaN: not reported
    assert data["returns"]["deterministic"]["summary"]["basic_return"]["mean"] == 500.0
    assert data["thresholds"] == {"sure_probability": 0.99, "sure_std": 0.1, "sure_share": 0.5}

    # --json FILE: the text printed, the JSON written
    result = tmp_path / "inspection.json"
    assert main(["inspect-prior", str(SAC), "--env-id", "MountainCarContinuous-v0", "--addon", LESS_LEFT,
                 "--episodes", "1", "--json", str(result)]) == 0  # fmt: skip
    assert capsys.readouterr().out.endswith(f"no warnings\nwrote {result}\n")
    assert json.loads(result.read_text())["spread"]["mean_std"][0] > 0.1

    # refused input: exit 1, one line on stderr naming it
    assert main(["inspect-prior", str(BC), "--env-id", "Acrobot-v1"]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("rql4j-bridge inspect-prior: error: ")
    assert "Acrobot-v1" in err and "Discrete(3)" in err and captured.out == ""
    # bad options: exit 2
    with pytest.raises(SystemExit) as e:
        main(["inspect-prior", str(BC)])  # no --env-id
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["inspect-prior", str(BC), "--env-id", "CartPole-v1", "--episodes", "0"])
    assert e.value.code == 2
    assert main(["inspect-prior", str(BC), "--env-id", "CartPole-v1", "--json", str(tmp_path / "no" / "x.json")]) == 2


def test_python_m_rql4j_bridge_inspect_prior(tmp_path: Path) -> None:
    """The module entry point, in a working folder holding the add-on's module (found there, as evaluate's)."""
    (tmp_path / "myaddons.py").write_text("def bad(obs, action, next_obs, reward, terminated, truncated, info):\n"
                                          "    return float('nan')\n")  # fmt: skip
    cmd = [sys.executable, "-P", "-m", "rql4j_bridge", "inspect-prior", str(SOFTDQN), "--env-id", "CartPole-v1",
           "--addon", "myaddons:bad"]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "rql4j-bridge inspect-prior: error: the add-on myaddons:bad returned nan (float) at step 1 of sampled episode 1"
    )
    done = subprocess.run([*cmd[:-1], "rql4j_bridge.tasks.classic:cartpole_center_addon", "--episodes", "1",
                           "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["returns"]["deterministic"]["episodes"][0]["length"] == 500
    np.testing.assert_allclose(json.loads(done.stdout)["entropy"]["uniform"], math.log(2))
