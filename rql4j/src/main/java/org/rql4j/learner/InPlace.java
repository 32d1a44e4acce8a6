package org.rql4j.learner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import org.rql4j.runtime.DjlRuntime;

/**
 * Writes Java values into an array's own (libtorch) memory.
 *
 * <p>DJL's {@code NDArray.set(float[])} does not copy on the CPU: it points the tensor at a direct
 * {@code ByteBuffer} that only the Java wrapper keeps alive. A tensor that must outlive its
 * wrapper's reachability (network weights, optimizer moments, values shared with the autograd
 * graph) then reads memory the garbage collector may free and reuse: a run changed with GC timing
 * (the same seed gave different weights from process to process, and only with the C2 compiler,
 * whose earlier liveness lets the collector run sooner). {@link #copy} copies with libtorch's
 * {@code copy_} into the storage the array already has.
 */
public final class InPlace {

  private InPlace() {}

  /** Copies {@code values} (row-major, {@code target.size()} of them) into {@code target}'s storage. */
  public static void copy(NDArray target, float[] values) {
    if (values.length != target.size()) {
      throw new IllegalArgumentException("expected " + target.size() + " values for shape " + target.getShape()
          + ", got " + values.length);
    }
    copy(target, target.getManager().create(values, target.getShape()));
  }

  /** Copies {@code values} (the same shape) into {@code target}'s storage, then closes {@code values}. */
  public static void copy(NDArray target, NDArray values) {
    DjlRuntime.noGradOnThisThread(); // an in-place write into a leaf that requires grad
    try (values) {
      target.set(new NDIndex("..."), values);
    }
  }
}
