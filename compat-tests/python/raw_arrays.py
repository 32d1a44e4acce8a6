"""The compat-tests' file format for arrays: one UTF-8 JSON header line, then raw bytes.

The header holds ``format``, any metadata, and ``arrays``: a list of ``{name, dtype, shape,
offset, nbytes}`` (``offset`` from the first byte after the header's newline); the payload is
the arrays' little-endian C-order bytes, contiguous, in the listed order. Java reads it with
``org.rql4j.compat.RawArrayFile``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def write_arrays(path: str | Path, fmt: str, meta: dict[str, Any], arrays: list[tuple[str, np.ndarray]]) -> None:
    """Writes named arrays under a header ``{"format": fmt, **meta, "arrays": [...]}``."""
    entries, chunks, offset = [], [], 0
    for name, array in arrays:
        data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        entries.append(
            {"name": name, "dtype": array.dtype.name, "shape": list(array.shape), "offset": offset, "nbytes": len(data)}
        )
        chunks.append(data)
        offset += len(data)
    header = json.dumps({"format": fmt, **meta, "arrays": entries}, separators=(",", ":"))
    with open(path, "wb") as f:
        f.write(header.encode("utf-8") + b"\n")
        for chunk in chunks:
            f.write(chunk)


def read_arrays(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Reads a file written by :func:`write_arrays`: its header and its arrays by name."""
    raw = Path(path).read_bytes()
    end = raw.index(b"\n")
    header = json.loads(raw[:end])
    payload = raw[end + 1 :]
    arrays = {}
    for entry in header["arrays"]:
        chunk = payload[entry["offset"] : entry["offset"] + entry["nbytes"]]
        dtype = np.dtype(entry["dtype"]).newbyteorder("<")
        arrays[entry["name"]] = np.frombuffer(chunk, dtype=dtype).reshape(entry["shape"])
    if sum(e["nbytes"] for e in header["arrays"]) != len(payload):
        raise ValueError(f"{path}: the header's arrays do not account for the {len(payload)} payload bytes")
    return header, arrays
