"""Conversions between numpy / Gymnasium values and the rql4j.v1 wire messages.

* :func:`to_tensor` / :func:`from_tensor`: one numpy array <-> ``Tensor`` (raw little-endian
  bytes, dtype enum, shape, C order; BOOL is one byte per element).
* :func:`to_value` / :func:`from_value`: nested numpy / dict / tuple <-> ``Value``.
* :func:`space_to_proto`: a Gymnasium space -> ``Space`` (Discrete, Box, MultiDiscrete,
  MultiBinary, Dict, Tuple; anything else raises :class:`UnsupportedSpaceError`).
* :class:`ValueCodec`: precomputed, validating conversions of *batched* values of one space,
  used on the server's hot path (observations out, actions in).

Wire dtypes follow the proto: Discrete values travel as INT64, MultiBinary as INT8, Box and
MultiDiscrete in the space's own dtype.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
from gymnasium import spaces

from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb

Nested: TypeAlias = "np.ndarray | dict[str, Nested] | tuple[Nested, ...]"

__all__ = [
    "Nested",
    "TensorError",
    "UnsupportedSpaceError",
    "ValueCodec",
    "dtype_enum",
    "dtype_name",
    "from_tensor",
    "from_value",
    "numpy_dtype",
    "space_to_proto",
    "to_tensor",
    "to_value",
    "wire_dtype",
]


class TensorError(ValueError):
    """A Tensor / Value that is malformed or does not match what was expected."""


class UnsupportedSpaceError(TypeError):
    """A Gymnasium space (or dtype) that rql4j.v1 cannot carry."""


# Wire dtypes: explicit little-endian numpy dtypes per DType enum value.
_WIRE: dict[pb.DType, np.dtype] = {
    pb.FLOAT32: np.dtype("<f4"),
    pb.FLOAT64: np.dtype("<f8"),
    pb.INT8: np.dtype("i1"),
    pb.INT16: np.dtype("<i2"),
    pb.INT32: np.dtype("<i4"),
    pb.INT64: np.dtype("<i8"),
    pb.UINT8: np.dtype("u1"),
    pb.BOOL: np.dtype("?"),
}
# numpy dtype names are independent of byte order, so they key the reverse lookup.
_ENUM_BY_NAME: dict[str, pb.DType] = {dt.name: enum for enum, dt in _WIRE.items()}
_NATIVE: dict[pb.DType, np.dtype] = {enum: dt.newbyteorder("=") for enum, dt in _WIRE.items()}
_INTEGER_ENUMS = frozenset({pb.INT8, pb.INT16, pb.INT32, pb.INT64, pb.UINT8})

_PY_CHECK_MAX = 64  # batches up to this size get their Discrete range check in Python, not numpy

_SUPPORTED_SPACES = "Discrete, Box, MultiDiscrete, MultiBinary, Dict, Tuple"


def dtype_enum(dtype: npt.DTypeLike) -> pb.DType:
    """The DType enum value of a numpy dtype; raises UnsupportedSpaceError for others (float16, uint32...)."""
    dt = np.dtype(dtype)
    try:
        return _ENUM_BY_NAME[dt.name]
    except KeyError:
        raise UnsupportedSpaceError(
            f"numpy dtype {dt.name} has no rql4j.v1 DType (supported: {', '.join(_ENUM_BY_NAME)})"
        ) from None


def dtype_name(enum: int) -> str:
    """The proto name of a DType enum value ("FLOAT32"), or a description of an unknown one."""
    try:
        return pb.DType.Name(enum)
    except ValueError:
        return f"unknown DType {enum}"


def numpy_dtype(enum: pb.DType) -> np.dtype:
    """The (native byte order) numpy dtype of a DType enum value."""
    try:
        return _NATIVE[enum]
    except KeyError:
        raise TensorError(f"tensor dtype {dtype_name(enum)} is not a supported element type") from None


def to_tensor(array: Any, dtype: npt.DTypeLike | None = None) -> pb.Tensor:
    """A numpy array (or array-like) as a Tensor, optionally cast to ``dtype`` first."""
    a = np.asarray(array, dtype=dtype)
    enum = dtype_enum(a.dtype)
    wire = _WIRE[enum]
    if a.dtype != wire:
        a = a.astype(wire)
    return pb.Tensor(dtype=enum, shape=a.shape, data=a.tobytes())


def from_tensor(tensor: pb.Tensor, *, writable: bool = False) -> np.ndarray:
    """A Tensor as a numpy array in native byte order.

    Read-only (a view of the message's bytes) unless ``writable``. Raises TensorError when the
    dtype is unknown or the byte count does not match the shape.
    """
    enum = tensor.dtype
    wire = _WIRE.get(enum)
    if wire is None:
        raise TensorError(f"tensor dtype {dtype_name(enum)} is not a supported element type")
    shape = tuple(tensor.shape)
    if any(d < 0 for d in shape):
        raise TensorError(f"tensor shape {list(shape)} has a negative dimension")
    data = tensor.data
    expected = math.prod(shape) * wire.itemsize
    if len(data) != expected:
        raise TensorError(
            f"tensor of dtype {dtype_name(enum)} and shape {list(shape)} needs {expected} bytes, got {len(data)}"
        )
    if enum == pb.BOOL:  # normalise any non-zero byte to True
        return np.frombuffer(data, dtype=np.uint8).reshape(shape) != 0
    a = np.frombuffer(data, dtype=wire).reshape(shape)
    if not wire.isnative:
        return a.astype(_NATIVE[enum])
    return a.copy() if writable else a


def wire_dtype(space: spaces.Space) -> np.dtype:
    """The dtype that values of a leaf space travel as (Discrete: int64, MultiBinary: int8)."""
    if isinstance(space, spaces.Discrete):
        return _WIRE[pb.INT64]
    if isinstance(space, spaces.MultiBinary):
        return _WIRE[pb.INT8]
    if isinstance(space, (spaces.Box, spaces.MultiDiscrete)):
        return _WIRE[dtype_enum(space.dtype)]
    raise UnsupportedSpaceError(_unsupported_message(space))


def _unsupported_message(space: Any) -> str:
    return (
        f"space {space!r} ({type(space).__module__}.{type(space).__qualname__}) cannot travel over "
        f"rql4j.v1; supported spaces: {_SUPPORTED_SPACES}"
    )


def space_to_proto(space: spaces.Space) -> pb.Space:
    """The Space message of a Gymnasium space; raises UnsupportedSpaceError (e.g. Text, Graph)."""
    if isinstance(space, spaces.Discrete):
        return pb.Space(discrete=pb.DiscreteSpace(n=int(space.n), start=int(space.start)))
    if isinstance(space, spaces.Box):
        return pb.Space(
            box=pb.BoxSpace(
                shape=space.shape,
                dtype=dtype_enum(space.dtype),
                low=to_tensor(space.low, np.float64),
                high=to_tensor(space.high, np.float64),
            )
        )
    if isinstance(space, spaces.MultiDiscrete):
        return pb.Space(
            multi_discrete=pb.MultiDiscreteSpace(
                nvec=to_tensor(space.nvec, np.int64),
                start=to_tensor(space.start, np.int64),
                dtype=dtype_enum(space.dtype),
            )
        )
    if isinstance(space, spaces.MultiBinary):
        return pb.Space(multi_binary=pb.MultiBinarySpace(shape=space.shape))
    if isinstance(space, spaces.Dict):
        entries = [pb.NamedSpace(key=key, space=space_to_proto(sub)) for key, sub in space.spaces.items()]
        return pb.Space(dict=pb.DictSpace(entries=entries))
    if isinstance(space, spaces.Tuple):
        return pb.Space(tuple=pb.TupleSpace(spaces=[space_to_proto(sub) for sub in space.spaces]))
    raise UnsupportedSpaceError(_unsupported_message(space))


def to_value(x: Any, space: spaces.Space | None = None) -> pb.Value:
    """A (possibly nested, possibly batched) value as a Value.

    With ``space``, Dict entries follow the space's key order and leaves are cast to the space's
    wire dtype; without it, mappings become DictValue (in their own order), tuples TupleValue,
    anything else a Tensor.
    """
    if space is None:
        if isinstance(x, Mapping):
            return pb.Value(dict=pb.DictValue(entries=[pb.NamedValue(key=k, value=to_value(v)) for k, v in x.items()]))
        if isinstance(x, tuple):
            return pb.Value(tuple=pb.TupleValue(items=[to_value(v) for v in x]))
        return pb.Value(tensor=to_tensor(x))
    if isinstance(space, spaces.Dict):
        return pb.Value(
            dict=pb.DictValue(
                entries=[pb.NamedValue(key=k, value=to_value(x[k], sub)) for k, sub in space.spaces.items()]
            )
        )
    if isinstance(space, spaces.Tuple):
        return pb.Value(tuple=pb.TupleValue(items=[to_value(v, sub) for v, sub in zip(x, space.spaces, strict=True)]))
    return pb.Value(tensor=to_tensor(x, wire_dtype(space)))


def from_value(value: pb.Value, *, writable: bool = False) -> Nested:
    """A Value as numpy arrays nested in dicts (DictValue, in entry order) and tuples (TupleValue)."""
    kind = value.WhichOneof("kind")
    if kind == "tensor":
        return from_tensor(value.tensor, writable=writable)
    if kind == "dict":
        return {e.key: from_value(e.value, writable=writable) for e in value.dict.entries}
    if kind == "tuple":
        return tuple(from_value(v, writable=writable) for v in value.tuple.items)
    raise TensorError("value is empty (none of tensor / dict / tuple is set)")


# ---------------------------------------------------------------------------------------------
# Batched, validating codec
# ---------------------------------------------------------------------------------------------


class _Leaf:
    """A Discrete / Box / MultiDiscrete / MultiBinary space, batched."""

    __slots__ = (
        "space",
        "batch",
        "shape",
        "enum",
        "wire",
        "native",
        "nbytes",
        "env_dtype",
        "integer",
        "accepted",
        "low",
        "high",
        "scalar_bounds",
    )

    def __init__(self, space: spaces.Space, batch: int) -> None:
        self.space = space
        self.batch = batch
        self.shape: tuple[int, ...] = (batch, *(space.shape or ()))
        self.wire = wire_dtype(space)
        self.enum = dtype_enum(self.wire)
        self.native = self.wire.isnative
        self.nbytes = math.prod(self.shape) * self.wire.itemsize
        self.env_dtype = np.dtype(space.dtype)
        self.integer = np.issubdtype(self.env_dtype, np.integer)
        # Wire dtypes accepted for actions besides the exact one (cast after the range check).
        accepted = set(_INTEGER_ENUMS) if self.integer else set()
        if isinstance(space, spaces.MultiBinary):
            accepted.add(pb.BOOL)
        self.accepted = frozenset(accepted - {self.enum})
        # Inclusive bounds used by the vectorized `contains` check (None: MultiBinary's {0, 1}).
        self.low: Any
        self.high: Any
        if isinstance(space, spaces.Discrete):
            self.low, self.high = int(space.start), int(space.start) + int(space.n) - 1
        elif isinstance(space, spaces.MultiDiscrete):
            self.low = space.start.astype(np.int64)
            self.high = self.low + space.nvec.astype(np.int64) - 1
        elif isinstance(space, spaces.Box):
            self.low, self.high = space.low, space.high
        else:
            self.low = self.high = None
        self.scalar_bounds = isinstance(space, spaces.Discrete)

    def encode(self, x: Any) -> pb.Value:
        if type(x) is not np.ndarray:
            x = np.asarray(x)
        if x.dtype != self.wire:
            x = x.astype(self.wire)
        return pb.Value(tensor=pb.Tensor(dtype=self.enum, shape=x.shape, data=x.tobytes()))

    def decode(self, value: pb.Value, path: str) -> tuple[np.ndarray, np.ndarray | bool]:
        kind = value.WhichOneof("kind")
        if kind != "tensor":
            raise TensorError(f"{path}: expected a tensor for {self.space}, got {kind or 'an empty value'}")
        tensor = value.tensor
        shape = tuple(tensor.shape)
        if shape != self.shape:
            if not shape or shape[0] != self.batch:
                got = shape[0] if shape else "no batch dimension"
                raise TensorError(
                    f"{path}: wrong batch size: expected {self.batch} (num_envs) along the leading "
                    f"dimension, got {got} (expected shape {list(self.shape)}, got {list(shape)})"
                )
            raise TensorError(
                f"{path}: expected shape {list(self.shape)} ([num_envs, *shape] of {self.space}), got {list(shape)}"
            )
        if tensor.dtype == self.enum and self.native and self.enum != pb.BOOL:  # BOOL: from_tensor normalizes bytes
            # The common case (the exact wire dtype): the bytes as an array without from_tensor's generic checks.
            data = tensor.data
            if len(data) != self.nbytes:
                raise TensorError(
                    f"{path}: tensor of dtype {dtype_name(self.enum)} and shape {list(shape)} needs {self.nbytes} "
                    f"bytes, got {len(data)}"
                )
            a = np.frombuffer(data, dtype=self.wire).reshape(shape)
            checked = a
        elif tensor.dtype != self.enum and tensor.dtype not in self.accepted:
            raise TensorError(
                f"{path}: expected dtype {dtype_name(self.enum)} for {self.space}, got {dtype_name(tensor.dtype)}"
            )
        else:
            a = from_tensor(tensor)
            checked = a if tensor.dtype == self.enum or not self.integer else a.astype(np.int64)
        # astype copies: the env gets a writable array of its own dtype.
        if self.scalar_bounds and checked.dtype == np.int64 and self.batch <= _PY_CHECK_MAX:
            values = checked.tolist()  # Discrete: a Python min / max beats numpy's ufuncs on a few values
            if min(values) >= self.low and max(values) <= self.high:
                return a.astype(self.env_dtype), True
        if self.low is None:
            inside = (checked == 0) | (checked == 1)
        else:
            inside = (checked >= self.low) & (checked <= self.high)
        if inside.all():
            return a.astype(self.env_dtype), True
        ok = inside if inside.ndim == 1 else inside.reshape(self.batch, -1).all(axis=1)
        return a.astype(self.env_dtype), ok

    def zeros(self) -> np.ndarray:
        return np.zeros(self.shape, dtype=self.env_dtype)

    def stack(self, rows: Sequence[Any]) -> np.ndarray:
        out = self.zeros()
        for i, row in enumerate(rows):
            if row is not None:
                out[i] = row
        return out

    def row(self, x: Any, i: int) -> Any:
        return x[i]


class _DictNode:
    __slots__ = ("space", "children", "keys")

    def __init__(self, space: spaces.Dict, batch: int) -> None:
        self.space = space
        self.children: list[tuple[str, _Node]] = [(k, _node(sub, batch)) for k, sub in space.spaces.items()]
        self.keys = [k for k, _ in self.children]

    def encode(self, x: Mapping[str, Any]) -> pb.Value:
        entries = [pb.NamedValue(key=k, value=node.encode(x[k])) for k, node in self.children]
        return pb.Value(dict=pb.DictValue(entries=entries))

    def decode(self, value: pb.Value, path: str) -> tuple[dict[str, Any], np.ndarray | bool]:
        kind = value.WhichOneof("kind")
        if kind != "dict":
            raise TensorError(f"{path}: expected a dict value with keys {self.keys}, got {kind or 'an empty value'}")
        by_key = {e.key: e.value for e in value.dict.entries}
        got = [e.key for e in value.dict.entries]
        if len(by_key) != len(got) or set(by_key) != set(self.keys):
            raise TensorError(f"{path}: expected dict keys {self.keys}, got {got}")
        out: dict[str, Any] = {}
        ok: np.ndarray | bool | None = None
        for k, node in self.children:
            out[k], sub_ok = node.decode(by_key[k], f"{path}[{k!r}]")
            ok = sub_ok if ok is None else ok & sub_ok
        assert ok is not None  # gymnasium Dict spaces are never empty in practice
        return out, ok

    def zeros(self) -> dict[str, Any]:
        return {k: node.zeros() for k, node in self.children}

    def stack(self, rows: Sequence[Any]) -> dict[str, Any]:
        return {k: node.stack([None if r is None else r[k] for r in rows]) for k, node in self.children}

    def row(self, x: Any, i: int) -> dict[str, Any]:
        return {k: node.row(x[k], i) for k, node in self.children}


class _TupleNode:
    __slots__ = ("space", "children")

    def __init__(self, space: spaces.Tuple, batch: int) -> None:
        self.space = space
        self.children: list[_Node] = [_node(sub, batch) for sub in space.spaces]

    def encode(self, x: Sequence[Any]) -> pb.Value:
        return pb.Value(tuple=pb.TupleValue(items=[node.encode(v) for node, v in zip(self.children, x, strict=True)]))

    def decode(self, value: pb.Value, path: str) -> tuple[tuple[Any, ...], np.ndarray | bool]:
        kind = value.WhichOneof("kind")
        n = len(self.children)
        if kind != "tuple":
            raise TensorError(f"{path}: expected a tuple value of {n} items, got {kind or 'an empty value'}")
        items = value.tuple.items
        if len(items) != n:
            raise TensorError(f"{path}: expected a tuple of {n} items, got {len(items)}")
        out = []
        ok: np.ndarray | bool | None = None
        for i, (node, item) in enumerate(zip(self.children, items, strict=True)):
            v, sub_ok = node.decode(item, f"{path}[{i}]")
            out.append(v)
            ok = sub_ok if ok is None else ok & sub_ok
        assert ok is not None
        return tuple(out), ok

    def zeros(self) -> tuple[Any, ...]:
        return tuple(node.zeros() for node in self.children)

    def stack(self, rows: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(node.stack([None if r is None else r[j] for r in rows]) for j, node in enumerate(self.children))

    def row(self, x: Any, i: int) -> tuple[Any, ...]:
        return tuple(node.row(v, i) for node, v in zip(self.children, x, strict=True))


_Node: TypeAlias = "_Leaf | _DictNode | _TupleNode"


def _node(space: spaces.Space, batch: int) -> _Node:
    if isinstance(space, spaces.Dict):
        return _DictNode(space, batch)
    if isinstance(space, spaces.Tuple):
        return _TupleNode(space, batch)
    if isinstance(space, (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)):
        return _Leaf(space, batch)
    raise UnsupportedSpaceError(_unsupported_message(space))


class ValueCodec:
    """Conversions of batched values (leading dimension ``batch``) of one single-copy ``space``.

    Everything that depends only on the space (dtypes, shapes, bounds) is computed once here.
    ``decode`` validates structure, dtype and shape and checks every copy against the space.
    """

    __slots__ = ("space", "batch", "name", "_root")

    def __init__(self, space: spaces.Space, batch: int, name: str = "value") -> None:
        self.space = space
        self.batch = batch
        self.name = name
        self._root = _node(space, batch)

    def encode(self, x: Any) -> pb.Value:
        """A batched value (as Gymnasium's vector env returns it) as a Value."""
        return self._root.encode(x)

    def flat_tensor(self) -> pb.Tensor | None:
        """For a flat (Box / Discrete / MultiDiscrete / MultiBinary) space, the batched Tensor's dtype and
        shape without data (a template :meth:`flat_bytes` fills); None for Dict / Tuple spaces."""
        root = self._root
        if not isinstance(root, _Leaf):
            return None
        return pb.Tensor(dtype=root.enum, shape=root.shape)

    def flat_bytes(self, x: Any) -> bytes | None:
        """The data bytes :meth:`encode` would put in the Tensor of a flat space's batched ``x``, or None
        when ``x`` is not an array of the batched shape (the caller then uses :meth:`encode`)."""
        root = self._root
        if type(x) is not np.ndarray or x.shape != root.shape:
            return None
        return (x if x.dtype == root.wire else x.astype(root.wire)).tobytes()

    def decode(self, value: pb.Value) -> Any:
        """A batched Value as numpy in the space's dtypes; TensorError when malformed or outside the space."""
        out, ok = self._root.decode(value, self.name)
        if ok is not True and not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            row = self._root.row(out, i)
            raise TensorError(
                f"{self.name} for copy {i} is outside the {self.name} space: {_show(row)} is not in {self.space}"
            )
        return out

    def stack(self, rows: Sequence[Any]) -> Any:
        """Batches single-copy values, zeros where a row is None."""
        return self._root.stack(rows)

    def zeros(self) -> Any:
        return self._root.zeros()


def _show(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return np.array2string(x, separator=", ", threshold=20)
    if isinstance(x, np.generic):
        return repr(x.item())
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in x.items()) + "}"
    if isinstance(x, tuple):
        return "(" + ", ".join(_show(v) for v in x) + ")"
    return repr(x)
