"""rql4j_bridge: the Python half of rql4j.

Serves Gymnasium environments to the JVM over gRPC following the ``rql4j.v1`` contract
(``proto/rql4j/v1/env.proto``): ``rql4j-bridge serve`` starts an :class:`~rql4j_bridge.env_server.EnvServicer`.

``export_policy`` / ``load_policy`` (:mod:`rql4j_bridge.customized`, need the ``priors`` extra) export a
customized policy saved by the Java learners as a self-contained package and load it; ``customize`` starts
a customization from Python (it runs the ``rql4j`` command line); ``evaluate_policy`` runs an exported policy
and its prior side by side; ``inspect_prior`` checks a prior package on an env before customizing it. They are imported on first use, so that ``import rql4j_bridge`` does not import
torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

PROTOCOL = "rql4j.v1"

# The contract's revision (ServerInfoResponse.protocol_revision): raised whenever a message or RPC of
# rql4j.v1 changes; the Java client refuses a server of another revision. 2: authentication, the
# add-on reward in MakeRequest, protocol_revision itself. 3: MakeRequest.workers.
PROTOCOL_REVISION = 3

# export_policy / load_policy are not in __all__: a star import must not import torch
__all__ = ["PROTOCOL", "PROTOCOL_REVISION", "__version__"]

_LAZY = {
    "export_policy": "rql4j_bridge.customized.export",
    "load_policy": "rql4j_bridge.customized.load",
    "evaluate_policy": "rql4j_bridge.customized.evaluate",
    "inspect_prior": "rql4j_bridge.prior.inspection",
    "customize": "rql4j_bridge.customized.customize",
    "CustomizationError": "rql4j_bridge.customized.customize",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
