"""`rql4j-bridge export` against real Stable-Baselines3 checkpoints and real torch modules.

Every exported package must give the log-probabilities of the policy it came from (SB3's own
distribution objects, or an independent torch computation for the RQL reference layouts) on 1000
random observations and actions.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest

torch = pytest.importorskip("torch")
sb3 = pytest.importorskip("stable_baselines3")
from gymnasium import spaces  # noqa: E402
from stable_baselines3.common.distributions import (  # noqa: E402
    DiagGaussianDistribution,
    SquashedDiagGaussianDistribution,
    StateDependentNoiseDistribution,
)
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from rql4j_bridge.prior.export import ExportError, export_checkpoint, pickled_globals  # noqa: E402
from rql4j_bridge.prior.package import PriorPackage, load_prior_package  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

N = 1000
ATOL = 1e-5


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def perturb(module: nn.Module, seed: int, scale: float = 0.2) -> None:
    """Moves every parameter away from its initial value (so e.g. a zero log_std would not hide a bug)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)


def random_obs(dim: int, seed: int, scale: float = 1.5) -> torch.Tensor:
    return torch.randn(N, dim, generator=torch.Generator().manual_seed(seed)) * scale


def assert_close(actual: Any, expected: Any, *, rtol: float = 0.0, atol: float = ATOL) -> None:
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64), rtol=rtol, atol=atol)


def exported(model: Any, tmp_path: Path, kind: str, **kwargs: Any) -> PriorPackage:
    zip_path = tmp_path / f"{kind}.zip"
    model.save(zip_path)
    out = export_checkpoint(kind, zip_path, tmp_path / f"{kind}-prior", seed=0, **kwargs)
    prior = load_prior_package(out)
    assert prior.sidecar["source"]["kind"] == kind
    assert prior.sidecar["source"]["file"] == zip_path.name
    return prior


def check_categorical(prior: PriorPackage, reference_log_probs: torch.Tensor, obs: torch.Tensor) -> None:
    lp = prior.log_probs_all(obs)
    assert_close(lp, reference_log_probs.detach())
    actions = torch.randint(0, lp.shape[1], (lp.shape[0],), generator=torch.Generator().manual_seed(1))
    start = int(prior.action_space.start)
    assert_close(prior.log_prob(obs, actions + start), reference_log_probs.detach().gather(1, actions[:, None])[:, 0])


def check_gaussian(prior: PriorPackage, sb3_dist: Any, obs: torch.Tensor, actions: torch.Tensor) -> None:
    """Module outputs == SB3's distribution parameters; log-probs == SB3's log_prob in float32 (relative 1e-5:
    SB3's own float32 arithmetic), and == SB3's distribution class evaluated in float64 on the same parameters
    (absolute 1e-5: the formulas are the same)."""
    mean, log_std = prior.distribution_params(obs)
    normal = sb3_dist.distribution
    assert_close(mean, normal.mean.detach())
    assert_close(log_std, normal.stddev.detach().log(), rtol=1e-6)
    ours = prior.log_prob(obs, actions)
    sb3_32 = sb3_dist.log_prob(actions).detach().numpy()
    # Near |a| = 1 SB3's float32 tanh correction log(1 - a^2 + 1e-6) loses digits (1 - a^2 ~ 1e-4): compare
    # those rows in float64 only (below).
    rows = (actions.abs() <= 0.999).all(dim=1).numpy() if prior.distribution == "squashed_gaussian" else slice(None)
    assert_close(ours[rows], sb3_32[rows], rtol=1e-5)
    m64, ls64 = torch.from_numpy(mean).double(), torch.from_numpy(log_std).double()
    if isinstance(sb3_dist, StateDependentNoiseDistribution):
        d64 = StateDependentNoiseDistribution(m64.shape[1], squash_output=sb3_dist.bijector is not None)
        d64.distribution = torch.distributions.Normal(m64, ls64.exp())
    else:
        d64 = type(sb3_dist)(m64.shape[1]).proba_distribution(m64, ls64)
    assert_close(ours, d64.log_prob(actions.double()))


def squashed_actions(d: int, seed: int) -> torch.Tensor:
    return (torch.rand(N, d, generator=torch.Generator().manual_seed(seed)) * 2 - 1) * 0.999999


