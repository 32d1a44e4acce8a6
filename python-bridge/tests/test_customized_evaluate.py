"""evaluate_policy / ``rql4j-bridge evaluate`` (rql4j_bridge.customized.evaluate), without Java.

The exported folders are made as test_customized_export.py makes them (policy folders written the way
the Java learners save them, then export_policy); the evaluation's rows must equal episodes run here
with ``load_policy(...).predict`` on the same seeds, and its KL an independent computation from the
eager residual network / actor and the prior package.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from test_customized_export import (
    ALPHA_HAT,
    SAC_PRIOR,
    SOFTDQN,
    W,
    copy_prior,
    java_safetensors,
    sac_run,
    softq_run,
    tensors,
)

from rql4j_bridge.cli import main
from rql4j_bridge.customized import export_policy, load_policy
from rql4j_bridge.customized.evaluate import (
    Evaluation,
    evaluate_policy,
    java_1f,
    kl_divergence,
    kl_family_mismatch,
)
from rql4j_bridge.prior.package import load_prior_package

CARTPOLE_TOTAL = "rql4j/cartpole-center-total-v0"
MOUNTAINCAR_TOTAL = "rql4j/mountaincar-lessleft-total-v0"
ADDON = "rql4j_bridge.tasks.classic:cartpole_center_addon"


def record_run(run: Path, **fields: Any) -> None:
    """Sets what the run's config.json records of its task (task, env_id, eval_env_id, addon, imports)."""
    config = json.loads((run / "config.json").read_text())
    config.update(fields)
    (run / "config.json").write_text(json.dumps(config, indent=2))


def export_softq(root: Path, *, w: float = W, alpha_hat: float = ALPHA_HAT, zero_residual: bool = False,
                 **run_fields: Any) -> tuple[Path, torch.nn.Module]:  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    prior = copy_prior(SOFTDQN, root)
    run, q = softq_run(root, prior, w=w, alpha_hat=alpha_hat)
    if zero_residual:
        last = q[-1]
        assert isinstance(last, torch.nn.Linear)
        with torch.no_grad():  # Q_R = 0 exactly
            last.weight.zero_()
            last.bias.zero_()
        java_safetensors(run / "policy" / "residual.safetensors", tensors(q, "q"))
    record_run(run, **({"task": "cartpole-center"} | run_fields))
    return export_policy(run, root / "exported", onnx=False), q


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out, q = export_softq(tmp_path_factory.mktemp("eval-softq"))
    return {"out": out, "q": q}


def episodes_by_hand(policy: Any, env_id: str, seeds: list[int], **kwargs: Any) -> list[dict[str, Any]]:
    """Java's Evaluator, written out: reset(seed), predict(deterministic), sum the info parts until done."""
    rows = []
    env = gymnasium.make(env_id, **kwargs)
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        basic = addon = total = 0.0
        length, states = 0, []
        while True:
            states.append(np.asarray(obs, np.float32))
            action, _ = policy.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            basic += info["basic_reward"]
            addon += info["addon_reward"]
            total += float(reward)
            length += 1
            if terminated or truncated:
                break
        rows.append({"seed": seed, "basic_return": basic, "addon_return": addon, "env_return": total,
                     "length": length, "terminated": terminated, "states": np.stack(states)})  # fmt: skip
    env.close()
    return rows


def softq_kl_by_hand(q: torch.nn.Module, prior_dir: Path, obs: np.ndarray, w: float, alpha_hat: float) -> np.ndarray:
    """method.md's pi_hat from the eager residual and the prior package, and KL(pi_hat || pi) in float64."""
    log_pi = torch.from_numpy(load_prior_package(prior_dir).log_probs_all(obs)).double()
    with torch.no_grad():
        q_r = q(torch.from_numpy(obs)).double()
    log_hat = torch.log_softmax((q_r + w * log_pi) / alpha_hat, dim=1)
    return (torch.exp(log_hat) * (log_hat - log_pi)).sum(dim=1).numpy()


# ---------------------------------------------------------------------------------------------
# The rows and the KL
# ---------------------------------------------------------------------------------------------


