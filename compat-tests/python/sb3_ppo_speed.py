"""SB3's PPO in-process on a MuJoCo task, timed (the Python side of `make bench-ppo`; not a test).

The same settings as rql4j's `ResidualPpoConfig.mujoco()` (and the shipped PPO priors): 4 DummyVecEnv
copies of 512 steps per rollout, minibatch 64, 10 epochs, lr 3e-4, gamma 0.99, GAE 0.95, clip 0.2,
[64, 64] Tanh, rewards scaled by VecNormalize (observations raw), torch on one thread. Prints and
writes a JSON with env steps/s of the whole `learn` call (collection and updates).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--env", default="rql4j/halfcheetah-speedcap-total-v0")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    torch.set_num_threads(1)
    import rql4j_bridge.tasks  # noqa: F401  (registers the task ids)
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    venv = VecNormalize(
        make_vec_env(args.env, n_envs=4, seed=args.seed),
        norm_obs=False,
        norm_reward=True,
    )
    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=512,
        batch_size=64,
        n_epochs=10,
        learning_rate=3e-4,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        policy_kwargs={"net_arch": [64, 64]},
        seed=args.seed,
        device="cpu",
    )
    t0 = time.perf_counter()
    model.learn(total_timesteps=args.steps)
    wall = time.perf_counter() - t0
    import stable_baselines3

    out = {
        "implementation": f"SB3 {stable_baselines3.__version__} PPO, torch {torch.__version__} (env in-process)",
        "env": args.env,
        "env_steps": int(model.num_timesteps),
        "train_seconds": wall,
        "steps_per_second": model.num_timesteps / wall,
    }
    print(json.dumps(out, indent=2))
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
