package org.rql4j.learner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.rql4j.runtime.DjlRuntime;
import org.rql4j.runtime.Scalars;

/**
 * A ReLU MLP on DJL ({@code in -> hidden... -> out}) whose parameters live in their own manager.
 * Initialized like PyTorch's {@code nn.Linear} (weights and biases uniform in
 * {@code ±1/sqrt(fan_in)}) from a seeded Java {@link Random}, so runs are reproducible. Weights can be
 * exported and imported as flat float arrays in PyTorch's layout ({@code weight [out, in]}, {@code bias [out]}).
 */
public final class Mlp implements AutoCloseable {

  private final NDManager manager;
  private final SequentialBlock block;
  private final List<Parameter> parameters = new ArrayList<>();
  private final int inputDim;
  private final int[] widths;

  /**
   * @param inputDim input width
   * @param hidden hidden layer widths
   * @param outputDim output width
   * @param seed initialization seed
   */
  public Mlp(NDManager parent, int inputDim, int[] hidden, int outputDim, long seed) {
    this(parent, inputDim, hidden, outputDim, seed, false);
  }

  /**
   * As above, with tanh between the layers instead of ReLU when {@code tanh} (PPO's usual choice,
   * SB3's default for on-policy algorithms).
   */
  public Mlp(NDManager parent, int inputDim, int[] hidden, int outputDim, long seed, boolean tanh) {
    this.manager = parent.newSubManager();
    this.inputDim = inputDim;
    this.widths = new int[hidden.length + 1];
    System.arraycopy(hidden, 0, widths, 0, hidden.length);
    widths[hidden.length] = outputDim;
    block = new SequentialBlock();
    for (int i = 0; i < widths.length; i++) {
      block.add(Linear.builder().setUnits(widths[i]).build());
      if (i < widths.length - 1) {
        block.add(tanh ? Activation::tanh : Activation::relu);
      }
    }
    block.initialize(manager, DataType.FLOAT32, new Shape(1, inputDim));
    block.getParameters().forEach(p -> parameters.add(p.getValue()));
    Random rng = new Random(seed);
    int fanIn = inputDim;
    for (int layer = 0; layer < widths.length; layer++) {
      double bound = 1.0 / Math.sqrt(fanIn);
      float[] w = new float[widths[layer] * fanIn];
      for (int i = 0; i < w.length; i++) {
        w[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
      }
      float[] b = new float[widths[layer]];
      for (int i = 0; i < b.length; i++) {
        b[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
      }
      InPlace.copy(parameters.get(2 * layer).getArray(), w);
      InPlace.copy(parameters.get(2 * layer + 1).getArray(), b);
      fanIn = widths[layer];
    }
    for (Parameter p : parameters) {
      p.getArray().setRequiresGradient(true);
    }
  }

  /** The forward pass; results are attached to {@code x}'s manager. */
  public NDArray forward(NDArray x) {
    return block.forward(new ParameterStore(x.getManager(), false), new NDList(x), false).singletonOrThrow();
  }

  /** Weights and biases in order: layer 0 weight [out, in], layer 0 bias, layer 1 weight, ... */
  public List<Parameter> parameters() {
    return parameters;
  }

  public int inputDim() {
    return inputDim;
  }

  public int outputDim() {
    return widths[widths.length - 1];
  }

  /** Copies every parameter value from {@code other} (same architecture): the hard target update. */
  public void copyFrom(Mlp other) {
    DjlRuntime.noGradOnThisThread();
    for (int i = 0; i < parameters.size(); i++) {
      InPlace.copy(parameters.get(i).getArray(), other.parameters.get(i).getArray().duplicate());
    }
  }

  /** Polyak update {@code this = tau * other + (1 - tau) * this}. */
  public void softUpdateFrom(Mlp other, float tau) {
    DjlRuntime.noGradOnThisThread();
    for (int i = 0; i < parameters.size(); i++) {
      NDArray target = parameters.get(i).getArray();
      try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
        InPlace.copy(target, Scalars.mul(other.parameters.get(i).getArray(), tau).add(Scalars.mul(target, 1 - tau)));
      }
    }
  }

  /** All parameters as flat float arrays (PyTorch layout). */
  public List<float[]> exportWeights() {
    List<float[]> out = new ArrayList<>();
    for (Parameter p : parameters) {
      out.add(p.getArray().toFloatArray());
    }
    return out;
  }

  /** Sets all parameters from flat float arrays (PyTorch layout). */
  public void importWeights(List<float[]> weights) {
    DjlRuntime.noGradOnThisThread();
    if (weights.size() != parameters.size()) {
      throw new IllegalArgumentException("expected " + parameters.size() + " weight arrays, got " + weights.size());
    }
    for (int i = 0; i < weights.size(); i++) {
      NDArray a = parameters.get(i).getArray();
      if (a.size() != weights.get(i).length) {
        throw new IllegalArgumentException("weight " + i + " has shape " + a.getShape() + " (" + a.size()
            + " values), got " + weights.get(i).length + " values");
      }
      InPlace.copy(a, weights.get(i));
    }
  }

  /**
   * Writes weight arrays (as {@link #exportWeights} gives them): their count, then each one's
   * length and its floats, little-endian. The one format of saved policies and checkpoints.
   */
  public static void writeWeights(java.io.DataOutputStream out, List<float[]> weights) throws java.io.IOException {
    out.writeInt(weights.size());
    for (float[] w : weights) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(w.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
      b.asFloatBuffer().put(w);
      out.writeInt(w.length);
      out.write(b.array());
    }
  }

  /** Reads arrays written by {@link #writeWeights}; an IOException for sizes no network has (a corrupt file). */
  public static List<float[]> readWeights(java.io.DataInputStream in) throws java.io.IOException {
    int n = in.readInt();
    if (n < 0 || n > 4096) {
      throw new java.io.IOException("corrupt weights: " + n + " arrays");
    }
    List<float[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int len = in.readInt();
      if (len < 0 || len > (1 << 28)) {
        throw new java.io.IOException("corrupt weights: an array of " + len + " values");
      }
      byte[] bytes = new byte[len * 4];
      in.readFully(bytes);
      float[] w = new float[len];
      java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(w);
      out.add(w);
    }
    return out;
  }

  /**
   * The parameters' names in a PyTorch {@code state_dict} of the same network as an
   * {@code nn.Sequential} under {@code prefix} (Linear layers at even indices, the activations
   * between them): {@code prefix.0.weight}, {@code prefix.0.bias}, {@code prefix.2.weight}, ...
   */
  public List<String> stateDictNames(String prefix) {
    List<String> names = new ArrayList<>();
    for (int layer = 0; layer < widths.length; layer++) {
      names.add(prefix + "." + (2 * layer) + ".weight");
      names.add(prefix + "." + (2 * layer) + ".bias");
    }
    return names;
  }

  /** Copies of the parameters in {@code m}, named as {@link #stateDictNames} (for a safetensors file). */
  public NDList namedTensors(String prefix, NDManager m) {
    List<String> names = stateDictNames(prefix);
    NDList list = new NDList();
    for (int i = 0; i < parameters.size(); i++) {
      NDArray copy = parameters.get(i).getArray().duplicate();
      copy.attach(m);
      copy.setName(names.get(i));
      list.add(copy);
    }
    return list;
  }

  /** Writes the parameters to a safetensors file (float32, PyTorch layout) under {@link #stateDictNames}. */
  public void saveSafetensors(java.nio.file.Path file, String prefix) throws java.io.IOException {
    try (NDManager m = manager.newSubManager()) {
      writeSafetensors(file, namedTensors(prefix, m));
    }
  }

  /** Writes named arrays as a safetensors file. */
  public static void writeSafetensors(java.nio.file.Path file, NDList named) throws java.io.IOException {
    try (java.io.OutputStream out = java.nio.file.Files.newOutputStream(file)) {
      named.encode(out, NDList.Encoding.SAFETENSORS);
    }
  }

  /** The named tensors of a safetensors file, in {@code m}; an IOException naming the file if it is not one. */
  public static java.util.Map<String, NDArray> readSafetensors(java.nio.file.Path file, NDManager m)
      throws java.io.IOException {
    try (java.io.InputStream in = java.nio.file.Files.newInputStream(file)) {
      java.util.Map<String, NDArray> byName = new java.util.LinkedHashMap<>();
      NDList.decode(m, in).forEach(a -> byName.put(a.getName(), a));
      return byName;
    } catch (RuntimeException e) {
      throw new java.io.IOException(file + " is not a safetensors file: " + e.getMessage(), e);
    }
  }

  /**
   * Sets the parameters from a safetensors file written by {@link #saveSafetensors} (or by PyTorch
   * from a state_dict with these names; other tensors in it are ignored); an IOException naming a
   * missing tensor or a shape that does not fit.
   */
  public void loadSafetensors(java.nio.file.Path file, String prefix) throws java.io.IOException {
    try (NDManager m = manager.newSubManager()) {
      setFrom(readSafetensors(file, m), prefix, file);
    }
  }

  /** Sets the parameters from named tensors ({@link #readSafetensors}); {@code source} names them in errors. */
  public void setFrom(java.util.Map<String, NDArray> byName, String prefix, Object source) throws java.io.IOException {
    DjlRuntime.noGradOnThisThread();
    List<String> names = stateDictNames(prefix);
    for (int i = 0; i < parameters.size(); i++) {
      NDArray want = parameters.get(i).getArray();
      NDArray got = byName.get(names.get(i));
      if (got == null) {
        throw new java.io.IOException(source + " has no tensor '" + names.get(i) + "' (it has "
            + new java.util.TreeSet<>(byName.keySet()) + ")");
      }
      if (!got.getShape().equals(want.getShape()) || got.getDataType() != DataType.FLOAT32) {
        throw new java.io.IOException(source + ": tensor '" + names.get(i) + "' is " + got.getDataType() + " "
            + got.getShape() + ", the network needs float32 " + want.getShape());
      }
      InPlace.copy(want, got.toFloatArray());
    }
  }

  @Override
  public void close() {
    manager.close();
  }
}