def test_rows_are_the_policies_own_episodes(cartpole: dict[str, Any]) -> None:
    out: Path = cartpole["out"]
    ev = evaluate_policy(out, episodes=3)
    assert isinstance(ev, Evaluation)
    assert ev.env_id == CARTPOLE_TOTAL and ev.addon is None and ev.seeds == (10000, 10001, 10002)
    assert "cartpole-center" in ev.env_source and "reports both parts" in ev.addon_source
    seeds = list(ev.seeds)
    by_hand = {}
    for name, folder, summary in (("prior", out / "prior", ev.prior), ("customized", out, ev.customized)):
        rows = episodes_by_hand(load_policy(folder), CARTPOLE_TOTAL, seeds)
        by_hand[name] = rows
        for got, want in zip(summary.episodes, rows, strict=True):
            assert (got.seed, got.basic_return, got.addon_return, got.env_return, got.length, got.terminated) == (
                want["seed"], want["basic_return"], want["addon_return"], want["env_return"], want["length"],
                want["terminated"],
            ), name  # fmt: skip
    assert [e.length for e in ev.prior.episodes] != [e.length for e in ev.customized.episodes] or [
        e.addon_return for e in ev.prior.episodes] != [e.addon_return for e in ev.customized.episodes]  # fmt: skip

    # the KL: mean per step over the customized policy's states (and the prior's), by hand from the eager network
    for key, value in (("customized", ev.kl), ("prior", ev.kl_prior_states)):
        states = np.concatenate([r["states"] for r in by_hand[key]])
        kl_want = softq_kl_by_hand(cartpole["q"], out / "prior", states, W, ALPHA_HAT)
        assert value is not None and value > 0.01
        assert value == pytest.approx(float(kl_want.mean()), rel=1e-5), key
    # per episode: the mean over that episode's states
    first = by_hand["customized"][0]["states"]
    assert ev.customized.episodes[0].kl == pytest.approx(
        float(softq_kl_by_hand(cartpole["q"], out / "prior", first, W, ALPHA_HAT).mean()), rel=1e-5
    )

    # one state, through kl_divergence, against the hand computation
    customized, prior = load_policy(out), load_policy(out / "prior")
    obs = first[5:6]
    kl_one = kl_divergence(customized, prior, torch.from_numpy(obs))
    assert kl_one.dtype == np.float64 and kl_one.shape == (1,)
    assert kl_one[0] == pytest.approx(softq_kl_by_hand(cartpole["q"], out / "prior", obs, W, ALPHA_HAT)[0], abs=1e-6)

    # the table as Java prints it
    lines = ev.markdown().splitlines()
    assert lines[:2] == ["| policy | basic return | add-on return | length |", "|---|---|---|---|"]
    p = ev.prior
    assert lines[2] == (
        f"| prior alone | {java_1f(p.mean('basic_return'))} ± {java_1f(p.std('basic_return'))} | "
        f"{java_1f(p.mean('addon_return'))} ± {java_1f(p.std('addon_return'))} | "
        f"{java_1f(p.mean('length'))} ± {java_1f(p.std('length'))} |"
    )
    assert lines[3].startswith("| customized | ") and len(lines) == 4
    basic = [r["basic_return"] for r in by_hand["prior"]]
    assert p.mean("basic_return") == pytest.approx(np.mean(basic), abs=1e-12)
    assert p.std("basic_return") == pytest.approx(np.std(basic), abs=1e-9)  # population std


def test_kl_is_zero_when_the_customized_policy_is_the_prior(tmp_path: Path) -> None:
    """w = 1, alphaHat = 1, a zero residual: pi_hat = softmax(log pi) = pi."""
    out, _ = export_softq(tmp_path, w=1.0, alpha_hat=1.0, zero_residual=True)
    ev = evaluate_policy(out, episodes=2)
    assert ev.kl is not None and ev.kl_prior_states is not None
    assert abs(ev.kl) <= 1e-9 and abs(ev.kl_prior_states) <= 1e-9
    assert ev.markdown().splitlines()[2].removeprefix("| prior alone") == ev.markdown().splitlines()[3].removeprefix(
        "| customized")  # fmt: skip


