"""The committed fused-Adam TorchScript module (``TorchAdam``'s step) is ``make_fused_adam.py``'s and steps as
``torch.optim.Adam`` does."""

from __future__ import annotations

import torch
from make_fused_adam import DEFAULT_OUT, scripted


def test_the_committed_module_is_the_scripts() -> None:
    committed = torch.jit.load(str(DEFAULT_OUT))
    assert committed.code == scripted().code, "rerun: python compat-tests/python/make_fused_adam.py"


def test_it_steps_as_torch_optim_adam() -> None:
    module = torch.jit.load(str(DEFAULT_OUT))
    gen = torch.Generator().manual_seed(0)
    shapes = [(256, 4), (256,), (2, 256), (2,)]
    ours = [torch.randn(s, generator=gen) for s in shapes]
    theirs = [p.clone().requires_grad_(True) for p in ours]
    exp_avgs = [torch.zeros_like(p) for p in ours]
    exp_avg_sqs = [torch.zeros_like(p) for p in ours]
    opt = torch.optim.Adam(theirs, lr=2.3e-3)
    for step in range(1, 31):
        grads = [torch.randn(s, generator=gen) * (10.0 ** -(step % 5)) for s in shapes]
        for p, g in zip(theirs, grads, strict=True):
            p.grad = g.clone()
        opt.step()
        assert module(ours, grads, exp_avgs, exp_avg_sqs, float(step), 2.3e-3, 0.9, 0.999, 1e-8) == len(shapes)
        assert all(bool((g == 0).all()) for g in grads), "the gradients are zeroed"
        for mine, ref in zip(ours, theirs, strict=True):
            torch.testing.assert_close(mine, ref.detach(), rtol=0, atol=1e-6)
    state = [opt.state[p] for p in theirs]
    for m, v, s in zip(exp_avgs, exp_avg_sqs, state, strict=True):
        torch.testing.assert_close(m, s["exp_avg"], rtol=1e-6, atol=1e-9)
        torch.testing.assert_close(v, s["exp_avg_sq"], rtol=1e-6, atol=1e-12)
