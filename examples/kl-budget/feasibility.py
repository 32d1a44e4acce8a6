"""Can a user task's row succeed at all? Train the prior's own algorithm on basic + lambda * add-on.

A row of the KL-budget table succeeds when the customized policy's add-on return beats the prior's by
more than the prior's episode std while its basic return stays within 5 % of the prior's. Whether any
policy does that depends on the task, not on rql4j: an add-on that fights the basic reward may leave no
such policy. This script is the check a task passes before it goes into the table: it trains, with the
same SB3 algorithm, hyperparameters, env steps and seed as the prior (``train_priors.py``), a policy on
the env reward plus ``lambda`` times the add-on (an oracle that knows both rewards, which rql4j does
not), evaluates it as the table does (20 deterministic episodes, reset seeds 10000..10019), and prints
both returns beside the prior's and whether they meet the row's conditions. A task whose oracle meets
them is feasible; one whose oracles do not (at several lambdas) most likely has no policy that does.

Usage, from this folder (about 5-10 minutes per run on one core)::

    OMP_NUM_THREADS=1 ../../.venv/bin/python feasibility.py pendulum kl_tasks:pendulum_quiet_top 1

The prior's returns are read from its package in ``../priors`` (played here on the same seeds).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_priors as tp  # noqa: E402

PACKAGES = {  # train_priors.py's name: the prior package in ../priors
    "acrobot": "acrobot-lessleft-dqn",
    "pendulum": "pendulum-lowtorque-sac",
    "mountaincar": "mountaincar-v0-dqn",
    "invpendulum": "invertedpendulum-sac",
    "cartpole": "cartpole-v1-ppo",
    "cartpole-dqn": "cartpole-v1-dqn",
}
TASKS = {  # name: (env id, SB3 algorithm, its hyperparameters, env steps, prior package, the prior's seed)
    name: (*tp.PRIORS[name][:4], package, tp.prior_seed(name)) for name, package in PACKAGES.items()
}


class WithAddon(gym.Wrapper):
    """The env's reward plus ``lam`` times the add-on (called as rql4j calls it, after every step)."""

    def __init__(self, env: gym.Env, addon, lam: float) -> None:
        super().__init__(env)
        self.addon, self.lam, self.obs = addon, lam, None

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.obs = obs
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        extra = self.addon(self.obs, action, obs, reward, terminated, truncated, info)
        self.obs = obs
        return obs, reward + self.lam * extra, terminated, truncated, info


def returns(act, env_id: str, addon) -> tuple[list[float], list[float]]:
    """Basic and add-on returns of ``act(obs)`` over the table's 20 deterministic episodes."""
    env = gym.make(env_id)
    basic, extra = [], []
    for seed in tp.EVAL_SEEDS:
        obs, _ = env.reset(seed=seed)
        b = a = 0.0
        done = False
        while not done:
            action = act(obs)
            nxt, reward, terminated, truncated, info = env.step(action)
            b += float(reward)
            a += float(addon(obs, action, nxt, reward, terminated, truncated, info))
            obs, done = nxt, terminated or truncated
        basic.append(b)
        extra.append(a)
    env.close()
    return basic, extra


def prior_act(package_dir: Path):
    from rql4j_bridge.prior.package import load_prior_package

    package = load_prior_package(package_dir)

    def act(obs):
        out = package.forward(np.asarray(obs, dtype=np.float32)[None])
        if package.is_categorical:
            return int(out[0].reshape(-1).argmax())
        low, high = package.action_space.low, package.action_space.high
        return (low + (np.tanh(out[0].numpy()[0]) + 1) * (high - low) / 2).astype(np.float32)

    return act


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("addon", help="MODULE:FUNCTION, e.g. kl_tasks:pendulum_quiet_top")
    parser.add_argument("lam", type=float, help="the add-on's weight in the oracle's reward")
    args = parser.parse_args()
    torch.set_num_threads(1)
    env_id, algo, kwargs, steps, package, seed = TASKS[args.task]
    module, _, function = args.addon.partition(":")
    addon = getattr(importlib.import_module(module), function)
    pb, pa = returns(prior_act(Path(__file__).resolve().parents[1] / "priors" / package), env_id, addon)
    torch.manual_seed(seed)
    model = tp.make_model(algo, kwargs, lambda: WithAddon(gym.make(env_id), addon, args.lam), seed)
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    wall = time.perf_counter() - start
    ob, oa = returns(lambda o: model.predict(o, deterministic=True)[0], env_id, addon)
    better = np.mean(oa) - np.mean(pa) > np.std(pa)
    kept = abs(np.mean(ob) - np.mean(pb)) <= 0.05 * abs(np.mean(pb))
    print(f"{args.task} {args.addon} lambda {args.lam:g}: prior basic {np.mean(pb):.1f} / add-on {np.mean(pa):.2f} "
          f"+- {np.std(pa):.2f}; oracle ({algo.__name__}, {steps} env steps, {wall:.0f} s) basic {np.mean(ob):.1f} "
          f"({(np.mean(ob) - np.mean(pb)) / abs(np.mean(pb)) * 100:+.1f} %) / add-on {np.mean(oa):.2f}: add-on better "
          f"by > prior std: {'yes' if better else 'no'}; basic within 5 %: {'yes' if kept else 'no'}", flush=True)


if __name__ == "__main__":
    main()
