package org.rql4j.prior;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import org.rql4j.runtime.DjlRuntime;

/**
 * A prior package run in-process by DJL's PyTorch engine: no Python at run time. The module is
 * probed at load time (a {@code [2, obsDim]} zero batch must give outputs of the declared shapes
 * without NaN); every query checks its input shape and refuses NaN outputs.
 */
public final class TorchScriptPrior implements PriorPolicy {

  private final PriorSpec spec;
  private final Model model;
  private final Path moduleFile;
  private boolean closed;

  private TorchScriptPrior(PriorSpec spec, Model model, Path moduleFile) {
    this.spec = spec;
    this.model = model;
    this.moduleFile = moduleFile;
  }

  /** Loads a prior package folder on the engine's default device. */
  public static TorchScriptPrior load(Path packageDir) {
    return load(packageDir, null);
  }

  /** Loads a prior package folder on {@code device} (null: the engine's default). */
  public static TorchScriptPrior load(Path packageDir, Device device) {
    DjlRuntime.configure();
    PriorSpec spec = PriorPackage.read(packageDir);
    Path file = PriorPackage.moduleFile(spec);
    String fileName = file.getFileName().toString();
    if (!fileName.endsWith(".pt")) {
      throw new PriorException(packageDir.resolve(PriorPackage.SIDECAR) + ": field 'module.file' must name a "
          + "TorchScript '.pt' file, got '" + fileName + "'");
    }
    Model model = device == null ? Model.newInstance("prior-" + spec.name(), "PyTorch")
        : Model.newInstance("prior-" + spec.name(), device, "PyTorch");
    try {
      model.load(file.getParent(), fileName.substring(0, fileName.length() - 3));
    } catch (IOException | MalformedModelException | RuntimeException e) {
      model.close();
      throw new PriorException("cannot load the TorchScript module " + file + " of prior '" + spec.name()
          + "': " + e.getMessage() + ". Was it saved with torch.jit.save (TorchScript), by a torch version "
          + "that libtorch 2.7.1 reads? Re-export it with `rql4j-bridge export`.", e);
    }
    TorchScriptPrior prior = new TorchScriptPrior(spec, model, file);
    try (NDManager probe = model.getNDManager().newSubManager()) {
      NDArray zeros = probe.zeros(new Shape(2, spec.obsDim()), DataType.FLOAT32);
      if (spec.distribution() == Distribution.CATEGORICAL) {
        float[] total = prior.logProbsAll(zeros).exp().sum(new int[] {1}).log().toFloatArray();
        for (float t : total) {
          if (Math.abs(t) > 1e-3) {
            throw new PriorException("the module of categorical prior '" + spec.name() + "' (" + file
                + ") does not return normalized log-probabilities (logsumexp " + t + " on a probe batch): "
                + "apply log_softmax in the module, or export logits with `rql4j-bridge export --distribution logits`");
          }
        }
      } else {
        prior.distribution(zeros);
      }
    } catch (RuntimeException e) {
      prior.close();
      throw e instanceof PriorException ? e : new PriorException("prior '" + spec.name() + "' (" + file
          + ") fails on a probe batch of zeros [2, " + spec.obsDim() + "]: " + e.getMessage(), e);
    }
    return prior;
  }

  /**
   * The TorchScript module's parameters by their PyTorch names (e.g. {@code latent.0.weight}), as
   * flat float arrays in PyTorch's layout: what initializing a learner from the prior reads.
   */
  public java.util.Map<String, float[]> namedParameters() {
    java.util.Map<String, float[]> out = new java.util.LinkedHashMap<>();
    for (ai.djl.util.Pair<String, ai.djl.nn.Parameter> p : model.getBlock().getParameters()) {
      NDArray a = p.getValue().getArray();
      out.put(p.getKey(), a.getDataType() == DataType.FLOAT32 ? a.toFloatArray()
          : a.toType(DataType.FLOAT32, false).toFloatArray());
    }
    return out;
  }

  @Override
  public PriorSpec spec() {
    return spec;
  }

  private NDList forward(NDArray observations) {
    return forward(observations, true);
  }

