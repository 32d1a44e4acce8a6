"""Customized policies out of rql4j: export a Java-saved policy folder as a self-contained package, load it.

:func:`export_policy` (``rql4j-bridge export-policy``) turns the ``policy/`` folder of a run into a
folder that is itself an ``rql4j-prior/1`` package (``prior.json``, ``policy.pt`` holding the whole
customized policy, ``weights.safetensors``, a copy of the prior, optionally ``policy.onnx``); see
:mod:`rql4j_bridge.customized.export`. :func:`load_policy` loads such a folder without Java and
acts with it like Stable-Baselines3's ``predict``; see :mod:`rql4j_bridge.customized.load`.
:func:`evaluate_policy` (``rql4j-bridge evaluate``) runs an exported policy and its prior on the same
seeds and measures the KL between them; see :mod:`rql4j_bridge.customized.evaluate`.

Importing this package does not import torch: the names below load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Evaluation", "ExportedPolicy", "PolicyExportError", "evaluate_policy", "export_policy", "load_policy"]

_WHERE = {
    "Evaluation": "evaluate",
    "evaluate_policy": "evaluate",
    "ExportedPolicy": "load",
    "load_policy": "load",
    "PolicyExportError": "export",
    "export_policy": "export",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
