"""A full residual soft-Q customization run in PyTorch: the speed reference for the Java learner.

Usage: residual_soft_q_full_run.py --prior DIR [--task cartpole-center] [--steps 100000] [--seed 0]
       [--eval-episodes 20] [--out RESULT.json]

The same run as ``rql4j customize --task cartpole-center`` (docs/tasks.md's CartPole reference
schedule, Algorithm 1 of docs/method.md), written compactly in PyTorch with the env in-process (no
bridge): evaluate the prior on the total variant, train a residual Q network on the add-on variant
with the prior's log-probs stored once per transition, evaluate the customized policy. The update
is residual_soft_q_reference.py's (the compat tests check the Java update against it); the loop
mirrors org.rql4j.train.OffPolicyTraining: epsilon-uniform actions, else a sample from
softmax((Q_R + w log pi) / alpha_hat); hard target copy every 10 env steps; 128 gradient steps
every 256 env steps after 1000. Prints one JSON object (and writes it to --out) with the
train wall time split into env / prior / learner seconds and the two evaluations.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium
import numpy as np
import torch
from torch import nn

import rql4j_bridge.tasks  # noqa: F401  (registers the rql4j/ task envs)


class Timer:
    def __init__(self) -> None:
        self.seconds = 0.0
        self._t = 0.0

    def __enter__(self) -> Timer:
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.perf_counter() - self._t


def mlp(d: int, hidden: list[int], a: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    return nn.Sequential(*layers, nn.Linear(d, a))


def evaluate(task: str, act, episodes: int) -> dict[str, float]:
    env = gymnasium.make(f"rql4j/{task}-total-v0")
    basic, addon = [], []
    for k in range(episodes):
        obs, _ = env.reset(seed=10_000 + k)
        b = a = 0.0
        done = False
        while not done:
            obs, _, term, trunc, info = env.step(act(obs))
            b += info["basic_reward"]
            a += info["addon_reward"]
            done = term or trunc
        basic.append(b)
        addon.append(a)
    env.close()
    return {"basic_mean": float(np.mean(basic)), "basic_std": float(np.std(basic)),
            "addon_mean": float(np.mean(addon)), "addon_std": float(np.std(addon))}


def full_run_args(doc: str, task: str) -> tuple[argparse.Namespace, np.random.Generator]:
    """A full run's options (--prior, --task, --steps, --seed, --eval-episodes, --out); seeds torch, one thread."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--prior", type=Path, required=True)
    p.add_argument("--task", default=task)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    return args, np.random.default_rng(args.seed)


