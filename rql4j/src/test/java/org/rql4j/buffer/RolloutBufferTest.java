package org.rql4j.buffer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RolloutBufferTest {

  /**
   * GAE worked by hand, gamma 0.9, lambda 0.8, two copies over three steps.
   * Copy 0 (no episode end, V after the rollout 1.0): deltas 0.86, 1.87, 3.6; A_2 = 3.6,
   * A_1 = 1.87 + 0.72 * 3.6 = 4.462, A_0 = 0.86 + 0.72 * 4.462 = 4.07264.
   * Copy 1: step 0 terminated (next worth 0): A_0 = 1 - 0.2 = 0.8; step 1 truncated with
   * V(final observation) 2.0: A_1 = 1 + 0.9 * 2 - 0.6 = 2.2, the chain cut; step 2 bootstraps from
   * the last value -1.0: A_2 = 1 - 0.9 - 0.1 = 0.
   */
  @Test
  void advantagesMatchTheHandWorkedExample() {
    RolloutBuffer b = new RolloutBuffer(3, 2, 1, 1);
    float[][] rewards = {{1, 1}, {2, 1}, {3, 1}};
    float[][] values = {{0.5f, 0.2f}, {0.4f, 0.6f}, {0.3f, 0.1f}};
    boolean[][] term = {{false, true}, {false, false}, {false, false}};
    boolean[][] trunc = {{false, false}, {false, true}, {false, false}};
    float[][] truncValues = {null, {0f, 2.0f}, null};
    for (int t = 0; t < 3; t++) {
      b.add(new float[] {t, 10 + t}, new float[] {0, 1}, rewards[t], values[t], new float[] {-1, -2}, term[t],
          trunc[t], truncValues[t]);
    }
    assertTrue(b.full());
    b.computeAdvantages(new float[] {1.0f, -1.0f}, 0.9, 0.8);
    float[] adv = b.advantages();
    // rows are step-major: [t0 copy0, t0 copy1, t1 copy0, ...]
    assertArrayEquals(new float[] {4.07264f, 0.8f, 4.462f, 2.2f, 3.6f, 0f}, adv, 1e-5f);
    assertArrayEquals(new float[] {4.57264f, 1.0f, 4.862f, 2.8f, 3.9f, 0.1f}, b.returns(), 1e-5f);
    RolloutBuffer.Batch batch = b.gather(new int[] {3, 0});
    assertArrayEquals(new float[] {11, 0}, batch.observations());
    assertArrayEquals(new float[] {2.2f, 4.07264f}, batch.advantages(), 1e-5f);
    assertArrayEquals(new float[] {-2, -1}, batch.oldLogProbs());
    assertArrayEquals(new float[] {0.6f, 0.5f}, batch.oldValues());
  }

  @Test
  void misuseIsNamed() {
    RolloutBuffer b = new RolloutBuffer(1, 2, 3, 1);
    IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> b.add(new float[5],
        new float[2], new float[2], new float[2], new float[2], new boolean[2], new boolean[2], null));
    assertTrue(shape.getMessage().contains("observations need 6 values, got 5"), shape.getMessage());
    IllegalArgumentException trunc = assertThrows(IllegalArgumentException.class, () -> b.add(new float[6],
        new float[2], new float[2], new float[2], new float[2], new boolean[2], new boolean[] {false, true}, null));
    assertTrue(trunc.getMessage().contains("copy 1 was truncated"), trunc.getMessage());
    assertThrows(IllegalStateException.class, b::advantages);
    b.add(new float[6], new float[2], new float[2], new float[2], new float[2], new boolean[2], new boolean[2], null);
    assertThrows(IllegalStateException.class, () -> b.add(new float[6], new float[2], new float[2], new float[2],
        new float[2], new boolean[2], new boolean[2], null));
    b.reset();
    assertTrue(!b.full() && b.size() == 0);
  }
}
