"""Writes the TorchScript module that ``org.rql4j.learner.TorchAdam`` steps with (one native call per optimizer step).

The module calls libtorch's fused Adam kernel (``torch._fused_adam_``, what ``torch.optim.Adam(fused=True)`` runs):
one pass over each parameter with the whole update in registers, against eleven element-wise passes for DJL's own
``adamUpdate``. It is a build input, committed as
``rql4j/src/main/resources/org/rql4j/learner/fused_adam.pt``; ``python-bridge/tests`` do not need it, and
``compat-tests/python/test_fused_adam_module.py`` checks that the committed file is this script's and that it
steps as ``torch.optim.Adam`` does.

Usage: python compat-tests/python/make_fused_adam.py [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "rql4j/src/main/resources/org/rql4j/learner/fused_adam.pt"


class FusedAdam(torch.nn.Module):
    """One Adam step over lists of parameters (torch.optim.Adam's formula, no weight decay), then zeroed grads."""

    def forward(
        self,
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        exp_avgs: list[torch.Tensor],
        exp_avg_sqs: list[torch.Tensor],
        step: float,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
    ) -> int:
        with torch.no_grad():
            steps = [torch.full([], step, dtype=torch.float32, device=p.device) for p in params]
            torch._fused_adam_(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                [],
                steps,
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                weight_decay=0.0,
                eps=eps,
                amsgrad=False,
                maximize=False,
            )
            for g in grads:
                g.zero_()
        return len(params)


def scripted() -> torch.jit.ScriptModule:
    return torch.jit.script(FusedAdam())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    scripted().save(str(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
