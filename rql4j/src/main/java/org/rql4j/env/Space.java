package org.rql4j.env;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Gymnasium's spaces, for one copy of an environment (mirrors {@code rql4j.v1.Space}). */
public sealed interface Space
    permits Space.Discrete, Space.Box, Space.MultiDiscrete, Space.MultiBinary, Space.Dict, Space.Tuple {

  /** Length of the flat float vector a network sees (Discrete: one-hot width). */
  long flatDim();

  /** Whether {@code v} (one copy, unbatched) lies in this space. */
  boolean contains(Value v);

  /** {@code gymnasium.spaces.Discrete}: integers {@code start .. start + n - 1}; values are INT64. */
  record Discrete(long n, long start) implements Space {
    public Discrete {
      if (n <= 0) {
        throw new IllegalArgumentException("Discrete space needs n > 0, got " + n);
      }
    }

    @Override
    public long flatDim() {
      return n;
    }

    @Override
    public boolean contains(Value v) {
      if (!(v instanceof Tensor t) || t.numel() != 1 || t.dtype().isFloating()) {
        return false;
      }
      long a = t.getLong(0);
      return a >= start && a < start + n;
    }

    @Override
    public String toString() {
      return start == 0 ? "Discrete(" + n + ")" : "Discrete(" + n + ", start=" + start + ")";
    }
  }

  /** {@code gymnasium.spaces.Box}: bounds per element, C order (infinite bounds allowed). */
  record Box(long[] shape, DType dtype, double[] low, double[] high) implements Space {
    public Box {
      shape = shape.clone();
      low = low.clone();
      high = high.clone();
      long n = Tensor.numel(shape);
      if (low.length != n || high.length != n) {
        throw new IllegalArgumentException(
            "Box bounds must have " + n + " elements for shape " + Arrays.toString(shape));
      }
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }

    @Override
    public double[] low() {
      return low.clone();
    }

    @Override
    public double[] high() {
      return high.clone();
    }

    @Override
    public long flatDim() {
      return Tensor.numel(shape);
    }

    /**
     * Actions normalized to [-1, 1] (a tanh-squashed policy's) rescaled to these bounds,
     * {@code low + (a + 1) / 2 (high - low)} per element; {@code normalized} may hold several
     * actions one after the other (the bounds repeat).
     */
    public float[] fromUnitInterval(float[] normalized) {
      float[] out = new float[normalized.length];
      for (int i = 0; i < out.length; i++) {
        int j = i % low.length;
        out[i] = (float) (low[j] + (normalized[i] + 1) / 2 * (high[j] - low[j]));
      }
      return out;
    }

    @Override
    public boolean contains(Value v) {
      if (!(v instanceof Tensor t) || !Arrays.equals(t.shape(), shape)) {
        return false;
      }
      double[] x = t.toDoubleArray();
      for (int i = 0; i < x.length; i++) {
        if (!(x[i] >= low[i] && x[i] <= high[i])) {
          return false;
        }
      }
      return true;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Box b && Arrays.equals(b.shape, shape) && b.dtype == dtype
          && Arrays.equals(b.low, low) && Arrays.equals(b.high, high);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(shape) * 31 + dtype.hashCode();
    }

    @Override
    public String toString() {
      String bounds = low.length <= 4
          ? " low=" + Arrays.toString(low) + " high=" + Arrays.toString(high) : "";
      return "Box(" + Arrays.toString(shape) + ", " + dtype + bounds + ")";
    }
  }

  /** {@code gymnasium.spaces.MultiDiscrete}: element i in {@code start[i] .. start[i] + nvec[i] - 1}. */
  record MultiDiscrete(long[] shape, long[] nvec, long[] start, DType dtype) implements Space {
    public MultiDiscrete {
      shape = shape.clone();
      nvec = nvec.clone();
      start = start.clone();
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }

    @Override
    public long[] nvec() {
      return nvec.clone();
    }

    @Override
    public long[] start() {
      return start.clone();
    }

    @Override
    public long flatDim() {
      return Arrays.stream(nvec).sum();
    }

    @Override
    public boolean contains(Value v) {
      if (!(v instanceof Tensor t) || !Arrays.equals(t.shape(), shape) || t.dtype().isFloating()) {
        return false;
      }
      long[] x = t.toLongArray();
      for (int i = 0; i < x.length; i++) {
        if (x[i] < start[i] || x[i] >= start[i] + nvec[i]) {
          return false;
        }
      }
      return true;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof MultiDiscrete m && Arrays.equals(m.shape, shape)
          && Arrays.equals(m.nvec, nvec) && Arrays.equals(m.start, start) && m.dtype == dtype;
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(nvec);
    }

    @Override
    public String toString() {
      return "MultiDiscrete(" + Arrays.toString(nvec) + ")";
    }
  }

  /** {@code gymnasium.spaces.MultiBinary}: 0/1 values of a shape; values travel as INT8. */
  record MultiBinary(long[] shape) implements Space {
    public MultiBinary {
      shape = shape.clone();
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }

    @Override
    public long flatDim() {
      return Tensor.numel(shape);
    }

    @Override
    public boolean contains(Value v) {
      if (!(v instanceof Tensor t) || !Arrays.equals(t.shape(), shape)) {
        return false;
      }
      for (double x : t.toDoubleArray()) {
        if (x != 0 && x != 1) {
          return false;
        }
      }
      return true;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof MultiBinary m && Arrays.equals(m.shape, shape);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
      return "MultiBinary(" + Arrays.toString(shape) + ")";
    }
  }

  /** {@code gymnasium.spaces.Dict}, keys in the space's order. */
  record Dict(Map<String, Space> spaces) implements Space {
    public Dict {
      spaces = Collections.unmodifiableMap(new LinkedHashMap<>(spaces));
    }

    @Override
    public long flatDim() {
      return spaces.values().stream().mapToLong(Space::flatDim).sum();
    }

    @Override
    public boolean contains(Value v) {
      if (!(v instanceof Value.Dict d) || !d.entries().keySet().equals(spaces.keySet())) {
        return false;
      }
      return spaces.entrySet().stream().allMatch(e -> e.getValue().contains(d.get(e.getKey())));
    }
  }

  /** {@code gymnasium.spaces.Tuple}. */
  record Tuple(List<Space> spaces) implements Space {
    public Tuple {
      spaces = List.copyOf(spaces);
    }

    @Override
    public long flatDim() {
      return spaces.stream().mapToLong(Space::flatDim).sum();
    }

    @Override
    public boolean contains(Value v) {
      if (!(v instanceof Value.Tuple t) || t.items().size() != spaces.size()) {
        return false;
      }
      for (int i = 0; i < spaces.size(); i++) {
        if (!spaces.get(i).contains(t.items().get(i))) {
          return false;
        }
      }
      return true;
    }
  }
}
