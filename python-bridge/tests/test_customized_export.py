"""export_policy / load_policy / ``rql4j-bridge export-policy`` (rql4j_bridge.customized), without Java.

Policy folders are written here the way the Java learners save them (CustomizedPolicy, SacPolicy,
PpoPolicy: policy.json with Java's field names, weights in a safetensors file laid out as DJL writes
it, under the PyTorch state_dict names Mlp.java gives), from torch modules whose eager forward is then
the reference: the exported TorchScript must equal the equations of docs/method.md computed
independently (the prior's log-probabilities from the prior package loader), within 1e-5 on 1000
observations, and a composition that drops w or alphaHat must not.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from rql4j_bridge.cli import main
from rql4j_bridge.customized import PolicyExportError, export_policy, load_policy
from rql4j_bridge.prior.package import content_hash, load_prior_package, quiet_jit

REPO = Path(__file__).resolve().parents[2]
SOFTDQN = REPO / "examples" / "priors" / "cartpole-center-softdqn"
SAC_PRIOR = REPO / "examples" / "priors" / "mountaincar-lessleft-sac"
# What Java's PriorPackage.contentHash recorded for the shipped priors (prior_sha256 of rql4j runs on them).
JAVA_PRIOR_SHA256 = {
    SOFTDQN: "f18c495a2ed03db8b1c3c566e1b64dd16a95eeefea1b1b0221906f6d0dfd3a05",
    SAC_PRIOR: "d9291edcf195656d8e4051f30b01bd1efa99efac796a0676e8f245738f57d6b8",
}
W, ALPHA_HAT = 0.5, 0.7
N_OBS = 1000

SOFTQ_CONFIG: dict[str, Any] = {
    "totalSteps": 1100, "learningRate": 0.0023, "batchSize": 64, "bufferSize": 100000, "gamma": 0.99,
    "trainFrequency": 256, "gradientSteps": 128, "learningStarts": 1000, "targetUpdateInterval": 10,
    "explorationFraction": 0.16, "explorationInitialEps": 1.0, "explorationFinalEps": 0.04, "maxGradNorm": 10.0,
    "alphaHat": ALPHA_HAT, "priorWeight": W, "hidden": [32, 32], "numEnvs": 1, "seed": 0,
}  # fmt: skip
SAC_CONFIG: dict[str, Any] = {
    "totalSteps": 2500, "learningRate": 3.0e-4, "batchSize": 512, "bufferSize": 50000, "gamma": 0.9999,
    "tau": 0.01, "trainFrequency": 32, "gradientSteps": 32, "learningStarts": 0, "alphaHat": 0.1,
    "learnAlpha": False, "priorWeight": 0.1, "warmStartMultiplier": 1.0, "warmStartSteps": 0, "maxGradNorm": 0.0,
    "priorMinStd": 0.0, "hidden": [32, 32], "numEnvs": 1, "seed": 0,
}  # fmt: skip
PPO_CONFIG: dict[str, Any] = {
    "totalSteps": 100000, "nSteps": 2048, "batchSize": 64, "nEpochs": 10, "learningRate": 3.0e-4, "gamma": 0.99,
    "gaeLambda": 0.95, "clipRange": 0.2, "vfCoef": 0.5, "entCoef": 0.0, "maxGradNorm": 0.5,
    "normalizeAdvantage": True, "alphaHat": 0.2, "priorWeight": 0.2, "logStdInit": 0.0, "hidden": [16, 16],
    "numEnvs": 1, "seed": 3, "normalizeObservations": True, "normalizeRewards": False, "initFromPrior": False,
    "survivalBonus": 0.0,
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Policy folders as Java writes them
# ---------------------------------------------------------------------------------------------


def java_safetensors(path: Path, named: dict[str, np.ndarray]) -> None:
    """DJL's layout: the header in the given order, not padded, float32 little-endian data."""
    header: dict[str, Any] = {}
    blobs: list[bytes] = []
    offset = 0
    for name, array in named.items():
        raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def mlp(sizes: list[int], activation: type[nn.Module], seed: int, last_scale: float = 1.0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    net = nn.Sequential(*layers).eval()
    with torch.no_grad():
        net[-1].weight.mul_(last_scale)
        net[-1].bias.mul_(last_scale)
    return net


def tensors(net: nn.Module, prefix: str) -> dict[str, np.ndarray]:
    # reversed: Java's header order is not the state_dict's
    return {f"{prefix}.{k}": v.detach().numpy() for k, v in reversed(net.state_dict().items())}


def java_hash(pkg: Path) -> str:
    """Java's PriorPackage.contentHash: sha256 over prior.json's bytes, then the module file's."""
    module = json.loads((pkg / "prior.json").read_text())["module"]["file"]
    return hashlib.sha256((pkg / "prior.json").read_bytes() + (pkg / module).read_bytes()).hexdigest()


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def run_config(run: Path, algo: str, prior: Path | None, config: dict[str, Any]) -> None:
    write_json(run / "config.json", {
        "format": "rql4j-run/1", "task": "test-task", "algo": algo, "baseline": "residual", "eval_episodes": 1,
        "prior": None if prior is None else str(prior.resolve()),
        "prior_sha256": None if prior is None else java_hash(prior), "config": config,
    })  # fmt: skip


def softq_run(root: Path, prior: Path, *, w: float = W, alpha_hat: float = ALPHA_HAT) -> tuple[Path, nn.Sequential]:
    run = root / "softq-run"
    q = mlp([4, 32, 32, 2], nn.ReLU, seed=1, last_scale=10.0)
    (run / "policy").mkdir(parents=True)
    java_safetensors(run / "policy" / "residual.safetensors", tensors(q, "q"))
    config = {**SOFTQ_CONFIG, "priorWeight": w, "alphaHat": alpha_hat}
    write_json(run / "policy" / "policy.json", {
        "format": "rql4j-customized-policy/2", "created": "2026-12-05T02:57:02.879412233Z", "obs_dim": 4,
        "n_actions": 2, "action_start": 0, "config": config,
        "prior_package": str(prior.resolve()), "prior_sha256": java_hash(prior),
    })  # fmt: skip
    run_config(run, "softq", prior, config)
    return run, q


def sac_run(
    root: Path, prior: Path | None, low: list[float], high: list[float], obs_dim: int
) -> tuple[Path, nn.Module]:
    """A SAC run folder (policy.json names no prior: the run's config.json does, when there is one)."""
    run = root / "sac-run"
    d = len(low)
    actor = mlp([obs_dim, 32, 32, 2 * d], nn.ReLU, seed=2)
    with torch.no_grad():  # log-stds far outside [-20, 2] on both sides: the clamp must show
        actor[-1].weight[d:].mul_(400.0)
        actor[-1].bias[d:] = -5.0
    (run / "policy").mkdir(parents=True)
    java_safetensors(run / "policy" / "actor.safetensors", tensors(actor, "actor"))
    write_json(run / "policy" / "policy.json", {
        "format": "rql4j-sac-policy/2", "created": "2026-12-05T02:50:41.309897834Z", "obs_dim": obs_dim,
        "action_low": low, "action_high": high, "config": SAC_CONFIG, "alpha_hat": 0.05,
    })  # fmt: skip
    if prior is not None:
        run_config(run, "sac", prior, SAC_CONFIG)
    return run, actor


def copy_prior(src: Path, root: Path) -> Path:
    dst = root / "priors" / src.name
    shutil.copytree(src, dst)
    return dst


def cartpole_observations(n: int = N_OBS, seed: int = 0) -> torch.Tensor:
    """Where CartPole goes (and a little beyond): x, x_dot, theta, theta_dot."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 4, generator=gen) * 2 - 1) * torch.tensor([2.4, 3.0, 0.21, 3.0])


def mountaincar_observations(n: int = N_OBS, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(n, 2, generator=gen)
    return torch.stack([-1.2 + 1.8 * u[:, 0], -0.07 + 0.14 * u[:, 1]], dim=1)


def jit(folder: Path) -> torch.jit.ScriptModule:
    with quiet_jit():
        return torch.jit.load(str(folder / "policy.pt"))


def onnx_run(folder: Path, obs: torch.Tensor) -> dict[str, np.ndarray]:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(folder / "policy.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"obs": obs.numpy()}), strict=True))


def no_leftovers(parent: Path) -> None:
    assert not [p.name for p in parent.iterdir() if p.name.endswith(".export-tmp")], list(parent.iterdir())


# ---------------------------------------------------------------------------------------------
# Soft Q-learning
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def softq(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("softq")
    prior = copy_prior(SOFTDQN, root)
    run, q = softq_run(root, prior)
    out = export_policy(run, root / "exported")
    return {"root": root, "prior": prior, "run": run, "q": q, "out": out}


def test_the_prior_hash_is_javas() -> None:
    for pkg, recorded in JAVA_PRIOR_SHA256.items():
        assert content_hash(pkg) == recorded == java_hash(pkg)


def test_soft_q_forward_is_the_customized_policy(softq: dict[str, Any]) -> None:
    obs = cartpole_observations()
    log_pi = torch.from_numpy(load_prior_package(softq["prior"]).log_probs_all(obs.numpy()))
    with torch.no_grad():
        q_r = softq["q"](obs)
        got = jit(softq["out"])(obs)
        actions = jit(softq["out"]).act(obs)
    # method.md: pi_hat(a|s) ∝ exp((Q_R(s,a) + w log pi(a|s)) / alphaHat)
    ref = torch.log_softmax((q_r + W * log_pi) / ALPHA_HAT, dim=1)
    assert got.shape == (N_OBS, 2) and got.dtype == torch.float32
    assert (got - ref).abs().max().item() <= 1e-5
    # the test tells a composition that drops w, or alphaHat, from the right one
    without_w = torch.log_softmax((q_r + log_pi) / ALPHA_HAT, dim=1)
    without_alpha_hat = torch.log_softmax(q_r + W * log_pi, dim=1)
    for mutant in (without_w, without_alpha_hat):
        assert (got - mutant).abs().max().item() > 1e-2
    # deterministic: the argmax of Q_R + w log pi, plus the Discrete start
    assert torch.equal(actions, torch.argmax(q_r + W * log_pi, dim=1))
    assert 0 < int(actions.sum()) < N_OBS, "both actions occur: the residual matters"


def test_soft_q_onnx_agrees_with_torchscript(softq: dict[str, Any]) -> None:
    """ONNX Runtime's float32 kernels are not PyTorch's: on the CartPole prior (256-wide layers, Q-values
    in the tens to hundreds) BOTH are ~3e-5 to 5e-5 away from the float64 value of the same composition,
    so 1e-5 between them is below float32 here. Checked instead: ONNX is as accurate as TorchScript
    against float64 (the exported module itself, run in float64), and within 1e-4 of it; the actions agree."""
    obs = cartpole_observations(seed=1)
    onnx = onnx_run(softq["out"], obs)
    module = jit(softq["out"])
    with torch.no_grad():
        log_probs, actions = module(obs).numpy(), module.act(obs).numpy()
        truth = jit(softq["out"]).double()(obs.double()).numpy()
    assert set(onnx) == {"log_probs", "action"} and onnx["log_probs"].dtype == np.float32
    err_torchscript = np.abs(log_probs - truth).max()
    err_onnx = np.abs(onnx["log_probs"] - truth).max()
    assert err_onnx <= 2 * err_torchscript + 1e-5, (err_onnx, err_torchscript)
    assert np.abs(onnx["log_probs"] - log_probs).max() <= 1e-4
    tie = np.abs(truth[:, 0] - truth[:, 1]) <= 1e-4
    assert onnx["action"].dtype == np.int64 and (onnx["action"][~tie] == actions[~tie]).all()


def test_the_export_is_a_prior_package_without_absolute_paths(softq: dict[str, Any]) -> None:
    out: Path = softq["out"]
    pkg = load_prior_package(out)
    assert pkg.distribution == "categorical" and pkg.obs_dim == 4 and pkg.action_dim == 2
    sidecar = pkg.sidecar
    assert sidecar["source"]["kind"] == "rql4j-customized" and sidecar["temperature"] == ALPHA_HAT
    assert sidecar["module"] == {"file": "policy.pt", "outputs": ["log_probs"], "act": sidecar["module"]["act"]}
    prior_spec = load_prior_package(SOFTDQN).sidecar
    assert sidecar["observation_space"] == prior_spec["observation_space"]
    assert sidecar["action_space"] == prior_spec["action_space"]
    custom = sidecar["customized"]
    assert custom["learner"] == "residual-soft-q" and custom["prior_weight"] == W and custom["alpha_hat"] == ALPHA_HAT
    assert custom["prior_sha256"] == JAVA_PRIOR_SHA256[SOFTDQN] == custom["prior"]["sha256"]
    assert custom["prior"]["folder"] == "prior" and custom["prior"]["sha256_verified"] is True
    assert custom["config"]["hidden"] == [32, 32] and custom["run"]["algo"] == "softq"
    assert sidecar["onnx"]["written"] is True and sidecar["onnx"]["outputs"] == ["log_probs", "action"]
    # the prior, byte for byte
    for name in ("prior.json", "policy.pt"):
        assert (out / "prior" / name).read_bytes() == (SOFTDQN / name).read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["policy.onnx", "policy.pt", "prior", "prior.json",
                                                     "weights.safetensors"]  # fmt: skip
    # the learned weights under state_dict names
    from rql4j_bridge.customized.safetensors import read_safetensors

    weights = read_safetensors(out / "weights.safetensors")
    assert sorted(weights) == sorted(f"q.{k}" for k in softq["q"].state_dict())
    for k, v in softq["q"].state_dict().items():
        np.testing.assert_array_equal(weights[f"q.{k}"], v.numpy())
    # no absolute path in what the export wrote (the prior/ copy is the prior's own bytes)
    for file in out.rglob("*"):
        if file.is_file() and "prior" not in file.relative_to(out).parts[:-1]:
            data = file.read_bytes()
            for path in (str(softq["root"]), str(REPO), str(softq["root"].resolve())):
                assert path.encode() not in data, (file, path)


def test_load_policy_acts_like_sb3(softq: dict[str, Any]) -> None:
    policy = load_policy(softq["out"], seed=0)
    assert isinstance(policy, nn.Module)
    obs = cartpole_observations(50, seed=2)
    with torch.no_grad():
        assert torch.equal(policy(obs), jit(softq["out"])(obs))
        expected = jit(softq["out"]).act(obs).numpy()
    action, state = policy.predict(obs[0].numpy())
    assert state is None and action.shape == () and int(action) == expected[0]
    actions, _ = policy.predict(obs.numpy())
    assert actions.shape == (50,) and actions.dtype == np.int64 and (actions == expected).all()
    # sampling follows pi_hat: frequencies of one observation's actions
    one = obs[3].numpy()
    p1 = math.exp(float(policy(obs[3:4])[0, 1]))
    draws = np.array([int(policy.predict(one, deterministic=False)[0]) for _ in range(2000)])
    assert set(draws.tolist()) <= {0, 1}
    assert abs(draws.mean() - p1) <= 4 * math.sqrt(p1 * (1 - p1) / 2000) + 1e-3
    with pytest.raises(ValueError, match="expected \\[4\\]"):
        policy.predict(np.zeros(3, np.float32))


def test_load_policy_reads_any_prior_package() -> None:
    """Packages without an act() method (rql4j-bridge export's) act by the format's mode."""
    cartpole = load_policy(SOFTDQN)
    obs = cartpole_observations(20)
    with torch.no_grad():
        expected = torch.argmax(cartpole(obs), dim=1).numpy()
    np.testing.assert_array_equal(cartpole.predict(obs.numpy())[0], expected)
    mountaincar = load_policy(SAC_PRIOR)
    obs = mountaincar_observations(20)
    with torch.no_grad():
        mean, _ = mountaincar(obs)
    action, _ = mountaincar.predict(obs.numpy())
    assert action.shape == (20, 1) and action.dtype == np.float32
    np.testing.assert_allclose(action, np.tanh(mean.numpy()), atol=1e-6)  # the Box is [-1, 1]


def test_the_export_customizes_again(softq: dict[str, Any], tmp_path: Path) -> None:
    """The exported folder is the prior of a further customization, whose export nests it."""
    first = tmp_path / "first"
    shutil.copytree(softq["out"], first)
    run, q = softq_run(tmp_path, first, w=1.5, alpha_hat=0.4)
    out = export_policy(run / "policy", tmp_path / "second", onnx=False)
    obs = cartpole_observations(200, seed=3)
    log_pi = torch.from_numpy(load_prior_package(first).log_probs_all(obs.numpy()))
    with torch.no_grad():
        ref = torch.log_softmax((q(obs) + 1.5 * log_pi) / 0.4, dim=1)
        assert (jit(out)(obs) - ref).abs().max().item() <= 1e-5
    assert (out / "prior" / "prior" / "policy.pt").read_bytes() == (SOFTDQN / "policy.pt").read_bytes()
    assert load_prior_package(out).sidecar["customized"]["prior"]["name"] == "exported"  # its prior.json's name


def test_w_zero_needs_no_prior(tmp_path: Path) -> None:
    prior = copy_prior(SOFTDQN, tmp_path)
    run, q = softq_run(tmp_path, prior, w=0.0)
    shutil.rmtree(prior)  # Java does not load the prior of a w = 0 policy either
    with pytest.warns(RuntimeWarning, match="does not exist"):
        out = export_policy(run, tmp_path / "out", onnx=False)
    obs = cartpole_observations(100)
    with torch.no_grad():
        assert (jit(out)(obs) - torch.log_softmax(q(obs) / ALPHA_HAT, dim=1)).abs().max().item() <= 1e-5
    sidecar = load_prior_package(out).sidecar
    assert sidecar["customized"]["prior"] is None and not (out / "prior").exists()
    assert sidecar["action_space"] == {"type": "Discrete", "n": 2, "start": 0}


# ---------------------------------------------------------------------------------------------
# SAC and PPO
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_prior", [True, False], ids=["mountaincar-prior", "no-prior"])
def test_sac_exports_the_actor(tmp_path: Path, with_prior: bool) -> None:
    if with_prior:
        prior: Path | None = copy_prior(SAC_PRIOR, tmp_path)
        low, high, obs_dim = [-1.0], [1.0], 2
        obs = mountaincar_observations()
    else:
        prior, low, high, obs_dim = None, [-2.0, 0.5], [3.0, 1.5], 3
        obs = torch.randn(N_OBS, 3, generator=torch.Generator().manual_seed(0))
    run, actor = sac_run(tmp_path, prior, low, high, obs_dim)
    out = export_policy(run / "policy", tmp_path / "out")
    d = len(low)
    module = jit(out)
    with torch.no_grad():
        mean, log_std = module(obs)
        action = module.act(obs)
        raw = actor(obs)
    ref_mean, raw_log_std = raw[:, :d], raw[:, d:]
    ref_log_std = raw_log_std.clamp(-20.0, 2.0)  # ResidualSacConfig.LOG_STD_MIN / MAX
    assert (mean - ref_mean).abs().max().item() <= 1e-5
    assert (log_std - ref_log_std).abs().max().item() <= 1e-5
    assert (log_std - raw_log_std).abs().max().item() > 1.0, "the clamp is exercised (and a missing one is caught)"
    lo, hi = np.array(low), np.array(high)
    # Java's Space.Box.fromUnitInterval: (a + 1) / 2 in float32, then low + that * (high - low) in float64
    half = ((np.tanh(ref_mean.numpy()) + np.float32(1)) / np.float32(2)).astype(np.float64)
    ref_action = (lo + half * (hi - lo)).astype(np.float32)
    assert np.abs(action.numpy() - ref_action).max() <= 1e-6

    onnx = onnx_run(out, obs)
    for name, x in (("mean", mean), ("log_std", log_std), ("action", action)):
        # onnxruntime's kernels sum in another order: within 1e-5, relative for large values (log-stds near -20)
        np.testing.assert_allclose(onnx[name], x.numpy(), rtol=1e-5, atol=1e-5, err_msg=name)

    pkg = load_prior_package(out)
    assert pkg.distribution == "squashed_gaussian"
    assert pkg.sidecar["action_scaling"]["kind"] == "tanh_to_box"
    custom = pkg.sidecar["customized"]
    # the temperature the run ended with (a learned one moves), and the config's starting value
    assert custom["alpha_hat"] == 0.05 and custom["alpha_hat_initial"] == SAC_CONFIG["alphaHat"]
    if with_prior:
        assert custom["prior"]["sha256"] == JAVA_PRIOR_SHA256[SAC_PRIOR] and custom["prior"]["sha256_verified"]
        assert pkg.sidecar["observation_space"] == load_prior_package(SAC_PRIOR).sidecar["observation_space"]
    else:
        assert custom["prior"] is None and not (out / "prior").exists()
        assert pkg.sidecar["observation_space"]["low"] == ["-inf"] * 3
    policy = load_policy(out, seed=1)
    single, _ = policy.predict(obs[0].numpy())
    assert single.shape == (d,) and single.dtype == np.float32
    np.testing.assert_allclose(single, ref_action[0], atol=1e-6)
    sampled, _ = policy.predict(obs[:64].numpy(), deterministic=False)
    assert sampled.shape == (64, d) and (sampled >= lo.astype(np.float32)).all() and (sampled <= hi).all()


@pytest.mark.parametrize("kind", ["box", "discrete"])
def test_ppo_exports_the_policy_with_its_normalization(tmp_path: Path, kind: str) -> None:
    obs_dim = 5
    rng = np.random.default_rng(0)
    mean, var = rng.normal(size=obs_dim) * 3, rng.uniform(0.01, 4.0, size=obs_dim)
    if kind == "box":
        low, high = [-1.0, -2.0], [1.0, 2.0]
        width, action = 2, {"type": "box", "low": low, "high": high}
    else:
        width, action = 3, {"type": "discrete", "n": 3, "start": 1}
    net = mlp([obs_dim, 16, 16, width], nn.Tanh, seed=4, last_scale=3.0)
    named = tensors(net, "policy")
    log_std = np.array([-0.5, 0.3], np.float32)
    if kind == "box":
        named["log_std"] = log_std
    run = tmp_path / "ppo-run"
    (run / "policy").mkdir(parents=True)
    java_safetensors(run / "policy" / "policy.safetensors", named)
    write_json(run / "policy" / "policy.json", {
        "format": "rql4j-ppo-policy/1", "created": "2026-12-05T00:00:00Z", "obs_dim": obs_dim,
        "action_space": action, "config": PPO_CONFIG,
        "observation_normalization": {"mean": mean.tolist(), "var": var.tolist(), "count": 1234.0},
    })  # fmt: skip
    out = export_policy(run, tmp_path / "out")

    gen = torch.Generator().manual_seed(5)
    obs = torch.randn(N_OBS, obs_dim, generator=gen) * 4 + torch.from_numpy(mean).float()
    obs[:10] *= 100  # some far enough out for the clip at +-10
    # Java's RunningMeanStd.normalize: float64 (x - mean) / sqrt(var + 1e-8), clipped to +-10, then float32
    z64 = (obs.numpy().astype(np.float64) - mean) / np.sqrt(var + 1e-8)
    assert (np.abs(z64) > 10).any()
    z = torch.from_numpy(np.clip(z64, -10, 10).astype(np.float32))
    module = jit(out)
    with torch.no_grad():
        got, act = module(obs), module.act(obs)
        ref, unnormalized = net(z), net(obs)
    if kind == "box":
        got_mean, got_log_std = got
        assert (got_mean - ref).abs().max().item() <= 1e-5
        assert (got_mean - unnormalized).abs().max().item() > 1e-2
        assert torch.equal(got_log_std, torch.from_numpy(log_std).expand(N_OBS, 2))
        ref_act = np.clip(ref.numpy().astype(np.float64), low, high).astype(np.float32)
        assert np.abs(act.numpy() - ref_act).max() <= 1e-6
        outputs = (("mean", got_mean), ("log_std", got_log_std), ("action", act))
        assert load_prior_package(out).sidecar["action_scaling"]["kind"] == "clip_to_box"
    else:
        ref_lp = torch.log_softmax(ref, dim=1)
        assert (got - ref_lp).abs().max().item() <= 1e-5
        assert (got - torch.log_softmax(unnormalized, dim=1)).abs().max().item() > 1e-2
        assert torch.equal(act, torch.argmax(ref_lp, dim=1) + 1)
        outputs = (("log_probs", got), ("action", act))
    onnx = onnx_run(out, obs)
    for name, x in outputs:
        # onnxruntime's kernels sum in another order: within 1e-5, relative for large values (log-stds near -20)
        np.testing.assert_allclose(onnx[name], x.numpy(), rtol=1e-5, atol=1e-5, err_msg=name)
    pkg = load_prior_package(out)
    assert pkg.distribution == ("diag_gaussian" if kind == "box" else "categorical")
    assert pkg.sidecar["customized"]["observation_normalization"]["count"] == 1234.0
    predicted, _ = load_policy(out).predict(obs[:7].numpy())
    with torch.no_grad():
        act7 = module.act(obs[:7])  # the same batch: another batch size may round a product differently
    np.testing.assert_allclose(predicted, act7.numpy(), rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Bad input, the CLI, optional ONNX
# ---------------------------------------------------------------------------------------------


def test_bad_input_is_named_and_nothing_is_overwritten(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        export_policy(tmp_path / "nowhere", tmp_path / "o1")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PolicyExportError, match=f"{empty} is not a Java policy folder"):
        export_policy(empty, tmp_path / "o1")
    for data, fragment in (({}, "field 'format' is null"), ({"format": "rql4j-sac-policy/1"}, "older format"),
                           ({"format": "something/9"}, "not a Java policy folder")):  # fmt: skip
        write_json(empty / "policy.json", data)
        with pytest.raises(ValueError, match=fragment) as e:
            export_policy(empty, tmp_path / "o1")
        assert str(empty / "policy.json") in str(e.value)

    prior = copy_prior(SOFTDQN, tmp_path)
    run, _ = softq_run(tmp_path, prior)
    # an output folder in use
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    with pytest.raises(PolicyExportError, match=f"{used} already exists and is not empty"):
        export_policy(run, used)
    assert [p.name for p in used.iterdir()] == ["keep.txt"] and (used / "keep.txt").read_text() == "mine"
    # a prior whose files changed since the run: both folders named
    original = (prior / "prior.json").read_bytes()
    (prior / "prior.json").write_bytes(original + b"\n")
    with pytest.raises(PolicyExportError, match="is not the one") as e:
        export_policy(run, tmp_path / "o2")
    assert str(prior.resolve()) in str(e.value) and str(run / "policy") in str(e.value)
    (prior / "prior.json").write_bytes(original)
    # a prior that moved: named, with the way out; --prior finds it (and checks its hash)
    moved = tmp_path / "moved" / "the-prior"
    shutil.move(str(prior), moved)
    with pytest.raises(FileNotFoundError, match="--prior") as e:
        export_policy(run, tmp_path / "o3")
    assert str(prior.resolve()) in str(e.value)
    with pytest.raises(PolicyExportError, match="is not the one"):
        export_policy(run, tmp_path / "o4", prior_dir=copy_prior(SAC_PRIOR, tmp_path))
    assert not any((tmp_path / n).exists() for n in ("o1", "o2", "o3", "o4"))
    no_leftovers(tmp_path)
    # an empty output folder is fine
    (tmp_path / "o5").mkdir()
    out = export_policy(run, tmp_path / "o5", prior_dir=moved, onnx=False)
    assert load_prior_package(out).sidecar["customized"]["prior"]["sha256_verified"] is True
    no_leftovers(tmp_path)


def test_cli_export_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prior = copy_prior(SOFTDQN, tmp_path)
    run, _ = softq_run(tmp_path, prior)
    out = tmp_path / "cli-out"
    assert main(["export-policy", str(run), "--out", str(out), "--no-onnx"]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("exported residual-soft-q policy") and "no policy.onnx" in printed.out
    sidecar = json.loads((out / "prior.json").read_text())
    assert sidecar["onnx"] == {"written": False, "reason": "not requested (onnx=False / --no-onnx)"}
    assert sidecar["made_by"]["command"] == "rql4j-bridge export-policy --no-onnx"
    assert not (out / "policy.onnx").exists()
    # bad input: exit 1, one line naming the folder
    assert main(["export-policy", str(run), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(out) in err and "not empty" in err


def test_an_onnx_failure_is_recorded_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnx")
    prior = copy_prior(SOFTDQN, tmp_path)
    run, _ = softq_run(tmp_path, prior)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"Exporting the operator 'aten::foo' to ONNX opset {kwargs.get('opset_version')} "
                           f"is not supported ({tmp_path})")  # fmt: skip

    monkeypatch.setattr(torch.onnx, "export", refuse)
    with pytest.warns(RuntimeWarning, match="policy.onnx not written"):
        out = export_policy(run, tmp_path / "out")
    onnx = load_prior_package(out).sidecar["onnx"]
    assert onnx["written"] is False and "aten::foo" in onnx["reason"] and str(tmp_path) not in onnx["reason"]
    assert not (out / "policy.onnx").exists() and (out / "policy.pt").is_file()


def test_importing_the_bridge_does_not_import_torch() -> None:
    code = (
        "import sys, rql4j_bridge, rql4j_bridge.customized\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert callable(rql4j_bridge.load_policy) and callable(rql4j_bridge.export_policy)\n"
        "assert 'torch' in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