def test_gaussian_kl_is_the_closed_form(tmp_path: Path) -> None:
    """A residual-SAC export on the mountaincar-lessleft task: squashed Gaussians, KL of the pre-tanh Gaussians."""
    prior_dir = copy_prior(SAC_PRIOR, tmp_path)
    run, actor = sac_run(tmp_path, prior_dir, [-1.0], [1.0], 2)
    record_run(run, task="mountaincar-lessleft")
    out = export_policy(run / "policy", tmp_path / "exported", onnx=False)
    ev = evaluate_policy(out, episodes=2, env_kwargs={"max_episode_steps": 40})
    assert ev.env_id == MOUNTAINCAR_TOTAL and ev.distribution == ev.prior_distribution == "squashed_gaussian"
    assert [e.length for e in ev.customized.episodes] == [40, 40] and ev.kl_reason is None
    assert ev.kl is not None and math.isfinite(ev.kl) and ev.kl > 0
    assert ev.kl_prior_states is not None and math.isfinite(ev.kl_prior_states)

    obs = torch.tensor([[-0.5, 0.01], [0.3, -0.04]], dtype=torch.float32)
    got = kl_divergence(load_policy(out), load_policy(out / "prior"), obs)
    with torch.no_grad():
        raw = actor(obs).double()
    mean_c, log_std_c = raw[:, :1], raw[:, 1:].clamp(-20.0, 2.0)
    mean_p, log_std_p = (torch.from_numpy(x).double() for x in load_prior_package(prior_dir).distribution_params(obs))
    want = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean_c, log_std_c.exp()), torch.distributions.Normal(mean_p, log_std_p.exp())
    ).sum(dim=1)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5)


def test_no_kl_across_families() -> None:
    class Fake:
        def __init__(self, distribution: str) -> None:
            self.distribution = distribution
            self.package = type("P", (), {"action_dim": 1})()

    reason = kl_family_mismatch(Fake("diag_gaussian"), Fake("squashed_gaussian"))  # type: ignore[arg-type]
    assert reason is not None and "different families" in reason
    assert kl_family_mismatch(Fake("categorical"), Fake("categorical")) is None  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# The env and the add-on
# ---------------------------------------------------------------------------------------------


def test_the_run_decides_the_env_and_the_addon(tmp_path: Path) -> None:
    short = {"max_episode_steps": 15}
    # your own env with an add-on: the add-on over the env, both parts reported
    out, _ = export_softq(tmp_path / "a", task="CartPole-v1", env_id="CartPole-v1", addon=ADDON, imports=[])
    ev = evaluate_policy(out, episodes=1, env_kwargs=short)
    assert (ev.env_id, ev.addon, ev.addon_source) == ("CartPole-v1", ADDON, "the run's add-on")
    assert not math.isnan(ev.prior.episodes[0].addon_return) and not ev.prior.unreported()
    # with an eval_env_id that reports both parts: evaluated there, the add-on not applied again
    out, _ = export_softq(tmp_path / "b", task="CartPole-v1", env_id="CartPole-v1", eval_env_id=CARTPOLE_TOTAL,
                          addon=ADDON)  # fmt: skip
    assert load_prior_package(out).sidecar["customized"]["run"]["eval_env_id"] == CARTPOLE_TOTAL
    ev = evaluate_policy(out, episodes=1, env_kwargs=short)
    assert ev.env_id == CARTPOLE_TOTAL and ev.addon is None and "eval_env_id" in ev.env_source
    # a given env that does not report both parts gets the run's add-on; a given add-on is applied as given
    ev = evaluate_policy(out, "CartPole-v1", episodes=1, env_kwargs=short)
    assert ev.addon == ADDON and ev.addon_source == "the run's add-on" and not ev.customized.unreported()
    ev = evaluate_policy(out, "CartPole-v1", addon=ADDON, episodes=1, env_kwargs=short)
    assert ev.addon == ADDON and ev.addon_source == "given"


def test_a_copied_folder_evaluates_without_the_runs_modules(tmp_path: Path) -> None:
    short = {"max_episode_steps": 10}
    # the run's user module (its add-on, its env registrations) is not importable where the folder went
    out, _ = export_softq(tmp_path, task="CartPole-v1", env_id="CartPole-v1", addon="gone_user_module:fn",
                          imports=["gone_user_module"])  # fmt: skip
    with pytest.raises(ValueError, match="import gone_user_module failed"):
        evaluate_policy(out, episodes=1, env_kwargs=short)
    # with the env and the add-on given, the run's modules are not needed
    ev = evaluate_policy(out, "CartPole-v1", addon=ADDON, episodes=1, env_kwargs=short)
    assert ev.addon == ADDON and ev.customized.episodes[0].length == 10


