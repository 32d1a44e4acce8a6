"""In-process baseline for the bridge benchmark: gymnasium's SyncVectorEnv stepped from Python.

Usage: bench_inprocess.py --env-id CartPole-v1 --num-envs 1 8 64 --steps 2000 --warmup 200 --seed 0
Prints one JSON object: {"<num_envs>": {"median_us": ..., "p90_us": ..., "env_steps_per_s": ...}}.
Random actions from a seeded numpy generator; SAME_STEP autoreset, as the bridge benchmark uses.
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv


def bench(env_id: str, num_envs: int, steps: int, warmup: int, seed: int) -> dict[str, float]:
    env = SyncVectorEnv([lambda: gym.make(env_id) for _ in range(num_envs)],
                        autoreset_mode=AutoresetMode.SAME_STEP)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, env.single_action_space.n, size=(warmup + steps, num_envs))
    times = np.empty(steps)
    for t in range(warmup + steps):
        t0 = time.perf_counter_ns()
        env.step(actions[t])
        if t >= warmup:
            times[t - warmup] = time.perf_counter_ns() - t0
    env.close()
    return {
        "median_us": float(np.median(times) / 1e3),
        "p90_us": float(np.percentile(times, 90) / 1e3),
        "env_steps_per_s": float(num_envs * steps / (times.sum() / 1e9)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env-id", default="CartPole-v1")
    p.add_argument("--num-envs", type=int, nargs="+", default=[1, 8, 64])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(json.dumps({str(n): bench(a.env_id, n, a.steps, a.warmup, a.seed) for n in a.num_envs}))


if __name__ == "__main__":
    main()
