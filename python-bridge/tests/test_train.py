"""The prior-training pipeline (rql4j_bridge.train): the soft target against method.md's vector,
tiny end-to-end runs of every command producing loadable prior packages, and seeding; the per-task
defaults table; Gaussian BC; tiny end-to-end pipelines of mountaincar-lessleft, highway-rightlane and
parking-boundary whose packages load and match the task envs' spaces."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

import rql4j_bridge.tasks  # noqa: E402
from rql4j_bridge.prior.package import load_prior_package, save_prior_package  # noqa: E402
from rql4j_bridge.train.__main__ import _pipeline_plan as pipeline_plan  # noqa: E402
from rql4j_bridge.train.__main__ import build_parser, main  # noqa: E402
from rql4j_bridge.train.bc import BCConfig, GaussianBCConfig, normalize_actions, train_gaussian_bc  # noqa: E402
from rql4j_bridge.train.defaults import TASK_DEFAULTS, expert_config, task_config  # noqa: E402
from rql4j_bridge.train.expert import EXPERT_ALGOS, PPOExpertConfig  # noqa: E402
from rql4j_bridge.train.soft_dqn import SoftDQN, SoftDQNConfig, soft_target  # noqa: E402

needs_highway_env = pytest.mark.skipif(not rql4j_bridge.tasks.HAVE_HIGHWAY_ENV, reason="highway-env not installed")

TASK = "cartpole-center"
# Tiny budgets: a few thousand env steps and a few hundred gradient steps per run.
TINY_SOFT_DQN = [
    "--total-steps",
    "1500",
    "--learning-starts",
    "500",
    "--train-freq",
    "100",
    "--gradient-steps",
    "8",
    "--log-interval",
    "0",
]
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
        assert (
            main(
                [
                    "soft-dqn",
                    "--task",
                    TASK,
                    "--seed",
                    str(seed),
                    *TINY_SOFT_DQN,
                    "--alpha",
                    "0.5",
                    "--out",
                    str(out),
                    "--work",
                    str(tmp_path / f"work-{name}"),
                ]
            )
            == 0
        )
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
    demos_args = ["demos", "--task", TASK, "--expert", str(expert), "--allow-unpickle", "--seed", "1", "--n", "600"]
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
        assert (
            main(
                [
                    "bc",
                    "--task",
                    TASK,
                    "--demos",
                    str(demos),
                    "--seed",
                    str(seed),
                    "--epochs",
                    "2",
                    "--out",
                    str(out),
                    "--work",
                    str(tmp_path / f"work-{name}"),
                ]
            )
            == 0
        )
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
    args = [
        "pipeline",
        "--task",
        TASK,
        "--seed",
        "2",
        "--out",
        str(out),
        "--work",
        str(work),
        "--expert-steps",
        "1500",
        "--demos",
        "500",
        "--bc-epochs",
        "1",
        "--softdqn-steps",
        "1500",
        "--log-interval",
        "500",
    ]
    assert main(args) == 0
    for name, kind in (("cartpole-center-bc", "bc"), ("cartpole-center-softdqn", "soft-dqn")):
        prior = load_prior_package(out / name)
        assert prior.sidecar["source"]["kind"] == kind
        assert prior.sidecar["made_by"]["command"].startswith("python -m rql4j_bridge.train pipeline")
        assert sorted(p.name for p in (out / name).iterdir()) == ["policy.pt", "prior.json"]
    assert not list(out.rglob("*.zip")) and not list(out.rglob("*.npz"))  # intermediates stay in work
    readme = (out / "README.md").read_text()
    assert readme.count("<!-- begin task cartpole-center -->") == 1
    for needle in (
        "python -m rql4j_bridge.train pipeline",
        "| `cartpole-center-softdqn` (soft DQN, alpha 1)",
        "| `cartpole-center-bc` (behaviour cloning)",
        "expert: SB3 DQN",
        "stable-baselines3",
        "KiB",
    ):
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


# -- the per-task defaults table -------------------------------------------------------------------


def test_task_defaults_table_is_consistent_with_the_configs_and_tasks_md() -> None:
    assert set(TASK_DEFAULTS) == set(rql4j_bridge.tasks.TASKS)
    for task, entry in TASK_DEFAULTS.items():
        rl_classes = [EXPERT_ALGOS[entry["expert"]]] + ([SoftDQNConfig] if entry["expert"] == "dqn" else [])
        rl_fields = {f.name for cls in rl_classes for f in __import__("dataclasses").fields(cls)}
        assert set(entry["rl"]) <= rl_fields, (task, set(entry["rl"]) - rl_fields)
        bc_fields = {f.name for f in __import__("dataclasses").fields(GaussianBCConfig)}
        assert set(entry["bc"]) <= bc_fields, task
        assert 0 < entry["budget"] <= entry["paper_budget"]
    # cartpole-center keeps the values its shipped priors were made with
    assert task_config("cartpole-center", SoftDQNConfig) == SoftDQNConfig()
    assert task_config("cartpole-center", BCConfig, "bc") == BCConfig()
    # highway: tasks.md's reference values, for the soft DQN and the DQN expert alike
    for cfg in (task_config("highway-rightlane", SoftDQNConfig), expert_config("highway-rightlane", "dqn")):
        assert (cfg.learning_rate, cfg.batch_size, cfg.buffer_size, cfg.gamma) == (1e-4, 32, 15_000, 0.8)
        assert (cfg.train_freq, cfg.gradient_steps, cfg.learning_starts, cfg.target_update_interval) == (1, 1, 200, 50)
        assert (cfg.exploration_fraction, cfg.exploration_final_eps) == (0.7, 0.05)
        assert list(cfg.hidden) == [256, 256] and cfg.total_steps == TASK_DEFAULTS["highway-rightlane"]["budget"]
    assert isinstance(task_config("highway-rightlane", SoftDQNConfig).hidden, tuple)
    mc = expert_config("mountaincar-lessleft", "sac")
    assert (mc.ent_coef, mc.use_sde, mc.log_std_init, mc.hidden, mc.gamma, mc.batch_size) == (
        "0.1",
        True,
        -3.67,
        [64, 64],
        0.9999,
        512,
    )
    pk = expert_config("parking-boundary", "sac")
    assert (pk.ent_coef, pk.hidden, pk.n_envs, pk.learning_rate, pk.gamma) == ("auto", [256, 256, 256], 4, 1e-3, 0.95)
    assert task_config("parking-boundary", GaussianBCConfig, "bc").hidden == (256, 256, 256)
    # another algorithm than the task's gets its own defaults (only the budget is the task's)
    assert expert_config("cartpole-center", "ppo") == PPOExpertConfig()


def test_pipeline_total_steps_overrides_every_rl_run() -> None:
    parser = build_parser()
    plan = pipeline_plan(parser.parse_args(["pipeline", "--task", "highway-rightlane", "--total-steps", "1234"]))
    assert plan.expert_steps == 1234 and plan.soft_dqn.total_steps == 1234
    assert plan.soft_dqn.gamma == 0.8
    plan = pipeline_plan(
        parser.parse_args(["pipeline", "--task", "highway-rightlane", "--total-steps", "1234", "--softdqn-steps", "99"])
    )
    assert plan.expert_steps == 1234 and plan.soft_dqn.total_steps == 99
    plan = pipeline_plan(parser.parse_args(["pipeline", "--task", "parking-boundary", "--total-steps", "500"]))
    assert plan.expert_algo == "sac" and plan.expert_steps == 500 and plan.soft_dqn is None
    with pytest.raises(SystemExit):
        pipeline_plan(parser.parse_args(["pipeline", "--task", "parking-boundary", "--softdqn-steps", "5"]))
    with pytest.raises(SystemExit):
        pipeline_plan(parser.parse_args(["pipeline", "--task", "mountaincar-lessleft", "--expert-algo", "dqn"]))


# -- Gaussian behaviour cloning --------------------------------------------------------------------


def test_gaussian_bc_loss_decreases_on_a_toy_dataset(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(600, 3)).astype(np.float32)
    w = np.array([[1.0, -0.5], [0.3, 0.8], [-0.7, 0.2]])
    actions = np.tanh(obs @ w) * 0.9  # deterministic "expert" in (-1, 1)
    cfg = GaussianBCConfig(epochs=8, batch_size=64, learning_rate=3e-3, hidden=(32, 32), seed=1)
    module, summary = train_gaussian_bc(obs, actions, cfg, log=None)
    hist = summary["history"]
    assert hist[-1]["train_nll"] < hist[0]["train_nll"] - 1.0
    assert hist[-1]["holdout_nll"] < hist[0]["holdout_nll"] - 1.0
    assert hist[-1]["holdout_mae"] < hist[0]["holdout_mae"]
    assert summary["holdout"] == 60 and summary["mean_std_on_demos"] < 1.0
    # exported, the package's log pi is the (negative) training loss
    box = gymnasium.spaces.Box(-2.0, 2.0, (2,), np.float32)
    pkg = save_prior_package(
        tmp_path / "g",
        module,
        name="g",
        distribution="squashed_gaussian",
        observation_space=gymnasium.spaces.Box(-np.inf, np.inf, (3,), np.float32),
        action_space=box,
        source_kind="bc",
        made_by={"command": "test"},
    )
    prior = load_prior_package(pkg)
    assert prior.sidecar["made_by"]["scripted_with"] == "torch.jit.script"
    assert prior.sidecar["action_scaling"]["kind"] == "tanh_to_box"
    a = actions.astype(np.float32)
    with torch.no_grad():
        mean, log_std = module(torch.from_numpy(obs))
    from rql4j_bridge.prior.package import squashed_gaussian_log_prob

    expected = squashed_gaussian_log_prob(mean.double(), log_std.double(), torch.from_numpy(a).double()).numpy()
    np.testing.assert_allclose(prior.log_prob(obs, a), expected, rtol=1e-6, atol=1e-5)
    # env actions <-> [-1, 1]
    np.testing.assert_allclose(
        normalize_actions(np.array([[-2.0, 0.0], [2.0, 1.0]]), box.low, box.high), [[-1.0, 0.0], [1.0, 0.5]]
    )
    with pytest.raises(ValueError):
        train_gaussian_bc(obs, actions * 3, cfg, log=None)


# -- the new tasks' pipelines end to end -----------------------------------------------------------


def _check_spaces(prior, task: str) -> None:  # type: ignore[no-untyped-def]
    env = gymnasium.make(f"rql4j/{task}-basic-v0")
    try:
        assert prior.observation_space == env.observation_space
        assert prior.action_space == env.action_space
        assert prior.obs_dim == int(np.prod(env.observation_space.shape))
    finally:
        env.close()


def _tiny_pipeline(tmp_path: Path, task: str, *extra: str) -> tuple[Path, dict]:
    out, work = tmp_path / "priors", tmp_path / "work"
    assert (
        main(
            [
                "pipeline",
                "--task",
                task,
                "--seed",
                "0",
                "--out",
                str(out),
                "--work",
                str(work),
                "--eval-episodes",
                "1",
                "--bc-epochs",
                "2",
                "--log-interval",
                "0",
                *extra,
            ]
        )
        == 0
    )
    return out, json.loads((work / task / "seed0" / "pipeline.json").read_text())


def test_mountaincar_pipeline_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = "mountaincar-lessleft"
    out = tmp_path / "priors"
    out.mkdir()
    shipped = Path(__file__).resolve().parents[2] / "examples" / "priors" / "README.md"
    readme_before = (
        shipped.read_text()
        if shipped.is_file()
        else ("# x\n\n<!-- begin task cartpole-center -->\nkept\n<!-- end task cartpole-center -->\n")
    )
    (out / "README.md").write_text(readme_before)
    out, record = _tiny_pipeline(tmp_path, task, "--total-steps", "256", "--demos", "300")
    sac, bc = load_prior_package(out / f"{task}-sac"), load_prior_package(out / f"{task}-bc")
    for prior, kind in ((sac, "sb3-sac"), (bc, "bc")):
        assert prior.distribution == "squashed_gaussian" and prior.sidecar["source"]["kind"] == kind
        assert prior.sidecar["action_scaling"]["kind"] == "tanh_to_box"
        assert prior.sidecar["made_by"]["task"] == task
        assert prior.sidecar["made_by"]["command"].startswith("python -m rql4j_bridge.train pipeline")
        _check_spaces(prior, task)
        assert sorted(p.name for p in prior.path.iterdir()) == ["policy.pt", "prior.json"]
    assert sac.sidecar["made_by"]["final_ent_coef"] == pytest.approx(0.1)
    assert "gSDE" in sac.sidecar["made_by"]["spaces"]
    assert bc.sidecar["made_by"]["config"]["hidden"] == [64, 64]
    # the exported actor acts as SB3's SAC does
    from stable_baselines3 import SAC

    model = SAC.load(record["expert"]["zip"], device="cpu")
    obs = np.random.default_rng(0).uniform([-1.2, -0.07], [0.6, 0.07], size=(5, 2)).astype(np.float32)
    np.testing.assert_allclose(
        sac.to_env_actions(sac.sample(obs, deterministic=True)), model.predict(obs, deterministic=True)[0], atol=1e-5
    )
    for key in ("basic_return", "addon_return", "length"):  # the zip and the package: the same policy
        assert record["sac"]["evaluation"][key]["mean"] == pytest.approx(
            record["expert"]["evaluation"][key]["mean"], rel=1e-4, abs=1e-4
        )
    assert record["kind"] == "box" and record["budget"] == {"env_steps": 256, "paper": 100_000}
    assert set(record["steps_per_s"]) == {"expert", "demos", "bc (samples)", "evaluation"}
    with np.load(tmp_path / "work" / task / "seed0" / "demos.npz") as d:
        assert d["actions"].shape == (300, 1) and d["actions"].dtype == np.float32
    readme = (out / "README.md").read_text()
    assert readme.startswith(readme_before.split("<!-- end task cartpole-center -->")[0])  # cartpole kept
    assert readme.count(f"<!-- begin task {task} -->") == 1
    for needle in (
        "Budget: 256 env steps",
        "(paper: 100,000)",
        f"`{task}-sac` (the SAC actor",
        f"`{task}-bc` (Gaussian behaviour cloning)",
        "pre-tanh std",
        "sac-prior --task",
    ):
        assert needle in readme, needle
    capsys.readouterr()
    assert main(["evaluate", str(out / f"{task}-bc"), "--episodes", "1", "--sample"]) == 0  # task from made_by
    assert "| mountaincar-lessleft-bc (sampled) |" in capsys.readouterr().out


@needs_highway_env
def test_highway_pipeline_end_to_end(tmp_path: Path) -> None:
    task = "highway-rightlane"
    out, record = _tiny_pipeline(tmp_path, task, "--total-steps", "40", "--demos", "30")
    for name, kind in ((f"{task}-bc", "bc"), (f"{task}-softdqn", "soft-dqn")):
        prior = load_prior_package(out / name)
        assert prior.distribution == "categorical" and prior.sidecar["source"]["kind"] == kind
        assert prior.action_dim == 5 and prior.obs_dim == 25
        _check_spaces(prior, task)
    sd = load_prior_package(out / f"{task}-softdqn")
    assert sd.sidecar["made_by"]["config"]["gamma"] == 0.8 and sd.sidecar["temperature"] == 1.0
    assert record["budget"] == {"env_steps": 40, "soft_dqn_env_steps": 40, "paper": 500_000}
    for key in ("expert", "bc", "soft_dqn"):
        assert 0.0 <= record[key]["evaluation"]["success_rate"] <= 1.0
    assert record["expert"]["config"]["learning_rate"] == 1e-4
    readme = (out / "README.md").read_text()
    for needle in (
        "| success rate |",
        "Success rate: reached the end without crash.",
        "(paper: 500,000)",
        "ln 5 = 1.609",
        "tasks.md's highway reference values",
    ):
        assert needle in readme, needle


@needs_highway_env
def test_parking_pipeline_end_to_end(tmp_path: Path) -> None:
    task = "parking-boundary"
    out, record = _tiny_pipeline(tmp_path, task, "--total-steps", "240", "--demos", "100")
    for name in (f"{task}-sac", f"{task}-bc"):
        prior = load_prior_package(out / name)
        assert prior.distribution == "squashed_gaussian" and prior.action_dim == 2 and prior.obs_dim == 12
        _check_spaces(prior, task)
    sac = load_prior_package(out / f"{task}-sac")
    assert sac.sidecar["made_by"]["expert"]["config"]["n_envs"] == 4
    assert 0.0 < sac.sidecar["made_by"]["final_ent_coef"] <= 1.0  # learned, started at 1
    assert "success_rate" in record["sac"]["evaluation"] and "success_rate" in record["bc"]["evaluation"]
    assert "| success rate |" in (out / "README.md").read_text()


# -- the MuJoCo tasks' PPO priors ------------------------------------------------------------------


def test_ppo_expert_exports_as_a_diag_gaussian_prior(tmp_path: Path) -> None:
    from rql4j_bridge.prior.package import load_prior_package

    task = "halfcheetah-speedcap"
    expert = tmp_path / "expert.zip"
    tiny = ["--total-steps", "256", "--n-envs", "2", "--n-steps", "64", "--batch-size", "64", "--n-epochs", "1"]
    assert main(["expert", "--task", task, "--algo", "ppo", "--seed", "3", *tiny, "--out", str(expert)]) == 0
    meta = json.loads((tmp_path / "expert.zip.json").read_text())
    assert meta["algo"] == "ppo" and meta["config"]["norm_reward"] is True  # the task's defaults
    out = tmp_path / "prior"
    assert main(["ppo-prior", "--task", task, "--expert", str(expert), "--out", str(out)]) == 0
    sidecar = json.loads((out / "prior.json").read_text())
    assert sidecar["distribution"] == "diag_gaussian" and sidecar["source"]["kind"] == "sb3-ppo"
    assert sidecar["made_by"]["task"] == task and sidecar["made_by"]["expert"]["algo"] == "ppo"
    assert sidecar["action_scaling"]["kind"] == "clip_to_box"
    load_prior_package(out)
    # the exported Gaussian is SB3's: the same mean and log-std on the same observations
    from stable_baselines3 import PPO

    model = PPO.load(str(expert), device="cpu")
    module = torch.jit.load(str(out / "policy.pt"))
    obs = torch.randn(5, 17)
    mean, log_std = module(obs)
    dist = model.policy.get_distribution(obs)
    torch.testing.assert_close(mean, dist.distribution.mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(log_std, torch.log(dist.distribution.stddev), rtol=1e-5, atol=1e-6)
    # a SAC export of a PPO zip, and a pipeline for a PPO task, are refused
    with pytest.raises(SystemExit, match="ppo expert, not sac"):
        main(["sac-prior", "--task", task, "--expert", str(expert), "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="ppo-prior"):
        main(["pipeline", "--task", task])