def test_an_env_that_reports_no_parts(cartpole: dict[str, Any]) -> None:
    ev = evaluate_policy(cartpole["out"], "CartPole-v1", episodes=2, env_kwargs={"max_episode_steps": 12})
    assert ev.addon is None and ev.prior.unreported() == ["basic_reward", "addon_reward"]
    lines = ev.markdown().splitlines()
    assert lines[2] == "| prior alone | not reported | not reported | 12.0 ± 0.0 |"
    assert "The env reported no addon_reward / basic_reward in info" in ev.markdown() and "12.0 ± 0.0" in lines[-1]
    data = json.loads(ev.to_json())
    assert data["prior"]["episodes"][0]["addon_return"] is None and data["prior"]["episodes"][0]["env_return"] == 12.0


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def test_a_folder_that_is_not_an_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rql4j export RUN --out DIR") as e:
        evaluate_policy(SOFTDQN)  # a prior package, not a customization of one
    assert str(SOFTDQN) in str(e.value) and "'customized' block" in str(e.value)
    with pytest.raises(ValueError, match=f"{tmp_path} is not an exported customized policy"):
        evaluate_policy(tmp_path)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        evaluate_policy(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="episodes must be"):
        evaluate_policy(tmp_path, episodes=0)


def test_a_run_without_a_known_env_needs_env_id(tmp_path: Path) -> None:
    out, _ = export_softq(tmp_path, task="test-task")
    with pytest.raises(ValueError, match="not a built-in task.*--env-id") as e:
        evaluate_policy(out, episodes=1)
    assert str(out) in str(e.value)
    with pytest.raises(ValueError, match="unknown Gymnasium env id 'NoSuchEnv-v9'.*--import"):
        evaluate_policy(out, "NoSuchEnv-v9", episodes=1)


# ---------------------------------------------------------------------------------------------
# Video
# ---------------------------------------------------------------------------------------------


def frame_width(env_id: str) -> int:
    env = gymnasium.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    width = int(np.asarray(env.render()).shape[1])
    env.close()
    return width


def read_frames(path: Path) -> list[np.ndarray]:
    if path.suffix == ".gif":
        import imageio.v3 as iio

        return list(iio.imread(path, plugin="pillow", index=None))
    import imageio.v2 as iio2

    reader = iio2.get_reader(path, format="FFMPEG")
    try:
        return [np.asarray(f) for f in reader.iter_data()]
    finally:
        reader.close()


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_video_side_by_side(cartpole: dict[str, Any], tmp_path: Path, suffix: str) -> None:
    pytest.importorskip("imageio")
    if suffix == ".mp4":
        pytest.importorskip("imageio_ffmpeg")
    video = tmp_path / f"side-by-side{suffix}"
    ev = evaluate_policy(cartpole["out"], episodes=1, video=video, env_kwargs={"max_episode_steps": 25})
    assert ev.video == video and ev.video_seed == 10000 and video.is_file()
    frames = read_frames(video)
    assert len(frames) > 1
    assert frames[0].shape[1] == 2 * frame_width(CARTPOLE_TOTAL)
    if suffix == ".mp4":  # every step a frame (the GIF writer merges identical consecutive frames)
        longest = max(ev.prior.episodes[0].length, ev.customized.episodes[0].length)
        assert len(frames) == 1 + longest
    assert [p.name for p in tmp_path.iterdir()] == [video.name]  # no temporary file left
    assert json.loads(ev.to_json())["video"] == {"file": str(video), "seed": 10000}


