#!/usr/bin/env python3
"""Prior-package fixtures for the Java compat tests: one real, seeded checkpoint per exporter kind.

Usage: make_prior_fixtures.py --out DIR [--seed 0] [--n 1000] [--existing NAME=PACKAGE@ENV_ID ...]

For each case below, the script makes a tiny checkpoint (a freshly initialised, seeded model whose
parameters are then moved by seeded noise -- no training: that changes nothing a prior needs),
exports it with ``rql4j-bridge export`` (in-process, through the CLI's own code path) to
``DIR/<case>/`` (prior.json + policy.pt), and writes ``DIR/<case>/reference.bin`` with
Python's answers for N recorded observations. The checkpoints themselves are kept in
``DIR/checkpoints/``. DIR is meant to live under target/ and is never committed.

Cases: sb3-dqn (CartPole-v1, T = 0.5), sb3-sac (Pendulum-v1), sb3-sac-sde (Pendulum-v1, gSDE),
sb3-ppo-discrete (CartPole-v1), sb3-ppo-continuous (MountainCarContinuous-v0), sb3-a2c
(Acrobot-v1, 3 actions), rql-ref-softdqn (synthetic SB3-1.7 zip, CartPole dims, 4-256-256-2),
rql-ref-sac (synthetic SB3-1.7 zip, Pendulum dims, 3-256-256-1 with gSDE), torch-module (a
scripted (mean, log_std) module for Pendulum-v1, exported as diag_gaussian). ``--existing``
adds already-made packages (the shipped BC and soft-DQN priors), observed on the given env id.

reference.bin: one line of UTF-8 JSON (the header) then the raw little-endian C-order bytes of the
arrays, as in reference_rollout.py. Header: ``{"format": "rql4j-prior-reference/1", "case": ...,
"kind": ..., "env_id": ..., "distribution": ..., "seed": S, "n": N, "arrays": [{"name", "dtype",
"shape", "offset", "nbytes"}, ...]}`` (``offset`` from the first payload byte). Arrays:

* ``observations`` float32 [N, obs_dim]: real env observations (a seeded rollout with random
  actions, ``reset(seed=S)`` then reset whenever an episode ends), already flat.
* categorical: ``log_probs_all`` float32 [N, n] (the module's output); ``actions`` int64 [N]
  (uniform over the Discrete, including its start); ``log_prob`` float64 [N] of those actions.
* Gaussians: ``mean`` float32 [N, d] and ``log_std`` float32 [N, d] (the module's outputs);
  ``actions`` float32 [N, d]; ``log_prob`` float64 [N] (the doc's formula in float64 on the
  float32 outputs). squashed_gaussian actions are normalized, uniform in [-0.99, 0.99] (inside
  (-1, 1), away from the ends where float32 loses the tanh correction's digits);
  diag_gaussian actions are uniform over the Box widened by 10% on each side.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import shutil
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium  # noqa: E402
import numpy as np  # noqa: E402
from raw_arrays import write_arrays  # noqa: E402  (beside this script)
import torch  # noqa: E402
from torch import nn  # noqa: E402

from rql4j_bridge import cli  # noqa: E402
from rql4j_bridge.prior.package import PriorPackage, load_prior_package, quiet_jit  # noqa: E402

FORMAT = "rql4j-prior-reference/1"


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------


def perturb(module: nn.Module, seed: int, scale: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)


def sb3_checkpoint(algo: str, env_id: str, seed: int, path: Path, **kwargs: Any) -> None:
    import stable_baselines3 as sb3

    use_sde = kwargs.pop("use_sde", False)
    cls = getattr(sb3, algo)
    if algo in ("DQN", "SAC"):
        kwargs["buffer_size"] = 1000
    if use_sde:
        kwargs["use_sde"] = True
    model = cls("MlpPolicy", env_id, seed=seed, device="cpu", **kwargs)
    perturb(model.policy, seed, 0.1)
    if use_sde:  # SB3 starts gSDE at log_std -3; move it to where sigma is O(0.1 .. 1)
        with torch.no_grad():
            log_std = model.actor.log_std
            log_std.copy_(torch.randn(log_std.shape, generator=torch.Generator().manual_seed(seed + 1)) * 0.5 - 1.0)
    model.save(path)


_FAKE_PICKLE = base64.b64encode(b"\x80\x02crql_reference.policies\nCustomPolicy\nq\x00.").decode()


def _gym_space(kind: str, **fields: Any) -> dict[str, Any]:
    return {":type:": f"<class 'gym.spaces.{kind.lower()}.{kind}'>", ":serialized:": _FAKE_PICKLE, **fields}


def _linear(gen: torch.Generator, out_f: int, in_f: int) -> tuple[torch.Tensor, torch.Tensor]:
    bound = in_f**-0.5
    return (torch.rand(out_f, in_f, generator=gen) * 2 - 1) * bound, (torch.rand(out_f, generator=gen) * 2 - 1) * bound


def reference_zip(path: Path, state_dict: dict[str, torch.Tensor], obs: dict[str, Any], act: dict[str, Any]) -> None:
    """A zip with the RQL reference code's SB3-1.7 layout: policy.pth (state dict) + a data file whose
    spaces are gym (not gymnasium) objects, readable only through their printed attributes."""
    data = {
        "policy_class": {
            ":type:": "<class 'abc.ABCMeta'>",
            ":serialized:": _FAKE_PICKLE,
            "__module__": "rql_reference.policies",
        },
        "observation_space": obs,
        "action_space": act,
    }
    buf = io.BytesIO()
    torch.save(state_dict, buf)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data", json.dumps(data, indent=4))
        zf.writestr("policy.pth", buf.getvalue())
        zf.writestr("_stable_baselines3_version", "1.7.0")


def rql_softdqn_checkpoint(seed: int, path: Path) -> None:
    gen = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    for net in ("q_net", "q_net_target"):
        for i, (o, n_in) in zip((0, 2, 4), [(256, 4), (256, 256), (2, 256)], strict=True):
            sd[f"{net}.q_net.{i}.weight"], sd[f"{net}.q_net.{i}.bias"] = _linear(gen, o, n_in)
    obs = _gym_space("Box", dtype="float32", _shape=[4], low="[-4.8               -inf -0.41887903        -inf]",
                     high="[4.8               inf 0.41887903        inf]")  # fmt: skip
    act = _gym_space("Discrete", n=2, shape=[], dtype="int64")
    reference_zip(path, sd, obs, act)


def rql_sac_checkpoint(seed: int, path: Path) -> None:
    gen = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    sd["actor.latent_pi.0.weight"], sd["actor.latent_pi.0.bias"] = _linear(gen, 256, 3)
    sd["actor.latent_pi.2.weight"], sd["actor.latent_pi.2.bias"] = _linear(gen, 256, 256)
    sd["actor.mu.0.weight"], sd["actor.mu.0.bias"] = _linear(gen, 1, 256)
    sd["actor.mu.0.weight"] *= 20  # some means reach the Hardtanh(+-2) clip
    sd["actor.log_std"] = torch.randn(256, 1, generator=gen) * 0.5 - 2.0
    for q in ("qf0", "qf1"):
        sd[f"critic.{q}.0.weight"], sd[f"critic.{q}.0.bias"] = _linear(gen, 256, 4)
    obs = _gym_space("Box", dtype="float32", _shape=[3], low="[-1. -1. -8.]", high="[1. 1. 8.]")
    act = _gym_space("Box", dtype="float32", _shape=[1], low="[-2.]", high="[2.]")
    reference_zip(path, sd, obs, act)


class GaussianModule(nn.Module):
    """A small (mean, log_std) policy, as a behaviour-cloning script might train one."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh())
        self.mean = nn.Linear(32, 1)
        self.log_std = nn.Linear(32, 1)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(obs)
        return self.mean(h), torch.clamp(self.log_std(h), -3.0, 1.0)