def box_actions(space: spaces.Box, seed: int) -> torch.Tensor:
    u = torch.rand(N, *space.shape, generator=torch.Generator().manual_seed(seed))
    low, high = torch.as_tensor(space.low), torch.as_tensor(space.high)
    return low + u * (high - low) * 1.2 - 0.1 * (high - low)  # a little outside the Box too


# ---------------------------------------------------------------------------------------------
# Stable-Baselines3 zips
# ---------------------------------------------------------------------------------------------


def test_sb3_dqn_trained(tmp_path: Path) -> None:
    model = sb3.DQN("MlpPolicy", "CartPole-v1", learning_starts=50, buffer_size=1000, train_freq=4,
                    policy_kwargs={"net_arch": [32, 32]}, seed=0)  # fmt: skip
    model.learn(200)
    prior = exported(model, tmp_path, "sb3-dqn", temperature=0.7)
    assert prior.distribution == "categorical" and prior.sidecar["temperature"] == 0.7
    obs = random_obs(4, 0)
    with torch.no_grad():
        reference = torch.log_softmax(model.q_net(obs) / 0.7, dim=1)
    check_categorical(prior, reference, obs)


def test_sb3_dqn_needs_a_temperature(tmp_path: Path) -> None:
    model = sb3.DQN("MlpPolicy", "CartPole-v1", buffer_size=100, policy_kwargs={"net_arch": [8]})
    model.save(tmp_path / "dqn.zip")
    with pytest.raises(ExportError, match="needs --temperature"):
        export_checkpoint("sb3-dqn", tmp_path / "dqn.zip", tmp_path / "out")


@pytest.mark.parametrize(
    ("case", "policy_kwargs"),
    [
        ("plain", {"net_arch": [32, 32]}),
        ("sde", {"net_arch": [32, 32], "use_sde": True}),
        ("sde-expln-clip1", {"net_arch": [24], "use_sde": True, "use_expln": True, "clip_mean": 1.0}),
    ],
)
def test_sb3_sac(tmp_path: Path, case: str, policy_kwargs: dict[str, Any]) -> None:
    use_sde = policy_kwargs.pop("use_sde", False)
    model = sb3.SAC("MlpPolicy", "Pendulum-v1", buffer_size=1000, use_sde=use_sde, policy_kwargs=policy_kwargs, seed=1)
    perturb(model.actor, 1, scale=0.1)
    if use_sde:
        with torch.no_grad():  # SB3 starts at log_std -3; move it to a range where sigma is O(0.1 .. 1)
            model.actor.log_std.copy_(
                torch.randn(model.actor.log_std.shape, generator=torch.Generator().manual_seed(2)) * 0.5 - 1.0
            )
    prior = exported(model, tmp_path, "sb3-sac", env_id="Pendulum-v1")
    assert prior.distribution == "squashed_gaussian"
    assert prior.sidecar["action_scaling"] == {"kind": "tanh_to_box", "low": [-2.0], "high": [2.0]}
    obs = random_obs(3, 3)
    mean, log_std, kwargs = model.actor.get_action_dist_params(obs)
    dist = model.actor.action_dist.proba_distribution(mean, log_std, **kwargs)
    assert isinstance(dist, StateDependentNoiseDistribution if use_sde else SquashedDiagGaussianDistribution)
    check_gaussian(prior, dist, obs, squashed_actions(1, 4))
    if case == "sde-expln-clip1":
        assert float(np.abs(prior.distribution_params(obs)[0]).max()) <= 1.0  # Hardtanh(+-clip_mean)


def _ppo(env: str, seed: int, **kwargs: Any) -> Any:
    return sb3.PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=seed, **kwargs)


def test_sb3_ppo_discrete_trained(tmp_path: Path) -> None:
    model = _ppo("CartPole-v1", 0)
    model.learn(128)
    prior = exported(model, tmp_path, "sb3-ppo")
    assert prior.distribution == "categorical" and prior.sidecar["temperature"] is None
    assert "activation Tanh" in prior.sidecar["made_by"]["spaces"]  # SB3's default for PPO
    obs = random_obs(4, 5)
    check_categorical(prior, model.policy.get_distribution(obs).distribution.logits, obs)


