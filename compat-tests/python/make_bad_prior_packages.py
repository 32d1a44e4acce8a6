"""Writes deliberately broken prior packages (real TorchScript made by torch) for Java's error tests.

Usage: make_bad_prior_packages.py --out DIR
Creates DIR/<case>/{prior.json, policy.pt} for: nan (a module whose output is NaN for rows with
obs[0] > 0), wrong_shape (returns [B, 3] for a 2-action space), one_output (a Gaussian package
whose module returns a single tensor), unnormalized (raw logits
declared as log-probs), and good (a valid categorical package, for contrast).
The sidecars are written by hand here on purpose: the exporter would refuse these modules.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch import nn


class Categorical(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.lin = nn.Linear(4, n)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.lin(obs), dim=-1)


class NanRows(Categorical):
    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out = torch.log_softmax(self.lin(obs), dim=-1)
        return torch.where(obs[:, :1] > 0, torch.full_like(out, float("nan")), out)


class Unnormalized(Categorical):
    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.lin(obs)


class OneOutput(nn.Module):
    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs[:, :1]


def sidecar(distribution: str, action_space: dict, outputs: list[str]) -> dict:
    box = {"type": "Box", "shape": [4], "dtype": "float32", "low": [-1.0] * 4, "high": [1.0] * 4}
    scaling = {"kind": "tanh_to_box", "low": [-1.0], "high": [1.0]} if distribution != "categorical" else None
    return {
        "format": "rql4j-prior/1", "name": "bad", "distribution": distribution,
        "observation_space": box, "action_space": action_space,
        "observation": {"flatten": "none", "dim": 4}, "action_scaling": scaling,
        "module": {"file": "policy.pt", "outputs": outputs},
        "source": {"kind": "torch-module", "file": None, "sha256": None},
        "made_by": {"command": "make_bad_prior_packages.py"}, "versions": {"torch": torch.__version__},
    }


def write(out: Path, case: str, module: nn.Module, meta: dict) -> None:
    d = out / case
    d.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(module.eval()), str(d / "policy.pt"))
    (d / "prior.json").write_text(json.dumps(meta, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    out = p.parse_args().out
    torch.manual_seed(0)
    discrete2 = {"type": "Discrete", "n": 2, "start": 0}
    write(out, "good", Categorical(2), sidecar("categorical", discrete2, ["log_probs"]))
    write(out, "nan", NanRows(2), sidecar("categorical", discrete2, ["log_probs"]))
    write(out, "wrong_shape", Categorical(3), sidecar("categorical", discrete2, ["log_probs"]))
    write(out, "unnormalized", Unnormalized(2), sidecar("categorical", discrete2, ["log_probs"]))
    box1 = {"type": "Box", "shape": [1], "dtype": "float32", "low": [-1.0], "high": [1.0]}
    write(out, "one_output", OneOutput(), sidecar("squashed_gaussian", box1, ["mean", "log_std"]))


if __name__ == "__main__":
    main()
