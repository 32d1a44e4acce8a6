package org.rql4j.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Arithmetic of an array with a Java number, safe inside a recorded graph.
 *
 * <p>DJL's {@code NDArray.mul(Number)} (and {@code div}, {@code pow}, {@code maximum}, ...) wraps
 * the number in a 0-d tensor that points at a Java direct buffer, and closes that wrapper right
 * after the op. When autograd recorded the op, the graph still holds the 0-d tensor for the
 * backward pass, but nothing keeps its buffer alive: once the garbage collector frees it, backward
 * reads freed memory. Runs then depended on GC timing: the same seed learned different weights in
 * different processes (seen with the C2 compiler, which lets the collector run sooner; never with
 * the GC off). Here the number becomes a 0-d tensor in libtorch's own, reference-counted memory,
 * of the array's data type (the value libtorch would compute with), so the graph owns what it saved.
 * {@code ArchitectureTest} keeps the library on these.
 */
public final class Scalars {

  private Scalars() {}

  /** {@code value} as a 0-d tensor of {@code like}'s data type in libtorch memory, on {@code like}'s manager. */
  public static NDArray of(NDArray like, double value) {
    DataType t = like.getDataType();
    if (t == DataType.FLOAT32) {
      // one native call (torch::full), already in libtorch's memory: the value (float) value, as below
      return like.getManager().full(new ai.djl.ndarray.types.Shape(), (float) value, DataType.FLOAT32);
    }
    NDArray wrapped = switch (t) {
      case FLOAT64 -> like.getManager().create(value);
      case FLOAT32 -> like.getManager().create((float) value);
      case INT64 -> like.getManager().create(new long[] {integral(value, t)}, new ai.djl.ndarray.types.Shape());
      case INT32 -> like.getManager().create(new int[] {Math.toIntExact(integral(value, t))},
          new ai.djl.ndarray.types.Shape());
      default -> throw new IllegalArgumentException("Scalars: arrays of " + t + " are not supported (float32, "
          + "float64, int32, int64)");
    };
    try (wrapped) {
      return wrapped.duplicate(); // a copy: libtorch's allocation, owned by whatever holds the tensor
    }
  }

  /** {@code x * c}. */
  public static NDArray mul(NDArray x, double c) {
    try (NDArray s = of(x, c)) {
      return x.mul(s);
    }
  }

  /** {@code x / c}. */
  public static NDArray div(NDArray x, double c) {
    try (NDArray s = of(x, c)) {
      return x.div(s);
    }
  }

  /** {@code x + c}. */
  public static NDArray add(NDArray x, double c) {
    try (NDArray s = of(x, c)) {
      return x.add(s);
    }
  }

  /** {@code x - c}. */
  public static NDArray sub(NDArray x, double c) {
    try (NDArray s = of(x, c)) {
      return x.sub(s);
    }
  }

  /** {@code c - x}. */
  public static NDArray rsub(double c, NDArray x) {
    try (NDArray s = of(x, c)) {
      return s.sub(x);
    }
  }

  /** {@code x ^ c}. */
  public static NDArray pow(NDArray x, double c) {
    try (NDArray s = of(x, c)) {
      return x.pow(s);
    }
  }

  /** Element-wise {@code max(x, c)}. */
  public static NDArray maximum(NDArray x, double c) {
    try (NDArray s = of(x, c)) {
      return x.maximum(s);
    }
  }

  /** Element-wise {@code min(x, c)}. */
  public static NDArray minimum(NDArray x, double c) {
    try (NDArray s = of(x, c)) {
      return x.minimum(s);
    }
  }

  private static long integral(double value, DataType t) {
    if (value != Math.rint(value) || Math.abs(value) > 9.007199254740992E15) {
      throw new IllegalArgumentException("Scalars: " + value + " is not a whole number, and the array is " + t
          + " (convert the array first)");
    }
    return (long) value;
  }
}
