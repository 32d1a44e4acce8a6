package org.rql4j.buffer;

import java.util.Random;

/**
 * A ring buffer of transitions in plain Java arrays (no NDArrays: a long run's memory stays flat).
 * Actions are stored as floats, {@code actionWidth} per transition (a Discrete action index is
 * one float, exact below 2^24; a Box action its normalized values). Each transition also carries
 * what the frozen prior says about its state and its next state ({@code priorWidth} floats each:
 * {@code log pi(.|s)} of every action for a categorical prior, the Gaussian's mean and log-std for a
 * continuous one), computed once when it enters the buffer (the reference code recomputes them on
 * every gradient step).
 */
public final class ReplayBuffer {

  private final int capacity;
  private final int obsDim;
  private final int actionWidth;
  private final int priorWidth;
  private final float[] obs;
  private final float[] nextObs;
  private final float[] actions;
  private final float[] rewards;
  private final boolean[] terminated;
  private final float[] priorFeatures;
  private final float[] nextPriorFeatures;
  private int next;
  private int size;

  /** A buffer of Discrete actions (one index per transition). */
  public ReplayBuffer(int capacity, int obsDim, int priorWidth) {
    this(capacity, obsDim, 1, priorWidth);
  }

  /**
   * @param capacity transitions kept (oldest overwritten first)
   * @param obsDim flat observation width
   * @param actionWidth floats per action (1 for Discrete, the Box's size otherwise)
   * @param priorWidth floats the prior contributes per state (0 when there is no prior)
   */
  public ReplayBuffer(int capacity, int obsDim, int actionWidth, int priorWidth) {
    if (capacity <= 0 || obsDim <= 0 || actionWidth <= 0 || priorWidth < 0) {
      throw new IllegalArgumentException("replay buffer needs capacity > 0, obsDim > 0 and actionWidth > 0, got "
          + "capacity " + capacity + ", obsDim " + obsDim + ", actionWidth " + actionWidth + ", priorWidth "
          + priorWidth);
    }
    long floats = (long) capacity * (2L * obsDim + actionWidth + 1 + 2L * priorWidth);
    if (floats > Integer.MAX_VALUE / 2) {
      throw new IllegalArgumentException("a replay buffer of " + capacity + " transitions of this size needs "
          + floats * 4 / (1 << 20) + " MiB; lower the buffer size");
    }
    this.capacity = capacity;
    this.obsDim = obsDim;
    this.actionWidth = actionWidth;
    this.priorWidth = priorWidth;
    this.obs = new float[capacity * obsDim];
    this.nextObs = new float[capacity * obsDim];
    this.actions = new float[capacity * actionWidth];
    this.rewards = new float[capacity];
    this.terminated = new boolean[capacity];
    this.priorFeatures = new float[capacity * priorWidth];
    this.nextPriorFeatures = new float[capacity * priorWidth];
  }

  /** Adds a Discrete transition with the prior's {@code log pi(.|s')} only (tests; {@code log pi(.|s)} left 0). */
  public void add(float[] observation, long action, float reward, float[] nextObservation, boolean isTerminal,
      float[] nextPriorLogProb) {
    add(observation, 0, new float[] {action}, 0, reward, nextObservation, 0, isTerminal,
        priorWidth == 0 ? null : new float[priorWidth], 0, nextPriorLogProb, 0);
  }

