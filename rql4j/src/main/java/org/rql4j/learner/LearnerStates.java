package org.rql4j.learner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.util.Map;

/** Helpers of the learners' {@link LearnerState} sections. */
final class LearnerStates {

  private LearnerStates() {}

  /** A whole number of a state's values; an IOException naming it when it is missing. */
  static long whole(JsonObject values, String key) throws IOException {
    if (values == null || !values.has(key) || !values.get(key).isJsonPrimitive()) {
      throw new IOException("the checkpoint's learner section has no '" + key + "'");
    }
    return values.get(key).getAsLong();
  }

  /** A named float64 tensor of {@code x} (running statistics keep their double precision). */
  static NDArray doubles(NDManager m, String name, double[] x) {
    NDArray a = m.create(x);
    a.setName(name);
    return a;
  }

  /** A named float32 tensor of {@code x}. */
  static NDArray floats(NDManager m, String name, float[] x) {
    NDArray a = m.create(x);
    a.setName(name);
    return a;
  }

  /** The values of a named tensor of {@code n} values and type {@code type}; an IOException otherwise. */
  static NDArray tensor(Map<String, NDArray> tensors, String name, long n, DataType type) throws IOException {
    NDArray a = tensors.get(name);
    if (a == null || a.size() != n || a.getDataType() != type) {
      throw new IOException("the checkpoint's tensor '" + name + "' is " + (a == null ? "missing"
          : a.getDataType() + " " + a.getShape()) + "; this learner needs " + n + " " + type + " values");
    }
    return a;
  }
}
