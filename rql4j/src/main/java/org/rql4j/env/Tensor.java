package org.rql4j.env;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/**
 * A dense array as it travels between Java and Python: little-endian bytes in C order with a dtype
 * and a shape (the wire form of {@code rql4j.v1.Tensor}). Immutable by convention: the accessors
 * copy. A scalar has an empty shape.
 */
public record Tensor(DType dtype, long[] shape, byte[] data) implements Value {

  public Tensor {
    shape = shape.clone();
    long n = numel(shape);
    if ((long) data.length != n * dtype.itemSize()) {
      throw new IllegalArgumentException(
          "tensor data has " + data.length + " bytes but " + dtype + Arrays.toString(shape)
              + " needs " + n * dtype.itemSize());
    }
  }

  /** Number of elements of a shape. */
  public static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
      n *= d;
    }
    return n;
  }

  private static ByteBuffer allocate(long n, DType dtype) {
    return ByteBuffer.allocate(Math.toIntExact(n * dtype.itemSize())).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static long[] shapeOr(long[] shape, int length) {
    if (shape.length == 0) {
      return new long[] {length};
    }
    if (numel(shape) != length) {
      throw new IllegalArgumentException(
          length + " values do not fill shape " + Arrays.toString(shape));
    }
    return shape;
  }

  /** A 0-d INT64 tensor (one Discrete action). */
  public static Tensor scalar(long value) {
    return new Tensor(DType.INT64, new long[0], allocate(1, DType.INT64).putLong(0, value).array());
  }

  /** A 0-d FLOAT64 tensor. */
  public static Tensor scalar(double value) {
    return new Tensor(DType.FLOAT64, new long[0], allocate(1, DType.FLOAT64).putDouble(0, value).array());
  }

  /** FLOAT32 tensor; with no shape given, a 1-d tensor of the values' length. */
  public static Tensor ofFloats(float[] values, long... shape) {
    ByteBuffer b = allocate(values.length, DType.FLOAT32);
    b.asFloatBuffer().put(values);
    return new Tensor(DType.FLOAT32, shapeOr(shape, values.length), b.array());
  }

  /** FLOAT64 tensor; with no shape given, a 1-d tensor of the values' length. */
  public static Tensor ofDoubles(double[] values, long... shape) {
    ByteBuffer b = allocate(values.length, DType.FLOAT64);
    b.asDoubleBuffer().put(values);
    return new Tensor(DType.FLOAT64, shapeOr(shape, values.length), b.array());
  }

  /** INT64 tensor; with no shape given, a 1-d tensor of the values' length. */
  public static Tensor ofLongs(long[] values, long... shape) {
    ByteBuffer b = allocate(values.length, DType.INT64);
    b.asLongBuffer().put(values);
    return new Tensor(DType.INT64, shapeOr(shape, values.length), b.array());
  }

  /** INT32 tensor; with no shape given, a 1-d tensor of the values' length. */
  public static Tensor ofInts(int[] values, long... shape) {
    ByteBuffer b = allocate(values.length, DType.INT32);
    b.asIntBuffer().put(values);
    return new Tensor(DType.INT32, shapeOr(shape, values.length), b.array());
  }

  /** BOOL tensor; with no shape given, a 1-d tensor of the values' length. */
  public static Tensor ofBooleans(boolean[] values, long... shape) {
    byte[] data = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      data[i] = (byte) (values[i] ? 1 : 0);
    }
    return new Tensor(DType.BOOL, shapeOr(shape, values.length), data);
  }

  /** Number of elements. */
  public long numel() {
    return numel(shape);
  }

  /** A copy of the shape. */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** A copy of the raw little-endian bytes. */
  @Override
  public byte[] data() {
    return data.clone();
  }

  /** The raw bytes without copying; callers must not modify them. */
  public byte[] rawData() {
    return data;
  }

  private ByteBuffer buffer() {
    return ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Element {@code i} (flat C-order index) as a double, whatever the dtype. */
  public double getDouble(int i) {
    ByteBuffer b = buffer();
    return switch (dtype) {
      case FLOAT32 -> b.getFloat(i * 4);
      case FLOAT64 -> b.getDouble(i * 8);
      case INT8, BOOL -> data[i];
      case UINT8 -> data[i] & 0xff;
      case INT16 -> b.getShort(i * 2);
      case INT32 -> b.getInt(i * 4);
      case INT64 -> b.getLong(i * 8);
    };
  }

  /** Element {@code i} (flat C-order index) as a long; floats are truncated. */
  public long getLong(int i) {
    return dtype == DType.INT64 ? buffer().getLong(i * 8) : (long) getDouble(i);
  }

  /** All elements as floats (converted from any dtype). */
  public float[] toFloatArray() {
    int n = Math.toIntExact(numel());
    float[] out = new float[n];
    if (dtype == DType.FLOAT32) {
      buffer().asFloatBuffer().get(out);
    } else {
      for (int i = 0; i < n; i++) {
        out[i] = (float) getDouble(i);
      }
    }
    return out;
  }

  /** All elements as doubles (converted from any dtype). */
  public double[] toDoubleArray() {
    int n = Math.toIntExact(numel());
    double[] out = new double[n];
    if (dtype == DType.FLOAT64) {
      buffer().asDoubleBuffer().get(out);
    } else {
      for (int i = 0; i < n; i++) {
        out[i] = getDouble(i);
      }
    }
    return out;
  }

  /** All elements as longs (floats truncated). */
  public long[] toLongArray() {
    int n = Math.toIntExact(numel());
    long[] out = new long[n];
    if (dtype == DType.INT64) {
      buffer().asLongBuffer().get(out);
    } else {
      for (int i = 0; i < n; i++) {
        out[i] = getLong(i);
      }
    }
    return out;
  }

  /** All elements as booleans (non-zero is true). */
  public boolean[] toBooleanArray() {
    int n = Math.toIntExact(numel());
    boolean[] out = new boolean[n];
    for (int i = 0; i < n; i++) {
      out[i] = getDouble(i) != 0;
    }
    return out;
  }

  @Override
  public Tensor row(int i) {
    if (shape.length == 0) {
      throw new IllegalArgumentException("a scalar tensor has no rows");
    }
    if (i < 0 || i >= shape[0]) {
      throw new IndexOutOfBoundsException("row " + i + " of a tensor with " + shape[0] + " rows");
    }
    long[] rowShape = Arrays.copyOfRange(shape, 1, shape.length);
    int rowBytes = Math.toIntExact(numel(rowShape) * dtype.itemSize());
    return new Tensor(dtype, rowShape, Arrays.copyOfRange(data, i * rowBytes, (i + 1) * rowBytes));
  }

  /** Stacks tensors of one dtype and shape along a new leading dimension. */
  public static Tensor stack(List<Tensor> rows) {
    Tensor first = rows.get(0);
    int rowBytes = first.data.length;
    byte[] out = new byte[rowBytes * rows.size()];
    for (int i = 0; i < rows.size(); i++) {
      Tensor t = rows.get(i);
      if (t.dtype != first.dtype || !Arrays.equals(t.shape, first.shape)) {
        throw new IllegalArgumentException(
            "cannot stack " + t.dtype + Arrays.toString(t.shape) + " with "
                + first.dtype + Arrays.toString(first.shape));
      }
      System.arraycopy(t.data, 0, out, i * rowBytes, rowBytes);
    }
    long[] shape = new long[first.shape.length + 1];
    shape[0] = rows.size();
    System.arraycopy(first.shape, 0, shape, 1, first.shape.length);
    return new Tensor(first.dtype, shape, out);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Tensor t
        && t.dtype == dtype
        && Arrays.equals(t.shape, shape)
        && Arrays.equals(t.data, data);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * dtype.hashCode() + Arrays.hashCode(shape)) + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    String values = numel() <= 8 ? Arrays.toString(toDoubleArray()) : "...";
    return "Tensor[" + dtype + Arrays.toString(shape) + " " + values + "]";
  }
}