@pytest.mark.parametrize(
    ("algo", "env_id", "policy_kwargs"),
    [
        ("ppo", "MountainCarContinuous-v0", {"activation_fn": nn.ReLU, "net_arch": {"pi": [16, 16], "vf": [8]}}),
        ("ppo", "Pendulum-v1", {"net_arch": [], "log_std_init": -0.5}),
        ("a2c", "Pendulum-v1", {}),
        (
            "a2c",
            "MountainCarContinuous-v0",
            {"activation_fn": nn.ELU, "net_arch": [12], "share_features_extractor": False},
        ),
    ],
    ids=["ppo-relu-dictarch", "ppo-no-hidden", "a2c-default", "a2c-elu"],
)
def test_sb3_actor_critic_diag_gaussian(tmp_path: Path, algo: str, env_id: str, policy_kwargs: dict[str, Any]) -> None:
    cls = sb3.PPO if algo == "ppo" else sb3.A2C
    extra = {"batch_size": 8} if algo == "ppo" else {}
    model = cls("MlpPolicy", env_id, n_steps=8, policy_kwargs=policy_kwargs, seed=2, **extra)
    perturb(model.policy, 2)
    prior = exported(model, tmp_path, f"sb3-{algo}")
    assert prior.distribution == "diag_gaussian"
    assert prior.sidecar["action_scaling"]["kind"] == "clip_to_box"
    obs = random_obs(prior.obs_dim, 6)
    dist = model.policy.get_distribution(obs)
    assert isinstance(dist, DiagGaussianDistribution)
    check_gaussian(prior, dist, obs, box_actions(model.action_space, 7))


def test_sb3_a2c_discrete(tmp_path: Path) -> None:
    model = sb3.A2C("MlpPolicy", "Acrobot-v1", policy_kwargs={"net_arch": [16]}, seed=3)
    perturb(model.policy, 3)
    prior = exported(model, tmp_path, "sb3-a2c", env_id="Acrobot-v1")
    obs = random_obs(6, 8)
    check_categorical(prior, model.policy.get_distribution(obs).distribution.logits, obs)


@pytest.mark.parametrize("squash", [False, True], ids=["gsde", "gsde-squashed-expln-halfstd"])
def test_sb3_ppo_gsde(tmp_path: Path, squash: bool) -> None:
    kwargs: dict[str, Any] = {"net_arch": [16, 16], "log_std_init": -0.5}
    if squash:
        kwargs.update(squash_output=True, use_expln=True, full_std=False)
    model = _ppo("Pendulum-v1", 4, use_sde=True, policy_kwargs=kwargs)
    perturb(model.policy, 4, scale=0.1)
    prior = exported(model, tmp_path, "sb3-ppo")
    assert prior.distribution == ("squashed_gaussian" if squash else "diag_gaussian")
    obs = random_obs(3, 9)
    dist = model.policy.get_distribution(obs)
    actions = squashed_actions(1, 10) if squash else box_actions(model.action_space, 10)
    check_gaussian(prior, dist, obs, actions)


class DictEnv(gymnasium.Env):
    """A Dict observation space with Box, Discrete and MultiBinary entries (keys deliberately unsorted)."""

    def __init__(self) -> None:
        self.observation_space = spaces.Dict(
            {"vel": spaces.Box(-1, 1, (2, 2), np.float32), "mode": spaces.Discrete(3), "flags": spaces.MultiBinary(2)}
        )
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        return self.observation_space.sample(), 0.0, False, False, {}


def test_sb3_dict_observations_flatten_like_gymnasium(tmp_path: Path) -> None:
    env = DictEnv()
    model = sb3.PPO("MultiInputPolicy", env, n_steps=8, batch_size=8, policy_kwargs={"net_arch": [16]}, seed=5)
    perturb(model.policy, 5)
    model.save(tmp_path / "dict.zip")
    # The readable attributes cannot describe a Dict space: refused without --env-id / --allow-unpickle.
    with pytest.raises(ExportError, match="--env-id"):
        export_checkpoint("sb3-ppo", tmp_path / "dict.zip", tmp_path / "refused")
    prior = load_prior_package(export_checkpoint("sb3-ppo", tmp_path / "dict.zip", tmp_path / "p", allow_unpickle=True))
    assert prior.sidecar["observation"] == {"flatten": "gymnasium", "dim": 4 + 3 + 2}
    space = env.observation_space
    space.seed(0)
    samples = [space.sample() for _ in range(N)]
    flat = prior.flatten_observations(samples)
    batch = {k: torch.as_tensor(np.stack([s[k] for s in samples])) for k in space.spaces}
    check_categorical(prior, model.policy.get_distribution(batch).distribution.logits, torch.from_numpy(flat))


