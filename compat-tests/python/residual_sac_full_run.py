"""A full residual SAC customization run in PyTorch: the speed reference for the Java learner.

Usage: residual_sac_full_run.py --prior DIR [--task mountaincar-lessleft] [--steps 100000] [--seed 0]
       [--eval-episodes 20] [--out RESULT.json]

The same run as ``rql4j customize --task mountaincar-lessleft`` (docs/tasks.md's MountainCar SAC
schedule, Algorithm 2 of docs/method.md), written compactly in PyTorch with the env in-process (no
bridge): evaluate the prior on the total variant, train a residual SAC on the add-on variant with
the prior's (mean, log_std) stored once per transition for s and s', evaluate the customized
policy. The update is residual_sac_reference.py's (the compat tests check the Java update against
it): temperature (when learned), critics, actor against the updated critics, Polyak. The loop
mirrors org.rql4j.train.OffPolicyTraining: uniform actions before learning_starts, else a sample of
pi_hat; 32 gradient steps every 32 env steps, batch 512, lr 3e-4, gamma 0.9999, tau 0.01, fixed
alpha_hat 0.1, prior weight 0.1, [64, 64]. Prints one JSON object (and writes it to --out) with the
train wall time split into env / prior / learner seconds and the two evaluations.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import gymnasium
import numpy as np
import torch

import rql4j_bridge.tasks  # noqa: F401  (registers the rql4j/ task envs)

sys.path.insert(0, str(Path(__file__).parent))
from residual_sac_reference import actor_loss, critic_loss, gaussian, polyak, target  # noqa: E402
from residual_soft_q_full_run import Timer, evaluate, full_run_args, mlp, report  # noqa: E402


def main() -> None:
    args, rng = full_run_args(__doc__, "mountaincar-lessleft")
    # docs/tasks.md's MountainCar SAC reference values
    lr, batch, buffer_size, gamma, tau = 3e-4, 512, 50_000, 0.9999, 0.01
    train_freq, grad_steps, learning_starts, alpha, w, hidden = 32, 32, 0, 0.1, 0.1, [64, 64]

    prior = torch.jit.load(str(args.prior / "policy.pt")).eval()
    spec = json.loads((args.prior / "prior.json").read_text())
    low = np.array(spec["action_scaling"]["low"], np.float32)
    high = np.array(spec["action_scaling"]["high"], np.float32)

    def to_box(a: np.ndarray) -> np.ndarray:
        return low + (a + 1) / 2 * (high - low)

    def prior_rows(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            mean, log_std = prior(torch.as_tensor(obs, dtype=torch.float32).view(1, -1))
            return torch.cat([mean, log_std], dim=1).numpy()[0]

    t_start = time.perf_counter()
    prior_eval = evaluate(args.task, lambda o: to_box(np.tanh(prior_rows(o)[: len(low)])), args.eval_episodes)

    env = gymnasium.make(f"rql4j/{args.task}-addon-v0")
    n = int(np.prod(env.observation_space.shape))
    d = int(np.prod(env.action_space.shape))
    actor = mlp(n, hidden, 2 * d)
    q1, q2 = mlp(n + d, hidden, 1), mlp(n + d, hidden, 1)
    q1_target, q2_target = mlp(n + d, hidden, 1), mlp(n + d, hidden, 1)
    q1_target.load_state_dict(q1.state_dict())
    q2_target.load_state_dict(q2.state_dict())
    actor_opt = torch.optim.Adam(actor.parameters(), lr=lr)
    critic_opt = torch.optim.Adam([*q1.parameters(), *q2.parameters()], lr=lr)

    obs_buf = np.zeros((buffer_size, n), np.float32)
    next_buf = np.zeros((buffer_size, n), np.float32)
    act_buf = np.zeros((buffer_size, d), np.float32)
    rew_buf = np.zeros(buffer_size, np.float32)
    not_term_buf = np.zeros(buffer_size, np.float32)
    prior_buf = np.zeros((buffer_size, 2 * d), np.float32)
    next_prior_buf = np.zeros((buffer_size, 2 * d), np.float32)
    env_t, prior_t, learner_t = Timer(), Timer(), Timer()
    t_train = time.perf_counter()
    with env_t:
        obs, _ = env.reset(seed=args.seed)
    with prior_t:
        pr = prior_rows(obs)
    pos = size = 0
    for step in range(args.steps):
        with learner_t:
            if step < learning_starts:
                action = rng.uniform(-1, 1, d).astype(np.float32)
            else:
                with torch.no_grad():
                    mean, log_std = gaussian(actor, torch.as_tensor(obs).view(1, -1), d)
                    action = torch.tanh(mean + log_std.exp() * torch.randn_like(mean)).numpy()[0]
        with env_t:
            next_obs, reward, term, trunc, _ = env.step(to_box(action))
        with prior_t:
            pr_next = prior_rows(next_obs)
        obs_buf[pos], next_buf[pos], act_buf[pos] = obs, next_obs, action
        rew_buf[pos], not_term_buf[pos] = reward, 0.0 if term else 1.0
        prior_buf[pos], next_prior_buf[pos] = pr, pr_next
        pos, size = (pos + 1) % buffer_size, min(size + 1, buffer_size)
        if term or trunc:
            with env_t:
                obs, _ = env.reset()
            with prior_t:
                pr = prior_rows(obs)
        else:
            obs, pr = next_obs, pr_next
        done_steps = step + 1
        if done_steps > learning_starts and done_steps % train_freq == 0:
            with learner_t:
                for _ in range(grad_steps):
                    idx = rng.integers(size, size=batch)
                    o, o2 = torch.from_numpy(obs_buf[idx]), torch.from_numpy(next_buf[idx])
                    a, p_s, p_s2 = (torch.from_numpy(x[idx]) for x in (act_buf, prior_buf, next_prior_buf))
                    y = target(actor, q1_target, q2_target, o2, torch.from_numpy(rew_buf[idx]),
                               torch.from_numpy(not_term_buf[idx]), p_s2, torch.randn(batch, d), gamma, alpha, w)
                    critic_opt.zero_grad()
                    critic_loss(q1, q2, o, a, y).backward()
                    critic_opt.step()
                    actor_opt.zero_grad()
                    actor_loss(actor, q1, q2, o, p_s, torch.randn(batch, d), alpha, w).backward()
                    actor_opt.step()
                    polyak(q1, q1_target, tau)
                    polyak(q2, q2_target, tau)
    train_s = time.perf_counter() - t_train
    env.close()

    def customized(o: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return to_box(torch.tanh(gaussian(actor, torch.as_tensor(o).view(1, -1), d)[0]).numpy()[0])

    learned_eval = evaluate(args.task, customized, args.eval_episodes)
    report(args, "residual_sac_full_run.py", train_s, (env_t, prior_t, learner_t), t_start, prior_eval, learned_eval)


if __name__ == "__main__":
    main()