def main() -> None:
    args, rng = full_run_args(__doc__, "cartpole-center")
    # docs/tasks.md's CartPole reference values, alpha_hat = prior weight = 1
    lr, batch, buffer_size, gamma = 2.3e-3, 64, 100_000, 0.99
    train_freq, grad_steps, learning_starts, target_every = 256, 128, 1000, 10
    eps0, eps1, eps_fraction, clip, alpha_hat, w = 1.0, 0.04, 0.16, 10.0, 1.0, 1.0

    prior = torch.jit.load(str(args.prior / "policy.pt")).eval()

    def log_prior(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return prior(torch.as_tensor(obs, dtype=torch.float32).view(1, -1)).numpy()[0]

    t_start = time.perf_counter()
    prior_eval = evaluate(args.task, lambda o: int(np.argmax(log_prior(o))), args.eval_episodes)

    env = gymnasium.make(f"rql4j/{args.task}-addon-v0")
    d = int(np.prod(env.observation_space.shape))
    n_actions = int(env.action_space.n)
    q, q_target = mlp(d, [256, 256], n_actions), mlp(d, [256, 256], n_actions)
    q_target.load_state_dict(q.state_dict())
    optimizer = torch.optim.Adam(q.parameters(), lr=lr)
    obs_buf = np.zeros((buffer_size, d), np.float32)
    next_buf = np.zeros((buffer_size, d), np.float32)
    act_buf = np.zeros(buffer_size, np.int64)
    rew_buf = np.zeros(buffer_size, np.float32)
    not_term_buf = np.zeros(buffer_size, np.float32)
    logp_buf = np.zeros((buffer_size, n_actions), np.float32)
    env_t, prior_t, learner_t = Timer(), Timer(), Timer()
    t_train = time.perf_counter()
    with env_t:
        obs, _ = env.reset(seed=args.seed)
    with prior_t:
        lp = log_prior(obs)
    pos = size = 0
    for step in range(args.steps):
        eps = max(eps1, eps0 + (eps1 - eps0) * step / (eps_fraction * args.steps))
        with learner_t:
            if rng.random() < eps:
                action = int(rng.integers(n_actions))
            else:
                with torch.no_grad():
                    logits = (q(torch.as_tensor(obs).view(1, -1))[0] + w * torch.as_tensor(lp)) / alpha_hat
                    probs = torch.softmax(logits.double(), 0).numpy()
                action = int(rng.choice(n_actions, p=probs / probs.sum()))
        with env_t:
            next_obs, reward, term, trunc, _ = env.step(action)
        with prior_t:
            lp_next = log_prior(next_obs)
        obs_buf[pos], next_buf[pos], act_buf[pos] = obs, next_obs, action
        rew_buf[pos], not_term_buf[pos], logp_buf[pos] = reward, 0.0 if term else 1.0, lp_next
        pos, size = (pos + 1) % buffer_size, min(size + 1, buffer_size)
        if term or trunc:
            with env_t:
                obs, _ = env.reset()
            with prior_t:
                lp = log_prior(obs)
        else:
            obs, lp = next_obs, lp_next
        done_steps = step + 1
        if done_steps % target_every == 0:
            q_target.load_state_dict(q.state_dict())
        if done_steps > learning_starts and done_steps % train_freq == 0:
            with learner_t:
                for _ in range(grad_steps):
                    idx = rng.integers(size, size=batch)
                    o, o2 = torch.from_numpy(obs_buf[idx]), torch.from_numpy(next_buf[idx])
                    with torch.no_grad():
                        soft_value = alpha_hat * torch.logsumexp(
                            (q_target(o2) + w * torch.from_numpy(logp_buf[idx])) / alpha_hat, dim=1)
                        y = torch.from_numpy(rew_buf[idx]) + gamma * torch.from_numpy(not_term_buf[idx]) * soft_value
                    q_sa = q(o).gather(1, torch.from_numpy(act_buf[idx]).view(-1, 1)).view(-1)
                    loss = nn.functional.smooth_l1_loss(q_sa, y)
                    optimizer.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(q.parameters(), clip)
                    optimizer.step()
    train_s = time.perf_counter() - t_train
    env.close()

    def customized(o: np.ndarray) -> int:
        with torch.no_grad():
            return int(torch.argmax(q(torch.as_tensor(o).view(1, -1))[0] + w * torch.as_tensor(log_prior(o))))

    learned_eval = evaluate(args.task, customized, args.eval_episodes)
    report(args, "residual_soft_q_full_run.py", train_s, (env_t, prior_t, learner_t), t_start, prior_eval, learned_eval)


def report(args: argparse.Namespace, script: str, train_s: float, timers: tuple[Timer, Timer, Timer], t_start: float,
           prior_eval: dict[str, float], learned_eval: dict[str, float]) -> None:
    """Prints a full run's result as JSON (and writes it to --out): the speed benchmark reads it."""
    env_t, prior_t, learner_t = timers
    result = {
        "implementation": f"PyTorch reference (compat-tests/python/{script})",
        "torch": torch.__version__, "steps": args.steps, "seed": args.seed,
        "train_seconds": train_s, "env_seconds": env_t.seconds, "prior_seconds": prior_t.seconds,
        "learner_seconds": learner_t.seconds, "total_seconds": time.perf_counter() - t_start,
        "prior_eval": prior_eval, "customized_eval": learned_eval,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
