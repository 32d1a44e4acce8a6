"""A compact PyTorch reference of the residual SAC update (Algorithm 2 of docs/method.md).

Usage: residual_sac_reference.py --case CASE.bin --out OUT.bin

CASE.bin (written by the Java compat test, raw_arrays format) holds the networks' weights
(``actor/<i>``, ``q1/<i>``, ``q2/<i>``, ``q1_target/<i>``, ``q2_target/<i>``: weight [out, in] then
bias [out] per Linear layer, ReLU between layers; the actor outputs [mean (d), log_std (d)] of the
pre-tanh Gaussian, log_std clamped to [-20, 2]; a critic reads [obs, action]), one batch (``obs``
[B, n], ``actions`` [B, d] in [-1, 1], ``rewards`` [B], ``next_obs`` [B, n], ``not_terminated``
[B], the prior's stored ``prior`` and ``next_prior`` [B, 2d]: mean and log_std of its pre-tanh
Gaussian at s and s'), the standard-normal noise of each step (``noise_next/<k>``,
``noise_current/<k>`` [B, d]) and, in the header, ``gamma``, ``tau``, ``lr``, ``alpha_hat``,
``learn_alpha``, ``target_entropy``, ``prior_weight``, ``steps``, ``max_grad_norm`` and
``prior_min_std`` (the optional stabilizers; 0: off).

Written from method.md:
  y = r + gamma (1 - terminated) (min_i Q_target_i(s', a') + w log pi(a'|s') - alpha log pi_hat(a'|s')),
  critic loss 0.5 sum_i MSE(Q_i(s, a), y),
  actor loss mean(alpha log pi_hat(a~|s) - min_i Q_i(s, a~) - w log pi(a~|s)), a~ reparameterized,
  log pi(tanh(u)|s) = sum_i [log N(u_i; mu_i, sigma_i) - log(1 - tanh(u_i)^2 + 1e-6)] from the
  pre-tanh sample u, torch.distributions.Normal for log N.
One step in SB3's order: the temperature (loss -log_alpha (log pi_hat(a~|s) + target_entropy),
detached log-prob; the step uses the temperature from before it), the critics, the actor against
the updated critics, then Polyak averaging with tau. torch.optim.Adam throughout. With
max_grad_norm > 0, torch.nn.utils.clip_grad_norm_ on the critics' (together) and on the actor's
gradients before their steps; with prior_min_std > 0, the prior's log_std is floored at
log(prior_min_std) in its log-prob.

OUT.bin: from the case's weights, before any update (the actor loss against the case's
critics): ``target`` [B], ``critic_loss`` [1], ``grad/q1/<i>``, ``grad/q2/<i>``, ``actor_loss``
[1], ``grad/actor/<i>``, ``alpha_loss`` [1] and ``grad/log_alpha`` [1] (when learned); after
``steps`` updates: ``updated/<net>/<i>`` for every net and ``updated/log_alpha`` [1].
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

FORMAT = "rql4j-sac-reference/1"
NETS = ("actor", "q1", "q2", "q1_target", "q2_target")


def squashed_log_prob(mean: torch.Tensor, log_std: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """log density of a = tanh(u), u ~ N(mean, exp(log_std)), summed over the action's dimensions."""
    normal = torch.distributions.Normal(mean, log_std.exp())
    return (normal.log_prob(u) - torch.log(1 - torch.tanh(u) ** 2 + 1e-6)).sum(dim=1)


