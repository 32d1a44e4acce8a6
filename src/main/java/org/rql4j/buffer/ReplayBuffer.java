package org.rql4j.buffer;

import java.util.Random;

/**
 * A ring buffer of transitions in plain Java arrays (no NDArrays: a long run's memory stays flat).
 * Each transition also carries the frozen prior's {@code log pi(.|s')} of its next state, computed
 * once when it enters the buffer (the reference code recomputes it on every gradient step).
 */
public final class ReplayBuffer {

  private final int capacity;
  private final int obsDim;
  private final int priorWidth;
  private final float[] obs;
  private final float[] nextObs;
  private final long[] actions;
  private final float[] rewards;
  private final boolean[] terminated;
  private final float[] nextPriorLogProbs;
  private int next;
  private int size;

  /**
   * @param capacity transitions kept (oldest overwritten first)
   * @param obsDim flat observation width
   * @param priorWidth width of the stored prior log-probs per transition (actions for a
   *     categorical prior, 0 when there is no prior)
   */
  public ReplayBuffer(int capacity, int obsDim, int priorWidth) {
    if (capacity <= 0 || obsDim <= 0 || priorWidth < 0) {
      throw new IllegalArgumentException("replay buffer needs capacity > 0 and obsDim > 0, got capacity "
          + capacity + ", obsDim " + obsDim + ", priorWidth " + priorWidth);
    }
    this.capacity = capacity;
    this.obsDim = obsDim;
    this.priorWidth = priorWidth;
    this.obs = new float[capacity * obsDim];
    this.nextObs = new float[capacity * obsDim];
    this.actions = new long[capacity];
    this.rewards = new float[capacity];
    this.terminated = new boolean[capacity];
    this.nextPriorLogProbs = new float[capacity * priorWidth];
  }

  /** Adds one transition; {@code nextPriorLogProb} may be null when priorWidth is 0. */
  public void add(float[] observation, long action, float reward, float[] nextObservation, boolean isTerminal,
      float[] nextPriorLogProb) {
    System.arraycopy(observation, 0, obs, next * obsDim, obsDim);
    System.arraycopy(nextObservation, 0, nextObs, next * obsDim, obsDim);
    if (priorWidth > 0) {
      System.arraycopy(nextPriorLogProb, 0, nextPriorLogProbs, next * priorWidth, priorWidth);
    }
    actions[next] = action;
    rewards[next] = reward;
    terminated[next] = isTerminal;
    next = (next + 1) % capacity;
    size = Math.min(size + 1, capacity);
  }

  /** Transitions held. */
  public int size() {
    return size;
  }

  public int capacity() {
    return capacity;
  }

  public int obsDim() {
    return obsDim;
  }

  public int priorWidth() {
    return priorWidth;
  }

  /** A batch of {@code n} transitions drawn uniformly with replacement. */
  public Batch sample(int n, Random rng) {
    if (size == 0) {
      throw new IllegalStateException("cannot sample from an empty replay buffer");
    }
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) {
      idx[i] = rng.nextInt(size);
    }
    return gather(idx);
  }

  /** The transitions at the given indices (oldest-first order is not implied). */
  public Batch gather(int[] idx) {
    int n = idx.length;
    float[] o = new float[n * obsDim];
    float[] no = new float[n * obsDim];
    long[] a = new long[n];
    float[] r = new float[n];
    float[] notDone = new float[n];
    float[] lp = new float[n * priorWidth];
    for (int i = 0; i < n; i++) {
      int j = idx[i];
      System.arraycopy(obs, j * obsDim, o, i * obsDim, obsDim);
      System.arraycopy(nextObs, j * obsDim, no, i * obsDim, obsDim);
      if (priorWidth > 0) {
        System.arraycopy(nextPriorLogProbs, j * priorWidth, lp, i * priorWidth, priorWidth);
      }
      a[i] = actions[j];
      r[i] = rewards[j];
      notDone[i] = terminated[j] ? 0f : 1f;
    }
    return new Batch(n, o, a, r, no, notDone, lp);
  }

  /** Writes the whole buffer (sizes, write position and every array) for a checkpoint. */
  public void writeTo(java.io.DataOutputStream out) throws java.io.IOException {
    out.writeInt(capacity);
    out.writeInt(obsDim);
    out.writeInt(priorWidth);
    out.writeInt(next);
    out.writeInt(size);
    writeFloats(out, obs);
    writeFloats(out, nextObs);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(capacity * 8);
    b.asLongBuffer().put(actions);
    out.write(b.array());
    writeFloats(out, rewards);
    byte[] t = new byte[capacity];
    for (int i = 0; i < capacity; i++) {
      t[i] = (byte) (terminated[i] ? 1 : 0);
    }
    out.write(t);
    writeFloats(out, nextPriorLogProbs);
  }

  /** Reads a buffer written by {@link #writeTo}. */
  public static ReplayBuffer readFrom(java.io.DataInputStream in) throws java.io.IOException {
    int capacity = in.readInt();
    int obsDim = in.readInt();
    int priorWidth = in.readInt();
    int next = in.readInt();
    int size = in.readInt();
    if (capacity <= 0 || obsDim <= 0 || priorWidth < 0 || next < 0 || next >= capacity || size < 0
        || size > capacity) {
      throw new java.io.IOException("corrupt replay buffer header: capacity " + capacity + ", obsDim " + obsDim
          + ", priorWidth " + priorWidth + ", next " + next + ", size " + size);
    }
    ReplayBuffer b = new ReplayBuffer(capacity, obsDim, priorWidth);
    b.next = next;
    b.size = size;
    readFloats(in, b.obs);
    readFloats(in, b.nextObs);
    byte[] a = new byte[capacity * 8];
    in.readFully(a);
    java.nio.ByteBuffer.wrap(a).asLongBuffer().get(b.actions);
    readFloats(in, b.rewards);
    byte[] t = new byte[capacity];
    in.readFully(t);
    for (int i = 0; i < capacity; i++) {
      b.terminated[i] = t[i] != 0;
    }
    readFloats(in, b.nextPriorLogProbs);
    return b;
  }

  private static void writeFloats(java.io.DataOutputStream out, float[] x) throws java.io.IOException {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(x.length * 4);
    b.asFloatBuffer().put(x);
    out.write(b.array());
  }

  private static void readFloats(java.io.DataInputStream in, float[] x) throws java.io.IOException {
    byte[] bytes = new byte[x.length * 4];
    in.readFully(bytes);
    java.nio.ByteBuffer.wrap(bytes).asFloatBuffer().get(x);
  }

  /**
   * A sampled batch, flat row-major arrays.
   *
   * @param notTerminated 1 where bootstrapping continues (truncation does NOT stop it), 0 at terminal states
   */
  public record Batch(int size, float[] observations, long[] actions, float[] rewards, float[] nextObservations,
      float[] notTerminated, float[] nextPriorLogProbs) {}
}
