"""A compact PyTorch reference of the residual soft-Q update (Algorithm 1 of docs/method.md).

Usage: residual_soft_q_reference.py --case CASE.bin --out OUT.bin

CASE.bin (written by the Java compat test, raw_arrays format) holds the online and target networks'
weights (``online/<i>`` and ``target/<i>``: weight [out, in] then bias [out] per Linear layer, ReLU
between layers), one batch (``obs`` f32 [B, d], ``actions`` i64 [B], ``rewards`` f32 [B],
``next_obs`` f32 [B, d], ``not_terminated`` f32 [B], ``next_log_prior`` f32 [B, A]) and, in the
header, ``gamma``, ``alpha_hat``, ``prior_weight``, ``lr``, ``max_grad_norm`` and ``steps``.

It runs ``steps`` updates on that batch with torch.optim.Adam and torch's own
clip_grad_norm_ / smooth_l1_loss / logsumexp, and writes OUT.bin with the first update's
``target`` y [B], ``q_sa`` [B], ``loss`` [1], ``grad_norm`` [1] (before clipping), ``grad/<i>``
(after clipping), and ``updated/<i>`` (the online weights after all steps).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from raw_arrays import read_arrays, write_arrays  # noqa: E402

FORMAT = "rql4j-soft-q-reference/1"


def mlp(arrays: dict[str, np.ndarray], prefix: str, activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    n = len([k for k in arrays if k.startswith(prefix + "/")]) // 2
    layers: list[nn.Module] = []
    for i in range(n):
        w = torch.tensor(arrays[f"{prefix}/{2 * i}"].astype(np.float32))
        lin = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(torch.tensor(arrays[f"{prefix}/{2 * i + 1}"].astype(np.float32)))
        layers += [lin, activation()] if i < n - 1 else [lin]
    return nn.Sequential(*layers)


def read_case(doc: str) -> tuple[argparse.Namespace, dict[str, Any], dict[str, np.ndarray]]:
    """A reference's options (--case CASE.bin --out OUT.bin) and the case's header and arrays; torch on one thread."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--case", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    h, a = read_arrays(args.case)
    return args, h, a


def main() -> None:
    args, h, a = read_case(__doc__)
    q_residual, q_residual_target = mlp(a, "online"), mlp(a, "target")
    obs, next_obs = torch.tensor(a["obs"]), torch.tensor(a["next_obs"])
    actions = torch.tensor(a["actions"].astype(np.int64))
    reward, not_terminated = torch.tensor(a["rewards"]), torch.tensor(a["not_terminated"])
    prior_log_prob_next = torch.tensor(a["next_log_prior"])
    gamma, alpha_hat, w = h["gamma"], h["alpha_hat"], h["prior_weight"]
    optimizer = torch.optim.Adam(q_residual.parameters(), lr=h["lr"])
    out: list[tuple[str, np.ndarray]] = []
    for step in range(h["steps"]):
        with torch.no_grad():  # y = r + gamma (1 - term) alpha_hat logsumexp((Q_R_target(s',.) + w log pi(.|s')) / alpha_hat)
            soft_value = alpha_hat * torch.logsumexp((q_residual_target(next_obs) + w * prior_log_prob_next) / alpha_hat, dim=1)
            y = reward + gamma * not_terminated * soft_value
        q_sa = q_residual(obs).gather(1, actions.view(-1, 1)).view(-1)
        loss = nn.functional.smooth_l1_loss(q_sa, y)
        optimizer.zero_grad()
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(q_residual.parameters(), h["max_grad_norm"])
        if step == 0:
            out += [("target", y.numpy()), ("q_sa", q_sa.detach().numpy()),
                    ("loss", np.array([loss.item()], np.float64)), ("grad_norm", np.array([grad_norm.item()], np.float64))]
            out += [(f"grad/{i}", prm.grad.numpy().copy()) for i, prm in enumerate(q_residual.parameters())]
        optimizer.step()
    out += [(f"updated/{i}", prm.detach().numpy().copy()) for i, prm in enumerate(q_residual.parameters())]
    with torch.no_grad():  # KL(pi_hat || pi) of the updated network on the next states (the KL budget's measure)
        log_hat = torch.log_softmax((q_residual(next_obs) + w * prior_log_prob_next) / alpha_hat, dim=1)
        kl = (log_hat.exp() * (log_hat - prior_log_prob_next)).sum(dim=1).mean()
    out += [("kl", np.array([kl.item()], np.float64))]
    write_arrays(args.out, FORMAT, {"steps": h["steps"]}, out)


if __name__ == "__main__":
    main()
