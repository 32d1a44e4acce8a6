package org.rql4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * A number multiplied into a recorded graph must still be there at backward, after the garbage
 * collector ran and the freed memory was reused (DJL's own {@code mul(Number)} fails this: its
 * scalar lives in a Java buffer nothing keeps alive).
 */
class ScalarsTest {

  /** d/dx sum(x * 3) after a GC that frees every unreachable direct buffer and refills the memory with 7s. */
  private static float[] gradientAfterGc(BiFunction<NDArray, Double, NDArray> times) throws Exception {
    DjlRuntime.engine();
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.create(new float[] {1f, 2f});
      x.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray loss = times.apply(x, 3.0).sum();
        for (int round = 0; round < 5; round++) {
          System.gc();
          Thread.sleep(50); // the buffers' cleaner frees their memory on its own thread
          List<ByteBuffer> fill = new ArrayList<>();
          for (int i = 0; i < 20_000; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
            b.putFloat(0, 7f);
            fill.add(b);
          }
          fill.clear();
        }
        gc.backward(loss);
      }
      return x.getGradient().toFloatArray();
    }
  }

  @Test
  void aNumberInAGraphSurvivesTheGarbageCollector() throws Exception {
    assertArrayEquals(new float[] {3f, 3f}, gradientAfterGc(Scalars::mul));
  }

  @Test
  void djlsOwnScalarIsWhatWeAvoid() throws Exception {
    // not asserted (it depends on the allocator reusing the freed block): printed, so a reader can see
    // the hazard this class exists for on their machine
    float[] g = gradientAfterGc((x, c) -> x.mul(c));
    System.out.println("DJL's x.mul(3.0), gradient after GC: " + java.util.Arrays.toString(g));
  }

  @Test
  void theScalarTakesTheArraysType() {
    DjlRuntime.engine();
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray loss = m.create(2f); // 0-d float32: a float64 scalar would promote it
      assertEquals(DataType.FLOAT32, Scalars.mul(loss, 0.5).getDataType());
      assertEquals(1f, Scalars.mul(loss, 0.5).getFloat());
      assertEquals(DataType.FLOAT64, Scalars.add(m.create(1.0), 0.25).getDataType());
      assertEquals(1.25, Scalars.add(m.create(1.0), 0.25).getDouble());
      assertEquals(DataType.INT64, Scalars.sub(m.create(new long[] {5}), 2).getDataType());
      assertEquals(3L, Scalars.sub(m.create(new long[] {5}), 2).getLong(0));
      assertEquals(-1f, Scalars.rsub(1, m.create(2f)).getFloat());
      assertEquals(4f, Scalars.pow(m.create(2f), 2).getFloat());
      assertEquals(2f, Scalars.maximum(m.create(-1f), 2).getFloat());
      assertEquals(-1f, Scalars.minimum(m.create(-1f), 2).getFloat());
      assertEquals(0.5f, Scalars.div(m.create(1f), 2).getFloat());
      // float32: a 0-d array holding exactly (float) value (made by torch::full)
      NDArray tenth = Scalars.of(m.create(1f), 0.1);
      assertEquals(new ai.djl.ndarray.types.Shape(), tenth.getShape());
      assertEquals(DataType.FLOAT32, tenth.getDataType());
      assertEquals(Float.floatToIntBits((float) 0.1), Float.floatToIntBits(tenth.getFloat()));
    }
  }
}
