package org.rql4j.bridge;

import io.grpc.StatusRuntimeException;
import org.rql4j.env.Value;
import org.rql4j.env.VectorStep;
import org.rql4j.proto.v1.EnvServiceGrpc;
import org.rql4j.proto.v1.MakeResponse;

/**
 * A {@link RemoteVectorEnv} held by the Python bridge and reached over Py4J: every call, each step
 * included, is one {@link Py4jBridgeService#call} carrying the contract's messages (so the
 * results are those of {@link GrpcVectorEnv}, bit for bit). Not thread-safe: one thread steps an
 * env.
 */
public final class Py4jVectorEnv extends AbstractRemoteVectorEnv {

  Py4jVectorEnv(Py4jEnvClient client, EnvSpec spec, MakeResponse made) {
    super(client, spec, made);
  }

  @Override
  public VectorStep step(Value actions) {
    checkOpen("step");
    try {
      return EnvMessages.step(rpc.call(EnvServiceGrpc.getStepMethod(), EnvMessages.step(handle, actions),
          spec.callTimeout()));
    } catch (StatusRuntimeException e) {
      throw rpc.error("step " + spec.envId(), e);
    }
  }

  @Override
  public String toString() {
    return "Py4jVectorEnv[" + spec.envId() + " x" + numEnvs + ", " + rpc.target() + "]";
  }
}
