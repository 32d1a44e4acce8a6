"""compat-tests/python/make_prior_fixtures.py: runs, and its reference.bin files hold SB3's own answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sb3 = pytest.importorskip("stable_baselines3")

from rql4j_bridge.prior.package import load_prior_package  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

SCRIPT = Path(__file__).resolve().parents[2] / "compat-tests" / "python" / "make_prior_fixtures.py"
sys.path.insert(0, str(SCRIPT.parent))
from raw_arrays import read_arrays  # noqa: E402  (the compat-tests' one reader)

CASES = [
    "sb3-dqn", "sb3-sac", "sb3-sac-sde", "sb3-ppo-discrete", "sb3-ppo-continuous", "sb3-a2c",
    "rql-ref-softdqn", "rql-ref-sac", "torch-module",
]  # fmt: skip


def read_reference(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    return read_arrays(path)


def sb3_reference(case: str, checkpoint: Path, obs: torch.Tensor, actions: torch.Tensor) -> dict[str, np.ndarray]:
    """SB3's own answers, from the checkpoint the script kept."""
    if case == "sb3-dqn":
        model = sb3.DQN.load(checkpoint, device="cpu")
        lp = torch.log_softmax(model.q_net(obs) / 0.5, dim=1)
        return {"log_probs_all": lp.detach().numpy()}
    if case.startswith("sb3-sac"):
        actor = sb3.SAC.load(checkpoint, device="cpu").actor
        mean, log_std, kwargs = actor.get_action_dist_params(obs)
        dist = actor.action_dist.proba_distribution(mean, log_std, **kwargs)
    else:
        cls = sb3.A2C if case == "sb3-a2c" else sb3.PPO
        dist = cls.load(checkpoint, device="cpu").policy.get_distribution(obs)
    if case in ("sb3-ppo-discrete", "sb3-a2c"):
        return {"log_probs_all": dist.distribution.logits.detach().numpy()}
    return {
        "mean": dist.distribution.mean.detach().numpy(),
        "log_std": dist.distribution.stddev.log().detach().numpy(),
        "log_prob": dist.log_prob(actions).detach().numpy(),
    }


def test_make_prior_fixtures(tmp_path: Path) -> None:
    out = tmp_path / "fixtures"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--n", "200"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [k for k in summary if k != "seconds"] == CASES
    for case in CASES:
        header, arrays = read_reference(out / case / "reference.bin")
        prior = load_prior_package(out / case)
        assert header["format"] == "rql4j-prior-reference/1" and header["case"] == case and header["n"] == 200
        obs = arrays["observations"]
        assert obs.dtype == np.float32 and obs.shape == (200, prior.obs_dim)
        if prior.distribution == "categorical":
            assert list(arrays) == ["observations", "log_probs_all", "actions", "log_prob"]
            np.testing.assert_array_equal(arrays["log_probs_all"], prior.log_probs_all(obs))
        else:
            assert list(arrays) == ["observations", "mean", "log_std", "actions", "log_prob"]
            np.testing.assert_array_equal(arrays["mean"], prior.distribution_params(obs)[0])
            if prior.distribution == "squashed_gaussian":
                assert np.abs(arrays["actions"]).max() <= 0.99
        np.testing.assert_array_equal(arrays["log_prob"], prior.log_prob(obs, arrays["actions"]))
        if case.startswith("sb3-"):
            expected = sb3_reference(
                case,
                out / "checkpoints" / f"{case}.zip",
                torch.from_numpy(obs.copy()),
                torch.from_numpy(arrays["actions"].copy()),
            )
            for name, value in expected.items():
                rtol = 1e-5 if name == "log_prob" else 1e-6
                np.testing.assert_allclose(arrays[name], value, rtol=rtol, atol=1e-5, err_msg=f"{case}: {name}")