def gaussian(actor: nn.Module, obs: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The actor's pre-tanh Gaussian: [mean | log_std] outputs, log_std clamped to [-20, 2]."""
    out = actor(obs)
    return out[:, :d], out[:, d:].clamp(-20.0, 2.0)


def q(net: nn.Module, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
    return net(torch.cat([obs, act], dim=1)).view(-1)


def prior_log_prob(rows: torch.Tensor, u: torch.Tensor, d: int, min_std: float = 0.0) -> torch.Tensor:
    """The prior's log-prob from its stored [mean | log_std] rows, at the actor's pre-tanh sample u."""
    log_std = rows[:, d:] if min_std <= 0 else rows[:, d:].clamp(min=float(np.log(min_std)))
    return squashed_log_prob(rows[:, :d], log_std, u)


def target(actor: nn.Module, q1_target: nn.Module, q2_target: nn.Module, next_obs: torch.Tensor,
           rewards: torch.Tensor, not_terminated: torch.Tensor, next_prior: torch.Tensor, noise: torch.Tensor,
           gamma: float, alpha: float, w: float, min_std: float = 0.0) -> torch.Tensor:
    """y = r + gamma (1 - term) (min_i Q_target_i(s', a') + w log pi(a'|s') - alpha log pi_hat(a'|s'))."""
    d = noise.shape[1]
    with torch.no_grad():
        mean, log_std = gaussian(actor, next_obs, d)
        u = mean + log_std.exp() * noise
        a2 = torch.tanh(u)
        soft = torch.min(q(q1_target, next_obs, a2), q(q2_target, next_obs, a2))
        soft = soft + w * prior_log_prob(next_prior, u, d, min_std) - alpha * squashed_log_prob(mean, log_std, u)
        return rewards + gamma * not_terminated * soft


def critic_loss(q1: nn.Module, q2: nn.Module, obs: torch.Tensor, actions: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * sum(nn.functional.mse_loss(q(net, obs, actions), y) for net in (q1, q2))


def actor_loss(actor: nn.Module, q1: nn.Module, q2: nn.Module, obs: torch.Tensor, prior: torch.Tensor,
               noise: torch.Tensor, alpha: float, w: float, min_std: float = 0.0) -> torch.Tensor:
    """mean(alpha log pi_hat(a~|s) - min_i Q_i(s, a~) - w log pi(a~|s)), a~ = tanh(mean + std noise)."""
    d = noise.shape[1]
    mean, log_std = gaussian(actor, obs, d)
    u = mean + log_std.exp() * noise
    a1 = torch.tanh(u)
    per_row = alpha * squashed_log_prob(mean, log_std, u) - torch.min(q(q1, obs, a1), q(q2, obs, a1))
    return (per_row - w * prior_log_prob(prior, u, d, min_std)).mean()


def polyak(online: nn.Module, tgt: nn.Module, tau: float) -> None:
    with torch.no_grad():
        for po, pt in zip(online.parameters(), tgt.parameters()):
            pt.mul_(1 - tau).add_(tau * po)


def main() -> None:
    args, h, a = read_case(__doc__)
    nets = {name: mlp(a, name) for name in NETS}
    actor, q1, q2, q1_target, q2_target = (nets[n] for n in NETS)
    t = {k: torch.tensor(a[k]) for k in ("obs", "actions", "rewards", "next_obs", "not_terminated")}
    prior, next_prior = torch.tensor(a["prior"]), torch.tensor(a["next_prior"])
    d = t["actions"].shape[1]
    gamma, tau, w = h["gamma"], h["tau"], h["prior_weight"]
    max_norm, min_std = h.get("max_grad_norm", 0.0), h.get("prior_min_std", 0.0)
    log_alpha = torch.tensor([float(np.log(h["alpha_hat"]))], requires_grad=True)

    def y_of(alpha: float, noise_next: torch.Tensor) -> torch.Tensor:
        return target(actor, q1_target, q2_target, t["next_obs"], t["rewards"], t["not_terminated"], next_prior,
                      noise_next, gamma, alpha, w, min_std)

    def alpha_loss(noise: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            mean, log_std = gaussian(actor, t["obs"], d)
            log_pi = squashed_log_prob(mean, log_std, mean + log_std.exp() * noise)
        return -(log_alpha * (log_pi + h["target_entropy"])).mean()

    out: list[tuple[str, np.ndarray]] = []
    # from the case's weights, nothing updated
    alpha0 = float(log_alpha.exp().item())
    noise_next0, noise_current0 = torch.tensor(a["noise_next/0"]), torch.tensor(a["noise_current/0"])
    y = y_of(alpha0, noise_next0)
    loss = critic_loss(q1, q2, t["obs"], t["actions"], y)
    loss.backward()
    out += [("target", y.numpy()), ("critic_loss", np.array([loss.item()]))]
    out += [(f"grad/q1/{i}", prm.grad.numpy().copy()) for i, prm in enumerate(q1.parameters())]
    out += [(f"grad/q2/{i}", prm.grad.numpy().copy()) for i, prm in enumerate(q2.parameters())]
    loss = actor_loss(actor, q1, q2, t["obs"], prior, noise_current0, alpha0, w, min_std)
    loss.backward()
    out += [("actor_loss", np.array([loss.item()]))]
    out += [(f"grad/actor/{i}", prm.grad.numpy().copy()) for i, prm in enumerate(actor.parameters())]
    if h["learn_alpha"]:
        loss = alpha_loss(noise_current0)
        loss.backward()
        out += [("alpha_loss", np.array([loss.item()])), ("grad/log_alpha", log_alpha.grad.numpy().copy())]
    with torch.no_grad():  # KL(pi_hat || pi) of the pre-tanh Gaussians (the KL budget's measure), prior std floored
        mean, log_std = gaussian(actor, t["obs"], d)
        p_log_std = prior[:, d:] if min_std <= 0 else prior[:, d:].clamp(min=float(np.log(min_std)))
        kl = torch.distributions.kl_divergence(torch.distributions.Normal(mean, log_std.exp()),
                                               torch.distributions.Normal(prior[:, :d], p_log_std.exp()))
    out += [("kl", np.array([kl.sum(dim=1).mean().item()], np.float64))]
    for net in nets.values():
        net.zero_grad()
    log_alpha.grad = None

    lr = h["lr"]
    actor_opt = torch.optim.Adam(actor.parameters(), lr=lr)
    critic_opt = torch.optim.Adam([*q1.parameters(), *q2.parameters()], lr=lr)
    alpha_opt = torch.optim.Adam([log_alpha], lr=lr)
    for k in range(h["steps"]):
        noise_next, noise_current = torch.tensor(a[f"noise_next/{k}"]), torch.tensor(a[f"noise_current/{k}"])
        alpha = float(log_alpha.exp().item())  # the step's temperature: from before its own update
        if h["learn_alpha"]:
            alpha_opt.zero_grad()
            alpha_loss(noise_current).backward()
            alpha_opt.step()
        critic_opt.zero_grad()
        critic_loss(q1, q2, t["obs"], t["actions"], y_of(alpha, noise_next)).backward()
        if max_norm > 0:
            nn.utils.clip_grad_norm_([*q1.parameters(), *q2.parameters()], max_norm)
        critic_opt.step()
        actor_opt.zero_grad()
        actor_loss(actor, q1, q2, t["obs"], prior, noise_current, alpha, w, min_std).backward()
        if max_norm > 0:
            nn.utils.clip_grad_norm_(actor.parameters(), max_norm)
        actor_opt.step()
        polyak(q1, q1_target, tau)
        polyak(q2, q2_target, tau)
    for name, net in nets.items():
        out += [(f"updated/{name}/{i}", prm.detach().numpy().copy()) for i, prm in enumerate(net.parameters())]
    out += [("updated/log_alpha", log_alpha.detach().numpy().copy())]
    write_arrays(args.out, FORMAT, {"steps": h["steps"]}, out)


if __name__ == "__main__":
    main()
