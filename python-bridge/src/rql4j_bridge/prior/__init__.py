"""Prior policies for rql4j: prior packages (``rql4j-prior/1``), the exporter, and the PriorService.

Importing this package does not import torch: the names below load their module on first use
(``rql4j_bridge.prior.package`` / ``.export`` / ``.modules`` import torch; ``.service`` imports
it only when a prior is loaded).
"""

from __future__ import annotations

import importlib
from typing import Any

# The exporter's kinds and torch-module --distribution choices (here, so that the CLI can list them
# without importing torch).
EXPORT_KINDS = ("sb3-dqn", "sb3-sac", "sb3-ppo", "sb3-a2c", "rql-ref-softdqn", "rql-ref-sac", "torch-module")
TORCH_MODULE_DISTRIBUTIONS = ("logits", "categorical", "q_values", "diag_gaussian", "squashed_gaussian", "action")

__all__ = [
    "EXPORT_KINDS",
    "TORCH_MODULE_DISTRIBUTIONS",
    "ExportError",
    "PriorPackage",
    "PriorPackageError",
    "PriorServicer",
    "export_checkpoint",
    "load_prior_package",
    "save_prior_package",
    "space_from_json",
    "space_to_json",
]

_WHERE = {
    "PriorPackage": "package",
    "PriorPackageError": "package",
    "load_prior_package": "package",
    "save_prior_package": "package",
    "ExportError": "export",
    "export_checkpoint": "export",
    "PriorServicer": "service",
    "space_from_json": "spaces_json",
    "space_to_json": "spaces_json",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
