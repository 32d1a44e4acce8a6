"""Unit tests of rql4j_bridge.tensors: Tensor / Value / Space conversions and the batched codec."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.tensors import (
    TensorError,
    UnsupportedSpaceError,
    ValueCodec,
    from_tensor,
    from_value,
    space_to_proto,
    to_tensor,
    to_value,
)

DTYPES = [
    (np.float32, pb.FLOAT32),
    (np.float64, pb.FLOAT64),
    (np.int8, pb.INT8),
    (np.int16, pb.INT16),
    (np.int32, pb.INT32),
    (np.int64, pb.INT64),
    (np.uint8, pb.UINT8),
    (np.bool_, pb.BOOL),
]


@pytest.mark.parametrize(("dtype", "enum"), DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3, 4)])
def test_tensor_round_trip(dtype: type, enum: int, shape: tuple[int, ...]) -> None:
    a = (np.arange(int(np.prod(shape))).reshape(shape) % 7).astype(dtype)
    t = to_tensor(a)
    assert t.dtype == enum and tuple(t.shape) == shape
    assert t.data == a.astype(np.dtype(dtype).newbyteorder("<")).tobytes()  # little-endian, C order
    back = from_tensor(t)
    assert back.dtype == np.dtype(dtype) and back.shape == shape and np.array_equal(back, a)


def test_tensor_layout() -> None:
    t = to_tensor(np.array([[1, 2], [3, 4]], np.int16))
    assert t.data == b"\x01\x00\x02\x00\x03\x00\x04\x00"
    assert to_tensor(np.array([True, False, True])).data == b"\x01\x00\x01"
    assert to_tensor(np.asfortranarray(np.arange(6, dtype=np.int8).reshape(2, 3))).data == bytes(range(6))
    assert from_tensor(pb.Tensor(dtype=pb.BOOL, shape=[2], data=b"\x00\x05")).tolist() == [False, True]


def test_from_tensor_errors() -> None:
    with pytest.raises(TensorError, match="needs 12 bytes, got 8"):
        from_tensor(pb.Tensor(dtype=pb.FLOAT32, shape=[3], data=b"\x00" * 8))
    with pytest.raises(TensorError, match="DTYPE_UNSPECIFIED"):
        from_tensor(pb.Tensor(shape=[1], data=b"\x00"))
    with pytest.raises(TensorError, match="negative"):
        from_tensor(pb.Tensor(dtype=pb.INT8, shape=[-1], data=b""))


def test_read_only_unless_writable() -> None:
    t = to_tensor(np.zeros(3, np.float32))
    assert not from_tensor(t).flags.writeable
    assert from_tensor(t, writable=True).flags.writeable


def test_unsupported_dtype() -> None:
    with pytest.raises(UnsupportedSpaceError, match="float16"):
        to_tensor(np.zeros(2, np.float16))


def test_value_round_trip() -> None:
    x = {"b": np.ones((2, 3), np.float32), "a": (np.arange(2), np.array([True, False]))}
    v = to_value(x)
    assert [e.key for e in v.dict.entries] == ["b", "a"]
    back = from_value(v)
    assert list(back) == ["b", "a"] and np.array_equal(back["b"], x["b"])
    assert np.array_equal(back["a"][0], x["a"][0]) and back["a"][1].tolist() == [True, False]
    with pytest.raises(TensorError, match="empty"):
        from_value(pb.Value())


def test_to_value_follows_space() -> None:
    space = spaces.Dict({"z": spaces.Discrete(3, dtype=np.int32), "a": spaces.MultiBinary(2)})
    v = to_value({"a": np.array([1, 0]), "z": np.int32(2)}, space)
    assert [e.key for e in v.dict.entries] == ["a", "z"]  # the space's (sorted) order
    assert v.dict.entries[0].value.tensor.dtype == pb.INT8
    assert v.dict.entries[1].value.tensor.dtype == pb.INT64


def test_space_protos() -> None:
    d = space_to_proto(spaces.Discrete(4, start=-1))
    assert (d.discrete.n, d.discrete.start) == (4, -1)
    b = space_to_proto(spaces.Box(np.array([0.0, -np.inf], np.float32), np.array([1.0, np.inf], np.float32)))
    assert list(b.box.shape) == [2] and b.box.dtype == pb.FLOAT32
    assert from_tensor(b.box.low).tolist() == [0.0, -np.inf] and b.box.low.dtype == pb.FLOAT64
    assert from_tensor(b.box.high).tolist() == [1.0, np.inf]
    scalar_bounds = space_to_proto(spaces.Box(0, 255, (2, 2), np.uint8))
    assert from_tensor(scalar_bounds.box.high).shape == (2, 2)  # full tensors, not scalars
    md = space_to_proto(
        spaces.MultiDiscrete(np.array([[2, 3], [4, 5]]), start=np.array([[0, 1], [2, 3]]), dtype=np.int32)
    )
    assert from_tensor(md.multi_discrete.nvec).tolist() == [[2, 3], [4, 5]]
    assert md.multi_discrete.nvec.dtype == pb.INT64 and md.multi_discrete.dtype == pb.INT32
    assert from_tensor(md.multi_discrete.start).tolist() == [[0, 1], [2, 3]]
    assert list(space_to_proto(spaces.MultiBinary([2, 3])).multi_binary.shape) == [2, 3]
    nested = space_to_proto(spaces.Tuple((spaces.Discrete(2), spaces.Dict({"x": spaces.Discrete(3)}))))
    assert nested.tuple.spaces[1].dict.entries[0].key == "x"


@pytest.mark.parametrize(
    "space",
    [
        spaces.Text(4),
        spaces.Graph(spaces.Box(0, 1, (2,)), None),
        spaces.Sequence(spaces.Discrete(2)),
        spaces.Box(0, 1, (2,), np.float16),
        spaces.Dict({"ok": spaces.Discrete(2), "bad": spaces.Text(3)}),
    ],
)
def test_unsupported_spaces(space: spaces.Space) -> None:
    with pytest.raises(UnsupportedSpaceError, match="supported|float16"):
        space_to_proto(space)
    with pytest.raises(UnsupportedSpaceError):
        ValueCodec(space, 2)


def test_codec_decode_and_validate() -> None:
    codec = ValueCodec(spaces.Discrete(3, start=1, dtype=np.int32), 2, "action")
    out = codec.decode(to_value(np.array([1, 3], np.int64)))
    assert out.dtype == np.int32 and out.tolist() == [1, 3] and out.flags.writeable
    assert codec.decode(to_value(np.array([2, 2], np.uint8))).tolist() == [2, 2]
    with pytest.raises(TensorError, match=r"copy 0 .* 0 is not in Discrete\(3, start=1"):
        codec.decode(to_value(np.array([0, 2], np.int64)))
    with pytest.raises(TensorError, match="expected 2 .* got 3"):
        codec.decode(to_value(np.array([1, 2, 3], np.int64)))
    with pytest.raises(TensorError, match="no batch dimension"):
        codec.decode(to_value(np.int64(1)))
    box = ValueCodec(spaces.Box(-1, 1, (2,), np.float32), 3, "action")
    with pytest.raises(TensorError, match="copy 2"):
        box.decode(to_value(np.array([[0, 0], [1, -1], [0, 1.01]], np.float32)))
    with pytest.raises(TensorError, match="expected dtype FLOAT32 .* got INT64"):
        box.decode(to_value(np.zeros((3, 2), np.int64)))
    md = ValueCodec(spaces.MultiDiscrete([2, 3]), 2, "action")
    with pytest.raises(TensorError, match="copy 1"):
        md.decode(to_value(np.array([[1, 2], [1, 3]])))
    mb = ValueCodec(spaces.MultiBinary(2), 1, "action")
    with pytest.raises(TensorError, match="copy 0"):
        mb.decode(to_value(np.array([[0, 2]], np.int8)))


def test_codec_encode_and_stack() -> None:
    space = spaces.Dict({"a": spaces.Box(0, 1, (2,), np.float32), "d": spaces.Discrete(4, dtype=np.int16)})
    codec = ValueCodec(space, 3)
    rows = [None, {"a": np.array([0.5, 1.0], np.float32), "d": np.int16(3)}, None]
    stacked = codec.stack(rows)
    assert stacked["a"].tolist() == [[0, 0], [0.5, 1.0], [0, 0]] and stacked["d"].tolist() == [0, 3, 0]
    v = codec.encode(stacked)
    assert v.dict.entries[1].value.tensor.dtype == pb.INT64  # Discrete travels as INT64
    assert from_value(v)["d"].tolist() == [0, 3, 0]


def test_a_bool_box_action_normalizes_any_nonzero_byte() -> None:
    from rql4j_bridge.tensors import ValueCodec

    codec = ValueCodec(spaces.Box(0, 1, (3,), dtype=bool), 1, "action")
    value = pb.Value(tensor=pb.Tensor(dtype=pb.BOOL, shape=[1, 3], data=bytes([0, 2, 1])))
    out = codec.decode(value)
    assert out.dtype == np.bool_ and out.tolist() == [[False, True, True]]
    assert out.view(np.uint8).tolist() == [[0, 1, 1]]
