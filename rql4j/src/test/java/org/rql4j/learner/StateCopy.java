package org.rql4j.learner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/** Copies a learner's state into another as a checkpoint does: safetensors bytes and JSON text. */
final class StateCopy {

  private StateCopy() {}

  /** The section of {@code from} as the bytes of learner.safetensors. */
  static byte[] tensors(LearnerState from) {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      return from.stateTensors(m).encode(NDList.Encoding.SAFETENSORS);
    }
  }

  /** Restores {@code into} from {@code tensors} (learner.safetensors' bytes) and {@code from}'s values. */
  static void restore(LearnerState into, byte[] tensors, LearnerState from) throws IOException {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      Map<String, NDArray> byName = new LinkedHashMap<>();
      NDList.decode(m, tensors).forEach(a -> byName.put(a.getName(), a));
      into.restoreState(byName, JsonParser.parseString(from.stateValues().toString()).getAsJsonObject());
    }
  }

  static void copy(LearnerState from, LearnerState into) throws IOException {
    restore(into, tensors(from), from);
  }
}