  /**
   * Adds one transition from row slices of flat arrays: {@code observation[obsOff .. +obsDim)},
   * {@code action[actOff .. +actionWidth)}, ... The prior arrays may be null when priorWidth is 0.
   */
  public void add(float[] observation, int obsOff, float[] action, int actOff, float reward, float[] nextObservation,
      int nextOff, boolean isTerminal, float[] prior, int priorOff, float[] nextPrior, int nextPriorOff) {
    System.arraycopy(observation, obsOff, obs, next * obsDim, obsDim);
    System.arraycopy(nextObservation, nextOff, nextObs, next * obsDim, obsDim);
    System.arraycopy(action, actOff, actions, next * actionWidth, actionWidth);
    if (priorWidth > 0) {
      System.arraycopy(prior, priorOff, priorFeatures, next * priorWidth, priorWidth);
      System.arraycopy(nextPrior, nextPriorOff, nextPriorFeatures, next * priorWidth, priorWidth);
    }
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

  public int actionWidth() {
    return actionWidth;
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
    float[] a = new float[n * actionWidth];
    float[] r = new float[n];
    float[] notDone = new float[n];
    float[] p = new float[n * priorWidth];
    float[] np = new float[n * priorWidth];
    for (int i = 0; i < n; i++) {
      int j = idx[i];
      System.arraycopy(obs, j * obsDim, o, i * obsDim, obsDim);
      System.arraycopy(nextObs, j * obsDim, no, i * obsDim, obsDim);
      System.arraycopy(actions, j * actionWidth, a, i * actionWidth, actionWidth);
      if (priorWidth > 0) {
        System.arraycopy(priorFeatures, j * priorWidth, p, i * priorWidth, priorWidth);
        System.arraycopy(nextPriorFeatures, j * priorWidth, np, i * priorWidth, priorWidth);
      }
      r[i] = rewards[j];
      notDone[i] = terminated[j] ? 0f : 1f;
    }
    return new Batch(n, o, a, r, no, notDone, p, np);
  }

  /** Writes the whole buffer (sizes, write position and every array) for a checkpoint. */
  public void writeTo(java.io.DataOutputStream out) throws java.io.IOException {
    out.writeInt(capacity);
    out.writeInt(obsDim);
    out.writeInt(actionWidth);
    out.writeInt(priorWidth);
    out.writeInt(next);
    out.writeInt(size);
    writeFloats(out, obs);
    writeFloats(out, nextObs);
    writeFloats(out, actions);
    writeFloats(out, rewards);
    byte[] t = new byte[capacity];
    for (int i = 0; i < capacity; i++) {
      t[i] = (byte) (terminated[i] ? 1 : 0);
    }
    out.write(t);
    writeFloats(out, priorFeatures);
    writeFloats(out, nextPriorFeatures);
  }

  /** Reads a buffer written by {@link #writeTo}. */
  public static ReplayBuffer readFrom(java.io.DataInputStream in) throws java.io.IOException {
    int capacity = in.readInt();
    int obsDim = in.readInt();
    int actionWidth = in.readInt();
    int priorWidth = in.readInt();
    int next = in.readInt();
    int size = in.readInt();
    if (capacity <= 0 || obsDim <= 0 || actionWidth <= 0 || priorWidth < 0 || next < 0 || next >= capacity
        || size < 0 || size > capacity) {
      throw new java.io.IOException("corrupt replay buffer header: capacity " + capacity + ", obsDim " + obsDim
          + ", actionWidth " + actionWidth + ", priorWidth " + priorWidth + ", next " + next + ", size " + size);
    }
    ReplayBuffer b = new ReplayBuffer(capacity, obsDim, actionWidth, priorWidth);
    b.next = next;
    b.size = size;
    readFloats(in, b.obs);
    readFloats(in, b.nextObs);
    readFloats(in, b.actions);
    readFloats(in, b.rewards);
    byte[] t = new byte[capacity];
    in.readFully(t);
    for (int i = 0; i < capacity; i++) {
      b.terminated[i] = t[i] != 0;
    }
    readFloats(in, b.priorFeatures);
    readFloats(in, b.nextPriorFeatures);
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
   * @param actions {@code [size, actionWidth]} as stored
   * @param notTerminated 1 where bootstrapping continues (truncation does NOT stop it), 0 at terminal states
   * @param priorFeatures what the prior said about each state ({@code [size, priorWidth]}; empty without a prior)
   * @param nextPriorFeatures the same for each next state
   */
  public record Batch(int size, float[] observations, float[] actions, float[] rewards, float[] nextObservations,
      float[] notTerminated, float[] priorFeatures, float[] nextPriorFeatures) {

    /** The actions as Discrete indices (a buffer of actionWidth 1). */
    public long[] discreteActions() {
      long[] out = new long[actions.length];
      for (int i = 0; i < out.length; i++) {
        out[i] = (long) actions[i];
      }
      return out;
    }

    /** {@code log pi(.|s')} of every action for a categorical prior: the next states' prior features. */
    public float[] nextPriorLogProbs() {
      return nextPriorFeatures;
    }
  }
}
