package org.rql4j.bridge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import org.rql4j.env.Tensor;
import org.rql4j.prior.Distribution;
import org.rql4j.prior.GaussianParams;
import org.rql4j.prior.PriorPackage;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.prior.PriorSpec;
import org.rql4j.proto.v1.DistributionResponse;
import org.rql4j.proto.v1.LoadPriorRequest;
import org.rql4j.proto.v1.LoadPriorResponse;
import org.rql4j.proto.v1.PriorQuery;
import org.rql4j.proto.v1.PriorServiceGrpc;
import org.rql4j.proto.v1.ReleasePriorRequest;

/**
 * A prior package answered by the Python server ({@code rql4j.v1.PriorService}, over gRPC or
 * Py4J), for priors that
 * cannot run in-process. Distribution parameters come from the server; log-probabilities of
 * given actions and samples are computed in Java from them (as for {@code TorchScriptPrior}), so
 * they are differentiable in the actions.
 */
public final class RemotePrior implements PriorPolicy {

  private final UnaryRpc rpc;
  private final PriorSpec spec;
  private final String handle;
  private boolean closed;

  private RemotePrior(UnaryRpc rpc, PriorSpec spec, String handle) {
    this.rpc = rpc;
    this.spec = spec;
    this.handle = handle;
  }

  /** Asks the server to load the prior package at {@code packageDir} (a path on the server's machine). */
  static RemotePrior load(UnaryRpc rpc, Path packageDir) {
    LoadPriorResponse resp;
    try {
      resp = rpc.call(PriorServiceGrpc.getLoadPriorMethod(), LoadPriorRequest.newBuilder()
          .setPath(packageDir.toAbsolutePath().toString()).build(), TIMEOUT);
    } catch (StatusRuntimeException e) {
      throw rpc.error("load prior " + packageDir, e);
    }
    PriorSpec spec = PriorPackage.parse(resp.getSidecarJson(),
        packageDir.resolve(PriorPackage.SIDECAR) + " (as served by " + rpc.target() + ")", packageDir);
    return new RemotePrior(rpc, spec, resp.getPriorHandle());
  }

  private static final Duration TIMEOUT = Duration.ofSeconds(120);

  @Override
  public PriorSpec spec() {
    return spec;
  }

  private PriorQuery query(NDArray observations) {
    if (closed) {
      throw new IllegalStateException("remote prior '" + spec.name() + "' is closed");
    }
    Shape shape = observations.getShape();
    if (shape.dimension() != 2 || shape.get(1) != spec.obsDim()) {
      throw new IllegalArgumentException("prior '" + spec.name() + "' takes observations [B, " + spec.obsDim()
          + "] (flattened: " + spec.flatten() + "), got " + shape);
    }
    float[] obs = observations.toType(DataType.FLOAT32, false).toFloatArray();
    return PriorQuery.newBuilder().setPriorHandle(handle)
        .setObservations(ProtoCodec.tensor(Tensor.ofFloats(obs, shape.get(0), shape.get(1)))).build();
  }

  private static NDArray toNd(NDManager manager, org.rql4j.proto.v1.Tensor t) {
    Tensor x = ProtoCodec.tensor(t);
    return manager.create(x.toFloatArray(), new Shape(x.shape()));
  }

  @Override
  public NDArray logProbsAll(NDArray observations) {
    if (spec.distribution() != Distribution.CATEGORICAL) {
      throw new UnsupportedOperationException("prior '" + spec.name() + "' is " + spec.distribution().sidecarName()
          + ": use distribution() or logProb(), not logProbsAll()");
    }
    try {
      return toNd(observations.getManager(),
          rpc.call(PriorServiceGrpc.getLogProbsAllMethod(), query(observations), TIMEOUT).getLogProbs());
    } catch (StatusRuntimeException e) {
      throw rpc.error("log-probs of prior " + spec.name(), e);
    }
  }

  @Override
  public GaussianParams distribution(NDArray observations) {
    if (!spec.distribution().isGaussian()) {
      throw new UnsupportedOperationException("prior '" + spec.name() + "' is categorical: use logProbsAll()");
    }
    try {
      DistributionResponse r = rpc.call(PriorServiceGrpc.getDistributionMethod(), query(observations), TIMEOUT);
      NDManager m = observations.getManager();
      return new GaussianParams(toNd(m, r.getMean()), toNd(m, r.getLogStd()));
    } catch (StatusRuntimeException e) {
      throw rpc.error("distribution of prior " + spec.name(), e);
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      rpc.call(PriorServiceGrpc.getReleasePriorMethod(),
          ReleasePriorRequest.newBuilder().setPriorHandle(handle).build(), TIMEOUT);
    } catch (StatusRuntimeException ignored) {
      // nothing to release on a dead server
    }
  }

  @Override
  public String toString() {
    return "RemotePrior[" + spec.name() + ", " + spec.distribution().sidecarName() + ", " + rpc.target() + "]";
  }
}