  /** The module's outputs, shape-checked; {@code checkNaN}: on the device (the caller checks the host copy). */
  private NDList forward(NDArray observations, boolean checkNaN) {
    if (closed) {
      throw new IllegalStateException("prior '" + spec.name() + "' is closed");
    }
    Shape shape = observations.getShape();
    if (shape.dimension() != 2 || shape.get(1) != spec.obsDim()) {
      throw new IllegalArgumentException("prior '" + spec.name() + "' takes observations [B, " + spec.obsDim()
          + "] (flattened: " + spec.flatten() + "), got " + shape);
    }
    NDArray input = observations.getDataType() == DataType.FLOAT32 ? observations
        : observations.toType(DataType.FLOAT32, false);
    NDList out = model.getBlock().forward(new ParameterStore(observations.getManager(), false), new NDList(input), false);
    int expected = spec.distribution() == Distribution.CATEGORICAL ? 1 : 2;
    if (out.size() != expected) {
      throw new PriorException("the module of prior '" + spec.name() + "' (" + moduleFile + ") returned "
          + out.size() + " outputs; a " + spec.distribution().sidecarName() + " module returns " + expected);
    }
    long batch = shape.get(0);
    for (NDArray a : out) {
      if (!a.getShape().equals(new Shape(batch, spec.actionDim()))) {
        throw new PriorException("the module of prior '" + spec.name() + "' (" + moduleFile + ") returned shape "
            + a.getShape() + " for " + batch + " observations; expected (" + batch + ", " + spec.actionDim() + ")");
      }
      if (checkNaN && a.isNaN().any().getBoolean()) {
        throw nanError(nanRows(a));
      }
    }
    return out;
  }

  private PriorException nanError(long[] rows) {
    return new PriorException("prior '" + spec.name() + "' (" + moduleFile + ") produced NaN for rows "
        + Arrays.toString(rows) + " of the batch; check those observations for NaN or inf");
  }

  private static long[] nanRows(NDArray a) {
    boolean[] rows = a.isNaN().toType(DataType.INT32, false).sum(new int[] {1}).gt(0).toBooleanArray();
    return java.util.stream.IntStream.range(0, rows.length).filter(i -> rows[i]).limit(10).asLongStream().toArray();
  }

  /**
   * As {@link PriorPolicy#outputs}, with the NaN check on the host array after the one read-back
   * (three native operations and a read-back fewer than {@link #logProbsAll}'s check).
   */
  @Override
  public float[] outputs(NDManager manager, float[] observations, int n) {
    try (NDManager m = manager.newSubManager()) {
      NDList out = forward(m.create(observations, new Shape(n, spec.obsDim())), false);
      float[] rows = out.size() == 1 ? out.get(0).toFloatArray()
          : ai.djl.ndarray.NDArrays.concat(new NDList(out.get(0), out.get(1)), 1).toFloatArray();
      int width = rows.length / n;
      for (int i = 0; i < rows.length; i++) {
        if (Float.isNaN(rows[i])) {
          long[] bad = java.util.stream.IntStream.range(0, n)
              .filter(r -> java.util.stream.IntStream.range(r * width, (r + 1) * width).anyMatch(j -> Float.isNaN(rows[j])))
              .limit(10).asLongStream().toArray();
          throw nanError(bad);
        }
      }
      return rows;
    }
  }

  @Override
  public NDArray logProbsAll(NDArray observations) {
    if (spec.distribution() != Distribution.CATEGORICAL) {
      throw new UnsupportedOperationException("prior '" + spec.name() + "' is " + spec.distribution().sidecarName()
          + ": use distribution() or logProb(), not logProbsAll()");
    }
    return forward(observations).get(0);
  }

  @Override
  public GaussianParams distribution(NDArray observations) {
    if (!spec.distribution().isGaussian()) {
      throw new UnsupportedOperationException("prior '" + spec.name() + "' is categorical: use logProbsAll()");
    }
    NDList out = forward(observations);
    return new GaussianParams(out.get(0), out.get(1));
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      model.close();
    }
  }

  @Override
  public String toString() {
    return "TorchScriptPrior[" + spec.name() + ", " + spec.distribution().sidecarName() + ", " + moduleFile + "]";
  }
}
