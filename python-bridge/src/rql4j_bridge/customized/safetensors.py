"""safetensors files on numpy, through the ``safetensors`` library (the ``export`` extra).

Java writes the policy folders' weights in this format (PyTorch ``state_dict`` names, little-endian
float32); the exporter reads them and writes ``weights.safetensors``. Errors are ``ValueError``
naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["read_safetensors", "write_safetensors"]


def _library():  # type: ignore[no-untyped-def]
    try:
        from safetensors import numpy as st_numpy
    except ImportError as e:  # pragma: no cover - the export extra brings it
        raise ImportError("reading policy weights needs the safetensors package: pip install "
                          "'rql4j-bridge[priors]'") from e
    return st_numpy


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of the safetensors file ``path``, by name."""
    try:
        return dict(_library().load_file(str(path)))
    except (OSError, ValueError, RuntimeError, Exception) as e:  # safetensors raises SafetensorError
        if isinstance(e, ImportError):
            raise
        raise ValueError(f"{path} is not a readable safetensors file: {e}") from e


def write_safetensors(
    path: str | Path, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None
) -> None:
    """Writes ``tensors`` to ``path``; ``metadata``: the header's ``__metadata__``."""
    arrays = {name: np.ascontiguousarray(a) for name, a in tensors.items()}
    meta = {str(k): str(v) for k, v in metadata.items()} if metadata else None
    _library().save_file(arrays, str(path), metadata=meta)