def torch_module_checkpoint(seed: int, path: Path) -> None:
    torch.manual_seed(seed)
    module = GaussianModule().eval()
    perturb(module, seed, 0.1)
    with quiet_jit():
        torch.jit.save(torch.jit.script(module), str(path))


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

Case = dict[str, Any]


def cases() -> list[Case]:
    def sb3(algo: str, env_id: str, **kw: Any) -> Callable[[int, Path], None]:
        return lambda seed, path: sb3_checkpoint(algo, env_id, seed, path, **kw)

    return [
        {"case": "sb3-dqn", "kind": "sb3-dqn", "env": "CartPole-v1", "ext": "zip", "args": ["--temperature", "0.5"],
         "make": sb3("DQN", "CartPole-v1", policy_kwargs={"net_arch": [64, 64]})},
        {"case": "sb3-sac", "kind": "sb3-sac", "env": "Pendulum-v1", "ext": "zip", "args": [],
         "make": sb3("SAC", "Pendulum-v1", policy_kwargs={"net_arch": [64, 64]})},
        {"case": "sb3-sac-sde", "kind": "sb3-sac", "env": "Pendulum-v1", "ext": "zip", "args": [],
         "make": sb3("SAC", "Pendulum-v1", use_sde=True, policy_kwargs={"net_arch": [64, 64]})},
        {"case": "sb3-ppo-discrete", "kind": "sb3-ppo", "env": "CartPole-v1", "ext": "zip", "args": [],
         "make": sb3("PPO", "CartPole-v1", n_steps=64, batch_size=64)},
        {"case": "sb3-ppo-continuous", "kind": "sb3-ppo", "env": "MountainCarContinuous-v0", "ext": "zip", "args": [],
         "make": sb3("PPO", "MountainCarContinuous-v0", n_steps=64, batch_size=64,
                     policy_kwargs={"net_arch": [32, 32], "activation_fn": nn.ReLU})},
        {"case": "sb3-a2c", "kind": "sb3-a2c", "env": "Acrobot-v1", "ext": "zip", "args": [],
         "make": sb3("A2C", "Acrobot-v1", policy_kwargs={"net_arch": [32, 32]})},
        {"case": "rql-ref-softdqn", "kind": "rql-ref-softdqn", "env": "CartPole-v1", "ext": "zip", "args": [],
         "make": rql_softdqn_checkpoint},
        {"case": "rql-ref-sac", "kind": "rql-ref-sac", "env": "Pendulum-v1", "ext": "zip", "args": [],
         "make": rql_sac_checkpoint},
        {"case": "torch-module", "kind": "torch-module", "env": "Pendulum-v1", "ext": "pt",
         "args": ["--env-id", "Pendulum-v1", "--distribution", "diag_gaussian"], "make": torch_module_checkpoint},
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Reference answers
# ---------------------------------------------------------------------------------------------


def rollout_observations(prior: PriorPackage, env_id: str, n: int, seed: int) -> np.ndarray:
    env = gymnasium.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows = []
    for _ in range(n):
        rows.append(obs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return prior.flatten_observations(rows)


def reference_arrays(prior: PriorPackage, obs: np.ndarray, seed: int) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed + 1000)
    n = obs.shape[0]
    if prior.distribution == "categorical":
        start = int(prior.action_space.start)  # type: ignore[attr-defined]
        actions = rng.integers(start, start + prior.action_dim, n).astype(np.int64)
        return [
            ("observations", obs),
            ("log_probs_all", prior.log_probs_all(obs)),
            ("actions", actions),
            ("log_prob", prior.log_prob(obs, actions)),
        ]
    mean, log_std = prior.distribution_params(obs)
    if prior.distribution == "squashed_gaussian":
        actions = rng.uniform(-0.99, 0.99, (n, prior.action_dim)).astype(np.float32)
    else:
        low = np.asarray(prior.action_space.low, np.float64).ravel()  # type: ignore[attr-defined]
        high = np.asarray(prior.action_space.high, np.float64).ravel()  # type: ignore[attr-defined]
        width = high - low
        actions = rng.uniform(low - 0.1 * width, high + 0.1 * width, (n, prior.action_dim)).astype(np.float32)
    return [
        ("observations", obs),
        ("mean", mean),
        ("log_std", log_std),
        ("actions", actions),
        ("log_prob", prior.log_prob(obs, actions)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the fixtures folder (under target/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=1000, help="observations per case (default 1000)")
    parser.add_argument("--only", nargs="*", help="make only these cases")
    parser.add_argument(
        "--existing",
        nargs="*",
        default=[],
        metavar="NAME=PACKAGE@ENV_ID",
        help="also reference existing packages (e.g. the shipped priors): copied to DIR/NAME, observations from ENV_ID",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out: Path = args.out
    checkpoints = out / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    summary = {}
    for i, case in enumerate(cases()):
        if args.only and case["case"] not in args.only:
            continue
        seed = args.seed + i
        torch.manual_seed(seed)
        checkpoint = checkpoints / f"{case['case']}.{case['ext']}"
        case["make"](seed, checkpoint)
        package = out / case["case"]
        with contextlib.redirect_stdout(sys.stderr):  # stdout: only the JSON summary
            code = cli.main(
                ["export", "--kind", case["kind"], "--checkpoint", str(checkpoint), "--out", str(package),
                 "--name", case["case"], "--seed", str(seed), *case["args"]]
            )  # fmt: skip
        if code != 0:
            print(f"export of {case['case']} failed (exit {code})", file=sys.stderr)
            return 1
        prior = load_prior_package(package)
        obs = rollout_observations(prior, case["env"], args.n, seed)
        arrays = reference_arrays(prior, obs, seed)
        meta = {"case": case["case"], "kind": case["kind"], "env_id": case["env"], "distribution": prior.distribution,
                "seed": seed, "n": args.n}  # fmt: skip
        write_arrays(package / "reference.bin", FORMAT, meta, arrays)
        log_prob = dict(arrays)["log_prob"]
        summary[case["case"]] = {
            "distribution": prior.distribution,
            "arrays": [name for name, _ in arrays],
            "log_prob_range": [float(log_prob.min()), float(log_prob.max())],
        }
    for spec in args.existing:
        name, _, rest = spec.partition("=")
        source, _, env_id = rest.partition("@")
        if not (name and source and env_id):
            parser.error(f"--existing takes NAME=PACKAGE@ENV_ID, got {spec!r}")
        import rql4j_bridge.tasks  # noqa: F401  (registers the task env ids)

        package = out / name
        shutil.rmtree(package, ignore_errors=True)
        shutil.copytree(source, package)
        prior = load_prior_package(package)
        obs = rollout_observations(prior, env_id, args.n, args.seed)
        arrays = reference_arrays(prior, obs, args.seed)
        meta = {"case": name, "kind": "existing", "env_id": env_id, "distribution": prior.distribution,
                "seed": args.seed, "n": args.n}  # fmt: skip
        write_arrays(package / "reference.bin", FORMAT, meta, arrays)
        summary[name] = {"distribution": prior.distribution, "arrays": [n for n, _ in arrays]}
    summary["seconds"] = round(time.perf_counter() - started, 1)  # type: ignore[assignment]
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