def test_an_existing_video_is_refused_before_any_work(
    cartpole: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rql4j_bridge.customized.evaluate as evaluate_module

    def no_work(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the policies were loaded")

    monkeypatch.setattr(evaluate_module, "load_policy", no_work)
    video = tmp_path / "mine.gif"
    video.write_bytes(b"my video")
    with pytest.raises(FileExistsError, match=f"{video} already exists"):
        evaluate_policy(cartpole["out"], episodes=1, video=video)
    assert video.read_bytes() == b"my video" and [p.name for p in tmp_path.iterdir()] == ["mine.gif"]
    with pytest.raises(ValueError, match="must end in .gif or .mp4"):
        evaluate_policy(cartpole["out"], episodes=1, video=tmp_path / "v.avi")

    # a missing package: named, with the pip line
    real = evaluate_module.importlib.util.find_spec
    monkeypatch.setattr(
        evaluate_module.importlib.util, "find_spec", lambda name, *a: None if name == "imageio_ffmpeg" else real(name)
    )
    with pytest.raises(ImportError, match=r"imageio-ffmpeg.*pip install 'rql4j-bridge\[video\]'"):
        evaluate_policy(cartpole["out"], episodes=1, video=tmp_path / "v.mp4")


class NoRenderCartPole(CartPoleEnv):
    metadata = {"render_modes": [], "render_fps": 50}


@pytest.mark.filterwarnings("ignore:.*not in the possible render_modes:UserWarning")  # gymnasium's, on make
def test_an_env_that_cannot_render_is_refused(cartpole: dict[str, Any], tmp_path: Path) -> None:
    env_id = "rql4j-test/NoRenderCartPole-v0"
    if env_id not in gymnasium.registry:
        gymnasium.register(env_id, entry_point=lambda **kwargs: NoRenderCartPole(**kwargs), max_episode_steps=20)
    with pytest.raises(ValueError, match=f"the env {env_id} cannot render rgb_array") as e:
        evaluate_policy(cartpole["out"], env_id, episodes=1, video=tmp_path / "v.gif")
    assert "evaluate without a video" in str(e.value) and not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

JSON_KEYS = {"format", "policy_dir", "env_id", "env_source", "addon", "addon_source", "env_kwargs", "imports",
             "seeds", "deterministic", "distribution", "prior", "customized", "kl", "video", "markdown"}  # fmt: skip
EPISODE_KEYS = {"seed", "basic_return", "addon_return", "env_return", "length", "terminated", "kl"}


def test_cli_evaluate(cartpole: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out: Path = cartpole["out"]
    result = tmp_path / "result.json"
    result.write_text("an older result")  # a machine output: overwritten
    assert main(["evaluate", str(out), "--episodes", "2", "--json", str(result)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "| policy | basic return | add-on return | length |"
    assert printed[2].startswith("| prior alone | ") and printed[3].startswith("| customized | ")
    assert printed[4].startswith("KL(customized || prior): ") and CARTPOLE_TOTAL in printed[4]
    assert printed[5] == f"wrote {result}"
    data = json.loads(result.read_text())
    assert set(data) == JSON_KEYS and data["format"] == "rql4j-evaluation/1"
    assert data["seeds"] == [10000, 10001] and data["env_id"] == CARTPOLE_TOTAL and data["addon"] is None
    assert data["distribution"] == {"customized": "categorical", "prior": "categorical"}
    for side in ("prior", "customized"):
        assert set(data[side]) == {"summary", "unreported", "episodes"}
        assert set(data[side]["summary"]) == {"basic_return", "addon_return", "env_return", "length"}
        assert [set(e) for e in data[side]["episodes"]] == [EPISODE_KEYS] * 2
    assert set(data["kl"]) == {"direction", "customized_states", "prior_states", "customized_steps", "prior_steps",
                               "reason"}  # fmt: skip
    assert data["kl"]["customized_states"] > 0 and data["kl"]["reason"] is None
    assert data["kl"]["customized_steps"] == sum(e["length"] for e in data["customized"]["episodes"])
    assert data["markdown"].splitlines()[2:4] == printed[2:4]
    # the same numbers as the Python API
    ev = evaluate_policy(out, episodes=2)
    assert data["customized"]["episodes"][1]["basic_return"] == ev.customized.episodes[1].basic_return

    # refused input: exit 1, one line naming the folder
    assert main(["evaluate", str(SOFTDQN), "--episodes", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("rql4j-bridge evaluate: error: ") and str(SOFTDQN) in err
    video = tmp_path / "kept.gif"
    video.write_bytes(b"kept")
    assert main(["evaluate", str(out), "--episodes", "1", "--video", str(video)]) == 1
    assert "already exists" in capsys.readouterr().err and video.read_bytes() == b"kept"
    # bad options: exit 2
    assert main(["evaluate", str(out), "--video", str(tmp_path / "v.avi")]) == 2
    assert ".gif or .mp4" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["evaluate", str(out), "--episodes", "0"])
    assert e.value.code == 2


def test_java_number_format() -> None:
    """Java's String.format("%.1f") rounds the shortest decimal half up (checked against a JDK 17)."""
    cases = {0.25: "0.3", 0.15: "0.2", 132.45: "132.5", -0.25: "-0.3", -0.04: "-0.0", 12345.65: "12345.7",
             1 / 3: "0.3", 500.0: "500.0", 1e20: "100000000000000000000.0"}  # fmt: skip
    for x, java in cases.items():
        assert java_1f(x) == java, x
