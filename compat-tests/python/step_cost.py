"""The Python side of the step-cost benchmark (StepCostBenchmark): what one env step and one prior query cost in
Python, in-process. Prints one JSON object of medians in microseconds.

Usage: step_cost.py --prior examples/priors/cartpole-center-softdqn [--steps 5000] [--rounds 3]

- ``server_step_<env>``: the env server's own step handler (decode the action, step the env, encode the
  reply; no transport) on one copy, as the step socket calls it, for CartPole-v1 and the cartpole-center
  task env (which adds the task's reward and two info columns).
- ``gym_step_<env>``: ``env.step`` of the plain Gymnasium env, for what the handler adds.
- ``prior_query``: the compact PyTorch reference's prior call (``as_tensor``, the TorchScript module,
  ``.numpy()``) on one observation, with torch's defaults; ``prior_query_no_optimizer``: the same with the
  graph executor's optimization off (``torch.jit.optimized_execution(False)``), as DJL runs it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import rql4j_bridge.tasks  # noqa: F401  (registers rql4j/cartpole-center-*)
from rql4j_bridge.env_server import EnvServicer
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.tensors import to_value

ENVS = {"cartpole": "CartPole-v1", "task": "rql4j/cartpole-center-addon-v0"}


def per_call_us(fn, calls: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - t0) / calls / 1e3


def server_step(env_id: str, steps: int) -> float:
    servicer = EnvServicer()
    try:
        made = servicer.Make(pb.MakeRequest(env_id=env_id, num_envs=1), None)
        env = servicer._envs[made.env_handle]
        servicer.Reset(pb.ResetRequest(env_handle=made.env_handle, seeds=[0]), None)
        space = env.vec.action_space
        space.seed(0)
        requests = [pb.StepRequest(env_handle=made.env_handle, action=to_value(space.sample(), space))
                    for _ in range(steps)]  # fmt: skip
        it = iter(requests)
        return per_call_us(lambda: servicer._step(env, next(it)), steps)
    finally:
        servicer.close_all()


def gym_step(env_id: str, steps: int) -> float:
    env = gym.make(env_id)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 2, steps)
    it = iter(actions)

    def one() -> None:
        _, _, terminated, truncated, _ = env.step(int(next(it)))
        if terminated or truncated:
            env.reset()

    return per_call_us(one, steps)


def prior_query(prior: Path, calls: int, optimize: bool) -> float:
    import torch

    torch.set_num_threads(1)
    module = torch.jit.load(str(prior / "policy.pt")).eval()
    obs = np.zeros(4, dtype=np.float32)

    def one() -> None:  # the compact reference's log_prior (residual_soft_q_full_run.py)
        module(torch.as_tensor(obs, dtype=torch.float32).view(1, -1)).numpy()[0]

    with torch.no_grad(), torch.jit.optimized_execution(optimize):
        for _ in range(200):
            one()
        return per_call_us(one, calls)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prior", type=Path, required=True)
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    rounds: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, env_id in ENVS.items():
            rounds.setdefault(f"server_step_{name}", []).append(server_step(env_id, args.steps))
            rounds.setdefault(f"gym_step_{name}", []).append(gym_step(env_id, args.steps))
        rounds.setdefault("prior_query", []).append(prior_query(args.prior, args.steps, True))
        rounds.setdefault("prior_query_no_optimizer", []).append(prior_query(args.prior, args.steps, False))
    print(json.dumps({k: statistics.median(v) for k, v in rounds.items()}))


if __name__ == "__main__":
    main()
