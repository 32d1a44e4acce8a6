"""The prior-training pipeline (rql4j_bridge.train): the soft target against method.md's vector,
tiny end-to-end runs of every command producing loadable prior packages, and seeding."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from rql4j_bridge.prior.package import load_prior_package  # noqa: E402
from rql4j_bridge.train.__main__ import main  # noqa: E402
from rql4j_bridge.train.soft_dqn import SoftDQN, SoftDQNConfig, soft_target  # noqa: E402

TASK = "cartpole-center"
# Tiny budgets: a few thousand env steps and a few hundred gradient steps per run.
TINY_SOFT_DQN = ["--total-steps", "1500", "--learning-starts", "500", "--train-freq", "100", "--gradient-steps", "8",
                 "--log-interval", "0"]
TINY_EXPERT = ["--total-steps", "1500", "--learning-starts", "500", "--train-freq", "100", "--gradient-steps", "8"]


def _params(package: Path) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in load_prior_package(package).module.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- the target ------------------------------------------------------------------------------------


def test_soft_target_reproduces_method_md_algorithm_1_vector() -> None:
    q_next = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    log_pi = torch.log(torch.tensor([[0.2, 0.5, 0.3]], dtype=torch.float64))
    r = torch.tensor([-0.25], dtype=torch.float64)
    not_done = torch.tensor([0.0], dtype=torch.float64)
    y = soft_target(r, not_done, q_next, alpha=0.5, gamma=0.99, log_prior=log_pi, w=2.0)
    assert y.dtype == torch.float64
    assert abs(float(y[0]) - (-0.6397342877938326)) < 1e-9


def test_soft_target_plain_case_and_termination() -> None:
    q_next = torch.tensor([[0.5, -1.0, 2.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    r = torch.tensor([-0.25, 0.5], dtype=torch.float64)
    y = soft_target(r, torch.tensor([0.0, 1.0], dtype=torch.float64), q_next, alpha=0.5, gamma=0.99)
    expected0 = -0.25 + 0.99 * 0.5 * math.log(sum(math.exp(q / 0.5) for q in (0.5, -1.0, 2.0)))
    assert abs(float(y[0]) - expected0) < 1e-12
    assert float(y[1]) == 0.5  # terminated: no bootstrap
    # w = 0 ignores the prior entirely (even log pi = -inf entries)
    log_pi = torch.tensor([[0.0, -math.inf, -1.0]] * 2, dtype=torch.float64)
    y0 = soft_target(r, torch.zeros(2, dtype=torch.float64), q_next, 0.5, 0.99, log_prior=log_pi, w=0.0)
    assert torch.equal(y0, soft_target(r, torch.zeros(2, dtype=torch.float64), q_next, 0.5, 0.99))


def test_epsilon_schedule_is_the_reference_one() -> None:
    cfg = SoftDQNConfig()
    assert cfg.epsilon(0) == 1.0
    assert abs(cfg.epsilon(8000) - 0.52) < 1e-12
    assert abs(cfg.epsilon(16_000) - 0.04) < 1e-12
    assert abs(cfg.epsilon(90_000) - 0.04) < 1e-12


def test_truncation_does_not_stop_bootstrapping() -> None:
    env = gymnasium.make(f"rql4j/{TASK}-basic-v0", max_episode_steps=5)
    cfg = SoftDQNConfig(total_steps=60, learning_starts=1000, log_interval=0, seed=3)
    agent = SoftDQN(4, 2, cfg)
    agent.train(env, log=None)
    assert agent.buffer.size == 60
    assert agent.buffer.terminated[:60].sum() == 0.0  # every episode was cut by the time limit
    # s' of the last step of an episode is the real next state, not the next episode's first one
    np.testing.assert_array_equal(agent.buffer.next_obs[:4], agent.buffer.obs[1:5])
    assert not np.array_equal(agent.buffer.next_obs[4], agent.buffer.obs[5])


# -- commands end to end ---------------------------------------------------------------------------


def test_soft_dqn_command_makes_a_loadable_package_and_honours_the_seed(tmp_path: Path) -> None:
    def run(name: str, seed: int) -> Path:
        out = tmp_path / name
        assert main(["soft-dqn", "--task", TASK, "--seed", str(seed), *TINY_SOFT_DQN, "--alpha", "0.5",
                     "--out", str(out), "--work", str(tmp_path / f"work-{name}")]) == 0
        return out

    a, b, c = run("a", 7), run("b", 7), run("c", 8)
    prior = load_prior_package(a)
    assert prior.distribution == "categorical" and prior.action_dim == 2 and prior.obs_dim == 4
    assert prior.sidecar["source"]["kind"] == "soft-dqn"
    assert prior.sidecar["temperature"] == 0.5
    assert prior.sidecar["made_by"]["seed"] == 7
    assert prior.sidecar["made_by"]["command"].startswith("python -m rql4j_bridge.train soft-dqn")
    assert prior.sidecar["made_by"]["scripted_with"] == "torch.jit.script"
    # the module is log_softmax(Q / alpha) of the saved Q-network
    ckpt = torch.load(tmp_path / "work-a" / "softdqn.pt", weights_only=False)
    agent = SoftDQN(4, 2, SoftDQNConfig(**{**ckpt["config"], "hidden": tuple(ckpt["config"]["hidden"])}))
    agent.q_net.load_state_dict(ckpt["q_net"])
    obs = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    with torch.no_grad():
        expected = torch.log_softmax(agent.q_net(torch.from_numpy(obs)) / 0.5, dim=-1).numpy()
    np.testing.assert_allclose(prior.log_probs_all(obs), expected, rtol=1e-6, atol=1e-6)
    # same seed -> identical weights; another seed -> different ones
    assert _same(_params(a), _params(b))
    assert not _same(_params(a), _params(c))


def test_expert_demos_bc_evaluate_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expert = tmp_path / "expert.zip"
    assert main(["expert", "--task", TASK, "--algo", "dqn", "--seed", "1", *TINY_EXPERT, "--out", str(expert)]) == 0
    meta = json.loads((tmp_path / "expert.zip.json").read_text())
    assert meta["algo"] == "dqn" and meta["evaluation"]["episodes"] == 20

    demos = tmp_path / "demos.npz"
    demos_args = ["demos", "--task", TASK, "--expert", str(expert), "--seed", "1", "--n", "600"]
    assert main([*demos_args, "--out", str(demos)]) == 0
    with np.load(demos) as d:
        assert d["obs"].shape == (600, 4) and d["obs"].dtype == np.float32
        assert d["actions"].shape == (600,) and set(np.unique(d["actions"])) <= {0, 1}
        first = d["obs"].copy()
    demos2 = tmp_path / "demos2.npz"
    assert main([*demos_args, "--out", str(demos2)]) == 0
    with np.load(demos2) as d:
        np.testing.assert_array_equal(d["obs"], first)  # deterministic expert + seeded env

    def bc(name: str, seed: int) -> Path:
        out = tmp_path / name
        assert main(["bc", "--task", TASK, "--demos", str(demos), "--seed", str(seed), "--epochs", "2",
                     "--out", str(out), "--work", str(tmp_path / f"work-{name}")]) == 0
        return out

    a, b, c = bc("bc-a", 5), bc("bc-b", 5), bc("bc-c", 6)
    prior = load_prior_package(a)
    assert prior.distribution == "categorical" and prior.sidecar["source"]["kind"] == "bc"
    assert prior.sidecar["temperature"] is None
    log_probs = prior.log_probs_all(np.zeros((3, 4), np.float32))
    np.testing.assert_allclose(np.exp(log_probs).sum(1), 1.0, rtol=1e-5)
    assert "held-out accuracy" in capsys.readouterr().out
    assert _same(_params(a), _params(b))
    assert not _same(_params(a), _params(c))

    result_json = tmp_path / "eval.json"
    assert main(["evaluate", str(a), "--episodes", "3", "--json", str(result_json)]) == 0  # task from made_by
    out = capsys.readouterr().out
    result = json.loads(result_json.read_text())
    assert result["env"] == f"rql4j/{TASK}-total-v0" and result["episodes"] == 3
    for key in ("basic_return", "addon_return", "length"):
        assert set(result[key]) == {"mean", "std"}
        assert len(result["per_episode"][key]) == 3
    assert "| bc-a |" in out and "± " in out
    sampled = tmp_path / "eval-sampled.json"
    assert main(["evaluate", str(a), "--task", TASK, "--episodes", "2", "--sample", "--json", str(sampled)]) == 0
    assert json.loads(sampled.read_text())["policy"].startswith("sampled")
    assert result["addon_return"]["mean"] <= 0.0  # -|x| / 2.4 per step


def test_pipeline_writes_both_packages_and_the_readme(tmp_path: Path) -> None:
    out, work = tmp_path / "priors", tmp_path / "work"
    args = ["pipeline", "--task", TASK, "--seed", "2", "--out", str(out), "--work", str(work),
            "--expert-steps", "1500", "--demos", "500", "--bc-epochs", "1", "--softdqn-steps", "1500",
            "--log-interval", "500"]
    assert main(args) == 0
    for name, kind in (("cartpole-center-bc", "bc"), ("cartpole-center-softdqn", "soft-dqn")):
        prior = load_prior_package(out / name)
        assert prior.sidecar["source"]["kind"] == kind
        assert prior.sidecar["made_by"]["command"].startswith("python -m rql4j_bridge.train pipeline")
        assert sorted(p.name for p in (out / name).iterdir()) == ["policy.pt", "prior.json"]
    assert not list(out.rglob("*.zip")) and not list(out.rglob("*.npz"))  # intermediates stay in work
    readme = (out / "README.md").read_text()
    assert readme.count("<!-- begin task cartpole-center -->") == 1
    for needle in ("python -m rql4j_bridge.train pipeline", "| `cartpole-center-softdqn` (soft DQN, alpha 1)",
                   "| `cartpole-center-bc` (behaviour cloning)", "expert: SB3 DQN", "stable-baselines3", "KiB"):
        assert needle in readme, needle
    record = json.loads((work / TASK / "seed2" / "pipeline.json").read_text())
    assert record["soft_dqn"]["evaluation"]["episodes"] == 20
    assert record["soft_dqn"]["evaluation_sampled"]["policy"].startswith("sampled")
    assert 0.0 <= record["bc"]["policy_stats"]["entropy_mean"] <= math.log(2) + 1e-6
    # re-rendering replaces the section in place, keeping other text
    (out / "README.md").write_text(readme + "\nextra text\n")
    assert main([*args[:9], "--readme-only"]) == 0  # pipeline --task --seed --out --work
    again = (out / "README.md").read_text()
    assert again.count("<!-- begin task cartpole-center -->") == 1 and "extra text" in again