def test_sb3_discrete_observations_are_one_hot(tmp_path: Path) -> None:
    model = _ppo("FrozenLake-v1", 7, policy_kwargs={"net_arch": [8]})
    perturb(model.policy, 7, scale=0.3)
    prior = exported(model, tmp_path, "sb3-ppo")  # spaces from the readable attributes (Discrete n / start)
    assert prior.sidecar["observation"] == {"flatten": "gymnasium", "dim": 16}
    states = np.arange(16)
    flat = torch.from_numpy(prior.flatten_observations(list(states)))
    check_categorical(prior, model.policy.get_distribution(torch.as_tensor(states)).distribution.logits, flat)


def test_spaces_are_recovered_without_unpickling(tmp_path: Path) -> None:
    model = sb3.DQN("MlpPolicy", "CartPole-v1", buffer_size=100, policy_kwargs={"net_arch": [8]})
    model.save(tmp_path / "dqn.zip")
    readable = export_checkpoint("sb3-dqn", tmp_path / "dqn.zip", tmp_path / "a", temperature=1.0)
    by_env = export_checkpoint("sb3-dqn", tmp_path / "dqn.zip", tmp_path / "b", temperature=1.0, env_id="CartPole-v1")
    unpickled = export_checkpoint("sb3-dqn", tmp_path / "dqn.zip", tmp_path / "c", temperature=1.0, allow_unpickle=True)
    sidecars = [json.loads((p / "prior.json").read_text()) for p in (readable, by_env, unpickled)]
    for key in ("observation_space", "action_space"):
        assert sidecars[0][key] == sidecars[1][key] == sidecars[2][key]
    env = gymnasium.make("CartPole-v1")
    assert load_prior_package(readable).observation_space == env.observation_space
    with pytest.raises(ExportError, match="was made for"):
        export_checkpoint("sb3-dqn", tmp_path / "dqn.zip", tmp_path / "d", temperature=1.0, env_id="Acrobot-v1")


def test_activation_is_read_from_the_readable_policy_kwargs(tmp_path: Path) -> None:
    model = _ppo("CartPole-v1", 0, policy_kwargs={"activation_fn": nn.LeakyReLU, "net_arch": [8]})
    model.save(tmp_path / "ppo.zip")
    data = json.loads(zipfile.ZipFile(tmp_path / "ppo.zip").read("data"))
    assert data["policy_kwargs"]["activation_fn"] == "<class 'torch.nn.modules.activation.LeakyReLU'>"
    assert "torch.nn.modules.activation.LeakyReLU" in pickled_globals(data["policy_kwargs"][":serialized:"])
    prior = load_prior_package(export_checkpoint("sb3-ppo", tmp_path / "ppo.zip", tmp_path / "p"))
    assert "activation LeakyReLU" in prior.sidecar["made_by"]["spaces"]
    obs = random_obs(4, 11)
    assert_close(prior.log_probs_all(obs), model.policy.get_distribution(obs).distribution.logits.detach())
    # --activation overrides (here wrongly: the log-probs change).
    wrong = load_prior_package(export_checkpoint("sb3-ppo", tmp_path / "ppo.zip", tmp_path / "w", activation="Tanh"))
    assert not np.allclose(wrong.log_probs_all(obs), prior.log_probs_all(obs), atol=1e-4)


@pytest.mark.parametrize("algo", ["TD3", "DDPG"])
@pytest.mark.parametrize("kind", ["sb3-sac", "sb3-ppo"])
def test_deterministic_sb3_policies_are_refused(tmp_path: Path, algo: str, kind: str) -> None:
    model = getattr(sb3, algo)("MlpPolicy", "Pendulum-v1", buffer_size=100, policy_kwargs={"net_arch": [8]})
    model.save(tmp_path / "det.zip")
    with pytest.raises(ExportError) as info:
        export_checkpoint(kind, tmp_path / "det.zip", tmp_path / "out")
    message = str(info.value)
    assert "deterministic" in message and "no log-prob" in message and "--noise-std" in message
    assert not (tmp_path / "out" / "prior.json").exists()


