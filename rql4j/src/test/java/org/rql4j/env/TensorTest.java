package org.rql4j.env;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TensorTest {

  @Test
  void bytesAreLittleEndianCOrder() {
    Tensor t = Tensor.ofFloats(new float[] {1f, -2f, 3.5f, 0f, 5f, 6f}, 2, 3);
    assertArrayEquals(new long[] {2, 3}, t.shape());
    // 1.0f = 0x3f800000 little-endian
    assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3f}, java.util.Arrays.copyOf(t.data(), 4));
    assertArrayEquals(new float[] {0f, 5f, 6f}, t.row(1).toFloatArray());
    assertArrayEquals(new double[] {1, -2, 3.5, 0, 5, 6}, t.toDoubleArray());
  }

  @Test
  void conversionsAcrossDtypes() {
    assertArrayEquals(new long[] {3, -1}, Tensor.ofLongs(new long[] {3, -1}).toLongArray());
    assertArrayEquals(new float[] {3f, -1f}, Tensor.ofInts(new int[] {3, -1}).toFloatArray());
    assertArrayEquals(new boolean[] {true, false, true},
        Tensor.ofBooleans(new boolean[] {true, false, true}).toBooleanArray());
    Tensor u8 = new Tensor(DType.UINT8, new long[] {2}, new byte[] {(byte) 255, 1});
    assertArrayEquals(new double[] {255, 1}, u8.toDoubleArray());
    assertArrayEquals(new long[] {1}, Tensor.ofLongs(new long[] {4}).shape(), "no shape means 1-d");
    Tensor scalar = Tensor.scalar(4L);
    assertEquals(0, scalar.shape().length);
    assertEquals(4, scalar.getLong(0));
  }

  @Test
  void wrongSizesAreRefusedWithTheShape() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Tensor(DType.FLOAT32, new long[] {2, 3}, new byte[20]));
    assertTrue(e.getMessage().contains("[2, 3]"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Tensor.ofFloats(new float[5], 2, 3));
    assertThrows(IllegalArgumentException.class,
        () -> Tensor.stack(List.of(Tensor.ofFloats(new float[2]), Tensor.ofFloats(new float[3]))));
  }

  @Test
  void stackAndRowInvertEachOtherForNestedValues() {
    Value a = new Value.Dict(Map.of("x", Tensor.ofFloats(new float[] {1, 2})));
    Value b = new Value.Dict(Map.of("x", Tensor.ofFloats(new float[] {3, 4})));
    Value batch = Value.stack(List.of(a, b));
    assertArrayEquals(new long[] {2, 2}, ((Tensor) ((Value.Dict) batch).get("x")).shape());
    assertEquals(b, batch.row(1));
    Value tup = Value.stack(List.of(new Value.Tuple(List.of(Tensor.ofLongs(new long[] {1}))),
        new Value.Tuple(List.of(Tensor.ofLongs(new long[] {2})))));
    assertEquals(new Value.Tuple(List.of(Tensor.ofLongs(new long[] {2}))), tup.row(1));
  }

  @Test
  void spacesCheckMembership() {
    Space.Discrete d = new Space.Discrete(3, 1);
    assertTrue(d.contains(Tensor.scalar(3L)));
    assertFalse(d.contains(Tensor.scalar(0L)));
    Space.Box box = new Space.Box(new long[] {2}, DType.FLOAT32, new double[] {-1, -1}, new double[] {1, 1});
    assertTrue(box.contains(Tensor.ofFloats(new float[] {0.5f, -1f})));
    assertFalse(box.contains(Tensor.ofFloats(new float[] {Float.NaN, 0f})));
    assertFalse(box.contains(Tensor.ofFloats(new float[] {0.5f})));
    assertEquals(2, box.flatDim());
    assertEquals(3, d.flatDim());
  }
}
