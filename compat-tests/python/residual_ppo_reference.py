"""A compact PyTorch reference of residual PPO's advantages and loss (Algorithm 4 of docs/method.md).

Usage: residual_ppo_reference.py --case CASE.bin --out OUT.bin

CASE.bin (written by the Java compat test, raw_arrays format) holds the policy network's weights
(``policy/<i>``: weight [out, in] then bias [out] per Linear layer, tanh between layers; it outputs
the Gaussian's mean [d] or the categorical's logits [n]), ``log_std`` [d] (Box only), the value
network's (``value/<i>``, same layout, one output), and one rollout of T steps of E copies, rows
step-major: ``obs`` [T*E, k], ``actions`` [T*E, d] (or [T*E] indices), ``rewards`` (the env's),
``prior_log_probs``, ``old_log_probs``, ``values``, ``terminated``, ``truncated`` (0/1),
``truncated_values`` (V of the final observation where truncated) [T*E] each, ``last_values`` [E],
and ``batch`` [B] (the minibatch's row indices). Header: ``num_envs``, ``discrete``, ``gamma``,
``gae_lambda``, ``clip_range``, ``vf_coef``, ``ent_coef``, ``prior_weight``, ``alpha_hat``,
``normalize_advantage``, and optionally ``survival_bonus`` (0 when absent).

Written from method.md and SB3's PPO:
  shaped reward r + w log pi(a|s) - alpha_hat log pi_theta_old(a|s) + b (b: the survival bonus);
  GAE: delta = r + gamma V_next - V with V_next 0 after termination, V(final obs) after truncation,
  else the next row's V (last_values after the last step); A = delta + gamma lambda A_next, the
  chain cut at either end; returns A + V;
  loss = -mean(min(A r, A clip(r, 1 - eps, 1 + eps))) + vf_coef mean((R - V)^2) - ent_coef entropy,
  A normalized per minibatch ((A - mean) / (std + 1e-8), torch's unbiased std),
  r = exp(log pi_theta(a|s) - old log-prob), torch.distributions Normal / Categorical.

OUT.bin: ``shaped_rewards``, ``advantages``, ``returns`` [T*E]; ``policy_loss``, ``value_loss``,
``entropy``, ``loss`` [1]; ``grad/<i>`` for every trainable array in the Java order (policy
layers, log_std for a Box, value layers).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from raw_arrays import write_arrays  # noqa: E402
from residual_soft_q_reference import mlp, read_case  # noqa: E402

FORMAT = "rql4j-ppo-reference/1"


def gae(rewards: np.ndarray, values: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
        truncated_values: np.ndarray, last_values: np.ndarray, num_envs: int, gamma: float,
        lam: float) -> tuple[np.ndarray, np.ndarray]:
    steps = len(rewards) // num_envs
    adv = np.zeros(len(rewards), dtype=np.float64)
    for i in range(num_envs):
        nxt = 0.0
        for t in reversed(range(steps)):
            row = t * num_envs + i
            if terminated[row]:
                v_next, chain = 0.0, False
            elif truncated[row]:
                v_next, chain = float(truncated_values[row]), False
            else:
                v_next = float(last_values[i]) if t == steps - 1 else float(values[row + num_envs])
                chain = t < steps - 1
            delta = float(rewards[row]) + gamma * v_next - float(values[row])
            nxt = delta + (gamma * lam * nxt if chain else 0.0)
            adv[row] = nxt
    return adv, adv + values.astype(np.float64)


def main() -> None:
    args, h, a = read_case(__doc__)
    policy, value = mlp(a, "policy", nn.Tanh), mlp(a, "value", nn.Tanh)
    discrete = bool(h["discrete"])
    log_std = None if discrete else torch.tensor(a["log_std"].astype(np.float32), requires_grad=True)
    shaped = (a["rewards"].astype(np.float64) + h["prior_weight"] * a["prior_log_probs"].astype(np.float64)
              - h["alpha_hat"] * a["old_log_probs"].astype(np.float64) + float(h.get("survival_bonus", 0.0)))
    adv, ret = gae(shaped, a["values"], a["terminated"], a["truncated"], a["truncated_values"], a["last_values"],
                   int(h["num_envs"]), h["gamma"], h["gae_lambda"])
    idx = a["batch"].astype(np.int64)
    obs = torch.tensor(a["obs"][idx])
    b_adv = torch.tensor(adv[idx].astype(np.float32))
    if h["normalize_advantage"] and len(idx) > 1:
        b_adv = (b_adv - b_adv.mean()) / (b_adv.std() + 1e-8)
    out = policy(obs)
    if discrete:
        dist = torch.distributions.Categorical(logits=out)
        log_prob = dist.log_prob(torch.tensor(a["actions"][idx].astype(np.int64)))
        entropy = dist.entropy()
    else:
        dist = torch.distributions.Normal(out, log_std.exp())
        log_prob = dist.log_prob(torch.tensor(a["actions"][idx])).sum(dim=1)
        entropy = dist.entropy().sum(dim=1)
    ratio = torch.exp(log_prob - torch.tensor(a["old_log_probs"][idx]))
    eps = h["clip_range"]
    policy_loss = -torch.min(b_adv * ratio, b_adv * torch.clamp(ratio, 1 - eps, 1 + eps)).mean()
    v = value(obs).view(-1)
    value_loss = nn.functional.mse_loss(torch.tensor(ret[idx].astype(np.float32)), v)
    loss = policy_loss + h["vf_coef"] * value_loss - h["ent_coef"] * entropy.mean()
    loss.backward()
    trainable = [*policy.parameters(), *([] if log_std is None else [log_std]), *value.parameters()]
    result = [("shaped_rewards", shaped), ("advantages", adv), ("returns", ret),
              ("policy_loss", np.array([policy_loss.item()])), ("value_loss", np.array([value_loss.item()])),
              ("entropy", np.array([entropy.mean().item()])), ("loss", np.array([loss.item()]))]
    result += [(f"grad/{i}", p.grad.numpy().copy()) for i, p in enumerate(trainable)]
    with torch.no_grad():  # the KL budget's measure: KL(pi_theta || pi) on every rollout state
        all_out = policy(torch.tensor(a["obs"]))
        rows = torch.tensor(a["prior_rows"])
        if discrete:
            kl = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=all_out),
                                                   torch.distributions.Categorical(logits=rows))
        else:
            d = all_out.shape[1]
            kl = torch.distributions.kl_divergence(
                torch.distributions.Normal(all_out, log_std.exp().expand_as(all_out)),
                torch.distributions.Normal(rows[:, :d], rows[:, d:].exp())).sum(dim=1)
    result += [("kl", np.array([kl.mean().item()], np.float64))]
    write_arrays(args.out, FORMAT, {}, result)


if __name__ == "__main__":
    main()