def test_wrong_kind_and_vecnormalize_are_refused(tmp_path: Path) -> None:
    dqn = sb3.DQN("MlpPolicy", "CartPole-v1", buffer_size=100, policy_kwargs={"net_arch": [8]})
    dqn.save(tmp_path / "dqn.zip")
    with pytest.raises(ExportError, match="use --kind sb3-dqn"):
        export_checkpoint("sb3-sac", tmp_path / "dqn.zip", tmp_path / "o1")
    a2c = sb3.A2C("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": [8]})
    a2c.save(tmp_path / "a2c.zip")
    with pytest.raises(ExportError, match="use --kind sb3-a2c"):
        export_checkpoint("sb3-ppo", tmp_path / "a2c.zip", tmp_path / "o2")
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    venv = VecNormalize(DummyVecEnv([lambda: gymnasium.make("CartPole-v1")]))
    venv.save(str(tmp_path / "vecnormalize.pkl"))
    with pytest.raises(ExportError, match="VecNormalize is not supported"):
        export_checkpoint("sb3-ppo", tmp_path / "vecnormalize.pkl", tmp_path / "o3")


def write_zip(path: Path, state_dict: dict[str, torch.Tensor], data: dict[str, Any], version: str = "1.7.0") -> Path:
    buf = io.BytesIO()
    torch.save(state_dict, buf)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data", json.dumps(data))
        zf.writestr("policy.pth", buf.getvalue())
        zf.writestr("_stable_baselines3_version", version)
    return path


def test_cnn_features_extractors_are_refused(tmp_path: Path) -> None:
    model = _ppo("CartPole-v1", 0, policy_kwargs={"net_arch": [8]})
    model.save(tmp_path / "ppo.zip")
    with zipfile.ZipFile(tmp_path / "ppo.zip") as zf:
        data = json.loads(zf.read("data"))
        sd = torch.load(io.BytesIO(zf.read("policy.pth")), weights_only=True)
    sd["features_extractor.cnn.0.weight"] = torch.zeros(8, 4, 3, 3)
    write_zip(tmp_path / "cnn.zip", sd, data, "2.9.0")
    with pytest.raises(ExportError, match="features extractor with parameters"):
        export_checkpoint("sb3-ppo", tmp_path / "cnn.zip", tmp_path / "out")


# ---------------------------------------------------------------------------------------------
# The RQL reference code's SB3-1.7 zips (synthetic: same key layout, gym spaces in the data file)
# ---------------------------------------------------------------------------------------------

_FAKE_PICKLE = base64.b64encode(b"\x80\x02crql_reference.policies\nCustomPolicy\nq\x00.").decode()


def gym_box(shape: list[int], low: str, high: str) -> dict[str, Any]:
    return {":type:": "<class 'gym.spaces.box.Box'>", ":serialized:": _FAKE_PICKLE, "dtype": "float32",
            "_shape": shape, "low": low, "high": high, "bounded_below": "[ True]", "_np_random": None}  # fmt: skip


def reference_data(obs: dict[str, Any], act: dict[str, Any]) -> dict[str, Any]:
    return {
        "policy_class": {
            ":type:": "<class 'abc.ABCMeta'>",
            ":serialized:": _FAKE_PICKLE,
            "__module__": "rql_reference.policies",
        },
        "observation_space": obs,
        "action_space": act,
        "policy_kwargs": {":type:": "<class 'dict'>", ":serialized:": _FAKE_PICKLE},
    }


def init_linear(gen: torch.Generator, out_f: int, in_f: int) -> tuple[torch.Tensor, torch.Tensor]:
    bound = 1 / math.sqrt(in_f)
    return (torch.rand(out_f, in_f, generator=gen) * 2 - 1) * bound, (torch.rand(out_f, generator=gen) * 2 - 1) * bound


