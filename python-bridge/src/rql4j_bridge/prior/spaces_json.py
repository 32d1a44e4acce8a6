"""Gymnasium spaces <-> the JSON form of ``docs/prior-package.md`` (no torch needed).

``{"type": "Discrete", "n": N, "start": S}``,
``{"type": "Box", "shape": [...], "dtype": "float32", "low": [...flat C order...], "high": [...]}``
(infinite bounds as the strings ``"inf"`` / ``"-inf"``),
``{"type": "Dict", "spaces": {"key": space, ...}}`` (in the Dict space's key order),
``{"type": "Tuple", "spaces": [space, ...]}``, ``{"type": "MultiDiscrete", "nvec": [...]}``
(``"start"`` is added only when some start is non-zero), ``{"type": "MultiBinary", "n": [...]}``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

__all__ = ["SpaceJsonError", "flat_dim", "space_from_json", "space_to_json"]


class SpaceJsonError(ValueError):
    """A space's JSON form is malformed; ``field`` is the dotted path of the bad entry."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message


def _bound(x: float) -> float | str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if math.isnan(x):
        raise ValueError("Box bounds must not be NaN")
    return float(x)


def space_to_json(space: spaces.Space) -> dict[str, Any]:
    """The JSON form of a Gymnasium space; ValueError for spaces the format has no form for."""
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "shape": [int(d) for d in space.shape],
            "dtype": np.dtype(space.dtype).name,
            "low": [_bound(float(x)) for x in np.asarray(space.low, dtype=np.float64).ravel()],
            "high": [_bound(float(x)) for x in np.asarray(space.high, dtype=np.float64).ravel()],
        }
    if isinstance(space, spaces.MultiDiscrete):
        out: dict[str, Any] = {"type": "MultiDiscrete", "nvec": np.asarray(space.nvec, dtype=np.int64).tolist()}
        start = np.asarray(getattr(space, "start", 0), dtype=np.int64)
        if start.any():
            out["start"] = np.broadcast_to(start, np.shape(space.nvec)).tolist()
        return out
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "n": [int(d) for d in np.atleast_1d(space.n)]}
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {key: space_to_json(sub) for key, sub in space.spaces.items()}}
    if isinstance(space, spaces.Tuple):
        return {"type": "Tuple", "spaces": [space_to_json(sub) for sub in space.spaces]}
    raise ValueError(
        f"space {space!r} has no JSON form in rql4j-prior/1 "
        "(supported: Discrete, Box, MultiDiscrete, MultiBinary, Dict, Tuple)"
    )


def _need(obj: dict[str, Any], key: str, field: str, kinds: type | tuple[type, ...], what: str) -> Any:
    if key not in obj:
        raise SpaceJsonError(f"{field}.{key}", f"is missing (expected {what})")
    value = obj[key]
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise SpaceJsonError(f"{field}.{key}", f"expected {what}, got {type(value).__name__} {value!r:.80}")
    return value


def _int_list(value: Any, field: str) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise SpaceJsonError(field, f"expected a list of integers, got {value!r:.80}")
    return value


def _nested_ints(value: Any, field: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception:  # ragged lists
        raise SpaceJsonError(field, f"expected a (nested) list of integers, got {value!r:.80}") from None
    if array.size == 0 or array.dtype.kind not in "iu":
        raise SpaceJsonError(field, f"expected a non-empty (nested) list of integers, got {value!r:.80}")
    return array.astype(np.int64)


def _bounds(value: Any, field: str, size: int) -> np.ndarray:
    if not isinstance(value, list):
        raise SpaceJsonError(field, f"expected a flat list of {size} numbers (or 'inf' / '-inf'), got {value!r:.80}")
    if len(value) != size:
        raise SpaceJsonError(field, f"expected {size} entries (the product of shape), got {len(value)}")
    out = np.empty(size, dtype=np.float64)
    for i, v in enumerate(value):
        infinite = isinstance(v, str) and v in ("inf", "-inf", "+inf")
        finite = isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)
        if infinite or finite:
            out[i] = float(v)
        else:
            raise SpaceJsonError(f"{field}[{i}]", f"expected a number or 'inf' / '-inf', got {v!r:.40}")
    return out