def test_rql_reference_softdqn(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(11)
    sd: dict[str, torch.Tensor] = {}
    for i, (o, n_in) in zip((0, 2, 4), [(256, 4), (256, 256), (2, 256)], strict=True):
        sd[f"q_net.q_net.{i}.weight"], sd[f"q_net.q_net.{i}.bias"] = init_linear(gen, o, n_in)
        sd[f"q_net_target.q_net.{i}.weight"], sd[f"q_net_target.q_net.{i}.bias"] = init_linear(gen, o, n_in)
    obs_space = gym_box(
        [4], "[-4.8               -inf -0.41887903        -inf]", "[4.8               inf 0.41887903        inf]"
    )
    act_space = {":type:": "<class 'gym.spaces.discrete.Discrete'>", ":serialized:": _FAKE_PICKLE, "n": 2,
                 "shape": [], "dtype": "int64", "_np_random": None}  # fmt: skip
    path = write_zip(tmp_path / "softdqn.zip", sd, reference_data(obs_space, act_space))
    prior = load_prior_package(export_checkpoint("rql-ref-softdqn", path, tmp_path / "p"))
    assert prior.sidecar["temperature"] == 1.0 and prior.sidecar["source"]["kind"] == "rql-ref-softdqn"
    assert prior.observation_space == gymnasium.make("CartPole-v1").observation_space
    obs = random_obs(4, 12)
    x = obs.double()
    w = {k: v.double() for k, v in sd.items()}
    h = F.relu(F.linear(x, w["q_net.q_net.0.weight"], w["q_net.q_net.0.bias"]))
    h = F.relu(F.linear(h, w["q_net.q_net.2.weight"], w["q_net.q_net.2.bias"]))
    q = F.linear(h, w["q_net.q_net.4.weight"], w["q_net.q_net.4.bias"])
    check_categorical(prior, torch.log_softmax(q, dim=1), obs)
    # Another layout is refused with the layout it expected.
    del sd["q_net.q_net.4.weight"]
    bad = write_zip(tmp_path / "bad.zip", sd, reference_data(obs_space, act_space))
    with pytest.raises(ExportError, match=r"q_net\.q_net\.\{0,2,4\}"):
        export_checkpoint("rql-ref-softdqn", bad, tmp_path / "bad")


def test_rql_reference_sac(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(13)
    sd: dict[str, torch.Tensor] = {}
    sd["actor.latent_pi.0.weight"], sd["actor.latent_pi.0.bias"] = init_linear(gen, 256, 3)
    sd["actor.latent_pi.2.weight"], sd["actor.latent_pi.2.bias"] = init_linear(gen, 256, 256)
    sd["actor.mu.0.weight"], sd["actor.mu.0.bias"] = init_linear(gen, 1, 256)
    sd["actor.mu.0.weight"] *= 20  # so that Hardtanh(+-2) clips some means
    sd["actor.log_std"] = torch.randn(256, 1, generator=gen) * 0.5 - 2.0
    sd["critic.qf0.0.weight"], sd["critic.qf0.0.bias"] = init_linear(gen, 256, 4)
    obs_space = gym_box([3], "[-1. -1. -8.]", "[1. 1. 8.]")
    act_space = gym_box([1], "[-2.]", "[2.]")
    path = write_zip(tmp_path / "sac.zip", sd, reference_data(obs_space, act_space))
    prior = load_prior_package(export_checkpoint("rql-ref-sac", path, tmp_path / "p"))
    assert prior.distribution == "squashed_gaussian"
    assert prior.sidecar["action_scaling"] == {"kind": "tanh_to_box", "low": [-2.0], "high": [2.0]}
    obs = random_obs(3, 14)
    x, w = obs.double(), {k: v.double() for k, v in sd.items()}
    h = F.relu(F.linear(x, w["actor.latent_pi.0.weight"], w["actor.latent_pi.0.bias"]))
    h = F.relu(F.linear(h, w["actor.latent_pi.2.weight"], w["actor.latent_pi.2.bias"]))
    mean = torch.clamp(F.linear(h, w["actor.mu.0.weight"], w["actor.mu.0.bias"]), -2, 2)
    sigma = torch.sqrt((h**2) @ torch.exp(w["actor.log_std"]) ** 2 + 1e-6)
    assert (mean.abs() == 2).any() and (mean.abs() < 2).any()
    got_mean, got_log_std = prior.distribution_params(obs)
    assert_close(got_mean, mean, rtol=1e-5)
    assert_close(got_log_std, sigma.log(), rtol=1e-5)
    a = squashed_actions(1, 15).double()
    u = torch.atanh(a)
    expected = torch.distributions.Normal(mean, sigma).log_prob(u).sum(1) - torch.log(1 - a**2 + 1e-6).sum(1)
    assert_close(prior.log_prob(obs, a.float()), expected, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Plain torch modules
# ---------------------------------------------------------------------------------------------


class GaussianActor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 16), nn.Tanh())
        self.mu = nn.Linear(16, 1)
        self.log_std = nn.Linear(16, 1)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(obs)
        return self.mu(h), self.log_std(h).clamp(-5, 1)


class Actor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return 2 * torch.tanh(self.lin(obs))


def test_torch_module_scripted_file(tmp_path: Path) -> None:
    torch.manual_seed(16)
    module = GaussianActor().eval()
    torch.jit.save(torch.jit.script(module), str(tmp_path / "actor.pt"))
    prior = load_prior_package(
        export_checkpoint(
            "torch-module",
            tmp_path / "actor.pt",
            tmp_path / "p",
            env_id="Pendulum-v1",
            distribution="squashed_gaussian",
        )
    )
    obs = random_obs(3, 17)
    with torch.no_grad():
        mean, log_std = module(obs)
    got = prior.distribution_params(obs)
    assert_close(got[0], mean)
    assert_close(got[1], log_std)
    a = squashed_actions(1, 18)
    dist = SquashedDiagGaussianDistribution(1).proba_distribution(mean.double(), log_std.double())
    assert_close(prior.log_prob(obs, a), dist.log_prob(a.double()))


def test_torch_module_class_and_state_dict(tmp_path: Path) -> None:
    from rql4j_bridge.prior.modules import MLP

    torch.manual_seed(19)
    net = MLP([4, 16, 2], activation="Tanh")
    torch.save(net.state_dict(), tmp_path / "bc.pt")
    prior = load_prior_package(
        export_checkpoint(
            "torch-module",
            tmp_path / "bc.pt",
            tmp_path / "p",
            env_id="CartPole-v1",
            module_class="rql4j_bridge.prior.modules:MLP",
            module_kwargs={"sizes": [4, 16, 2], "activation": "Tanh"},
            distribution="logits",
        )
    )
    obs = random_obs(4, 20)
    with torch.no_grad():
        check_categorical(prior, torch.log_softmax(net(obs), dim=1), obs)
    with pytest.raises(ExportError, match="does not fit"):
        export_checkpoint("torch-module", tmp_path / "bc.pt", tmp_path / "x", env_id="CartPole-v1",
                          module_class="rql4j_bridge.prior.modules:MLP", module_kwargs={"sizes": [4, 8, 2]},
                          distribution="logits")  # fmt: skip


def test_deterministic_module_needs_an_explicit_noise_model(tmp_path: Path) -> None:
    torch.manual_seed(21)
    actor = Actor().eval()
    torch.jit.save(torch.jit.script(actor), str(tmp_path / "actor.pt"))
    for distribution in ("diag_gaussian", "squashed_gaussian"):
        with pytest.raises(ExportError, match="deterministic and has no log-prob"):
            export_checkpoint(
                "torch-module", tmp_path / "actor.pt", tmp_path / "o", env_id="Pendulum-v1", distribution=distribution
            )
    with pytest.raises(ExportError, match="--noise-std"):
        export_checkpoint(
            "torch-module", tmp_path / "actor.pt", tmp_path / "o", env_id="Pendulum-v1", distribution="action"
        )
    prior = load_prior_package(
        export_checkpoint(
            "torch-module",
            tmp_path / "actor.pt",
            tmp_path / "p",
            env_id="Pendulum-v1",
            distribution="action",
            noise_std=0.5,
        )  # fmt: skip
    )
    assert prior.distribution == "diag_gaussian"
    obs = random_obs(3, 22)
    mean, log_std = prior.distribution_params(obs)
    with torch.no_grad():
        assert_close(mean, actor(obs))
    assert_close(log_std, np.full((N, 1), math.log(0.5)))


def test_torch_module_refusals(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ExportError, match="not a TorchScript file"):
        export_checkpoint(
            "torch-module", tmp_path / "junk.pt", tmp_path / "o", env_id="CartPole-v1", distribution="logits"
        )
    with pytest.raises(ExportError, match="needs --env-id"):
        export_checkpoint("torch-module", tmp_path / "junk.pt", tmp_path / "o", distribution="logits")
    with pytest.raises(ExportError, match="needs --distribution"):
        export_checkpoint("torch-module", tmp_path / "junk.pt", tmp_path / "o", env_id="CartPole-v1")
    with pytest.raises(ExportError, match="does not exist"):
        export_checkpoint("sb3-ppo", tmp_path / "missing.zip", tmp_path / "o")


# ---------------------------------------------------------------------------------------------
# The command line, as a subprocess
# ---------------------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rql4j_bridge", "export", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_export_end_to_end(tmp_path: Path) -> None:
    model = sb3.SAC("MlpPolicy", "Pendulum-v1", buffer_size=100, use_sde=True, policy_kwargs={"net_arch": [16]}, seed=6)
    model.save(tmp_path / "sac.zip")
    td3 = sb3.TD3("MlpPolicy", "Pendulum-v1", buffer_size=100, policy_kwargs={"net_arch": [8]})
    td3.save(tmp_path / "td3.zip")
    result = run_cli("--kind", "sb3-sac", "--checkpoint", str(tmp_path / "sac.zip"), "--out", str(tmp_path / "pkg"),
                     "--name", "pendulum-sac", "--seed", "3", "--env-id", "Pendulum-v1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("exported sb3-sac") and result.stdout.count("\n") == 1
    prior = load_prior_package(tmp_path / "pkg")
    assert prior.name == "pendulum-sac"
    assert prior.sidecar["made_by"]["command"].startswith("rql4j-bridge export --kind sb3-sac --checkpoint")
    assert prior.sidecar["made_by"]["seed"] == 3
    obs = random_obs(3, 23)
    mean, log_std, kwargs = model.actor.get_action_dist_params(obs)
    check_gaussian(
        prior, model.actor.action_dist.proba_distribution(mean, log_std, **kwargs), obs, squashed_actions(1, 24)
    )

    refused = run_cli("--kind", "sb3-sac", "--checkpoint", str(tmp_path / "td3.zip"), "--out", str(tmp_path / "no"))
    assert refused.returncode == 1 and "deterministic" in refused.stderr and not refused.stdout
    bad_args = run_cli("--kind", "sb3-sac", "--checkpoint", str(tmp_path / "sac.zip"), "--out", str(tmp_path / "no"),
                       "--env-kwargs", "{not json")  # fmt: skip
    assert bad_args.returncode == 2 and "--env-kwargs is not valid JSON" in bad_args.stderr


def test_cli_export_knows_rql4j_task_ids_and_imports_user_modules(tmp_path: Path) -> None:
    model = sb3.SAC("MlpPolicy", "MountainCarContinuous-v0", buffer_size=100, policy_kwargs={"net_arch": [8]}, seed=1)
    model.save(tmp_path / "sac.zip")
    ok = run_cli("--kind", "sb3-sac", "--checkpoint", str(tmp_path / "sac.zip"), "--out", str(tmp_path / "pkg"),
                 "--env-id", "rql4j/mountaincar-lessleft-basic-v0")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "rql4j_test_export_tasks.py").write_text(
        "from rql4j_bridge.tasks import register_task\n"
        "def bonus(obs, action, next_obs, reward, terminated, truncated, info):\n    return 0.0\n"
        "register_task('rql4j-test-export/mc', 'MountainCarContinuous-v0', bonus)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    user = subprocess.run(
        [sys.executable, "-m", "rql4j_bridge", "export", "--kind", "sb3-sac", "--checkpoint", str(tmp_path / "sac.zip"),
         "--out", str(tmp_path / "pkg2"), "--import", "rql4j_test_export_tasks", "--env-id",
         "rql4j-test-export/mc-total-v0"], capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert user.returncode == 0, user.stderr
    missing = run_cli("--kind", "sb3-sac", "--checkpoint", str(tmp_path / "sac.zip"), "--out", str(tmp_path / "no"),
                      "--import", "rql4j_no_such_module", "--env-id", "Pendulum-v1")  # fmt: skip
    assert missing.returncode == 2 and not (tmp_path / "no").exists()
    assert "--import rql4j_no_such_module failed" in missing.stderr and "PYTHONPATH" in missing.stderr