def space_from_json(obj: Any, field: str = "space") -> spaces.Space:
    """The Gymnasium space of a JSON form; SpaceJsonError naming the bad entry (dotted path)."""
    if not isinstance(obj, dict):
        raise SpaceJsonError(field, f"expected a JSON object with a 'type', got {type(obj).__name__}")
    kind = _need(obj, "type", field, str, "a space type string")
    if kind == "Discrete":
        n = _need(obj, "n", field, int, "a positive integer")
        start = obj.get("start", 0)
        if not isinstance(start, int) or isinstance(start, bool):
            raise SpaceJsonError(f"{field}.start", f"expected an integer, got {start!r:.40}")
        if n <= 0:
            raise SpaceJsonError(f"{field}.n", f"must be positive, got {n}")
        return spaces.Discrete(n, start=start)
    if kind == "Box":
        shape = _int_list(_need(obj, "shape", field, list, "a list of dimensions"), f"{field}.shape")
        if any(d < 0 for d in shape):
            raise SpaceJsonError(f"{field}.shape", f"dimensions must be >= 0, got {shape}")
        dtype_name = _need(obj, "dtype", field, str, "a numpy dtype name such as 'float32'")
        try:
            dtype = np.dtype(dtype_name)
        except TypeError:
            raise SpaceJsonError(f"{field}.dtype", f"unknown dtype {dtype_name!r}") from None
        if dtype.kind not in "biuf":
            raise SpaceJsonError(f"{field}.dtype", f"expected a numeric dtype, got {dtype_name!r}")
        size = math.prod(shape)
        low = _bounds(_need(obj, "low", field, list, "a flat list of numbers"), f"{field}.low", size)
        high = _bounds(_need(obj, "high", field, list, "a flat list of numbers"), f"{field}.high", size)
        if (low > high).any():
            i = int(np.flatnonzero(low > high)[0])
            raise SpaceJsonError(f"{field}.low", f"low[{i}] = {low[i]} is above high[{i}] = {high[i]}")
        return spaces.Box(
            low.reshape(shape).astype(dtype), high.reshape(shape).astype(dtype), shape=tuple(shape), dtype=dtype
        )
    if kind == "MultiDiscrete":
        nvec = _nested_ints(_need(obj, "nvec", field, list, "a list of positive integers"), f"{field}.nvec")
        if (nvec <= 0).any():
            raise SpaceJsonError(f"{field}.nvec", f"entries must be positive, got {nvec.tolist()}")
        start = obj.get("start")
        if start is None:
            return spaces.MultiDiscrete(nvec)
        start_a = _nested_ints(start, f"{field}.start")
        if start_a.shape != nvec.shape:
            raise SpaceJsonError(f"{field}.start", f"expected shape {list(nvec.shape)}, got {list(start_a.shape)}")
        return spaces.MultiDiscrete(nvec, start=start_a)
    if kind == "MultiBinary":
        n = obj.get("n")
        if isinstance(n, int) and not isinstance(n, bool):
            n = [n]
        dims = _int_list(n, f"{field}.n")
        if not dims or any(d <= 0 for d in dims):
            raise SpaceJsonError(f"{field}.n", f"expected a non-empty list of positive integers, got {n!r:.40}")
        return spaces.MultiBinary(dims if len(dims) > 1 else dims[0])
    if kind == "Dict":
        subs = _need(obj, "spaces", field, dict, "an object of key -> space")
        if not subs:
            raise SpaceJsonError(f"{field}.spaces", "is empty")
        # A list of pairs keeps the JSON order (gymnasium sorts the keys of a plain dict).
        return spaces.Dict([(k, space_from_json(v, f"{field}.spaces.{k}")) for k, v in subs.items()])
    if kind == "Tuple":
        subs = _need(obj, "spaces", field, list, "a list of spaces")
        if not subs:
            raise SpaceJsonError(f"{field}.spaces", "is empty")
        return spaces.Tuple([space_from_json(v, f"{field}.spaces[{i}]") for i, v in enumerate(subs)])
    raise SpaceJsonError(
        f"{field}.type",
        f"unknown space type {kind!r} (expected Discrete, Box, MultiDiscrete, MultiBinary, Dict, Tuple)",
    )


def flat_dim(space: spaces.Space) -> int:
    """``gymnasium.spaces.flatdim`` (one-hot width for Discrete / MultiDiscrete leaves)."""
    return int(spaces.flatdim(space))
