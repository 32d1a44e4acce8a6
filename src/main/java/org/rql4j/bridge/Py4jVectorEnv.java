package org.rql4j.bridge;

import io.grpc.StatusRuntimeException;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.ResetRequest;
import org.rql4j.env.Space;
import org.rql4j.env.Value;
import org.rql4j.env.VectorReset;
import org.rql4j.env.VectorStep;
import org.rql4j.proto.v1.CloseRequest;
import org.rql4j.proto.v1.EnvServiceGrpc;
import org.rql4j.proto.v1.MakeResponse;

/**
 * A {@link RemoteVectorEnv} held by the Python bridge and reached over Py4J: every call, each step
 * included, is one {@link Py4jBridgeService#call} carrying the contract's messages (so the
 * results are those of {@link GrpcVectorEnv}, bit for bit). Not thread-safe: one thread steps an
 * env.
 */
public final class Py4jVectorEnv implements RemoteVectorEnv {

  private final Py4jEnvClient client;
  private final EnvSpec spec;
  private final String handle;
  private final int numEnvs;
  private final AutoresetMode autoresetMode;
  private final Space observationSpace;
  private final Space actionSpace;
  private final String specJson;
  private boolean closed;

  Py4jVectorEnv(Py4jEnvClient client, EnvSpec spec, MakeResponse made) {
    this.client = client;
    this.spec = spec;
    this.handle = made.getEnvHandle();
    this.numEnvs = made.getNumEnvs();
    this.autoresetMode = ProtoCodec.autoreset(made.getAutoresetMode());
    this.observationSpace = ProtoCodec.space(made.getObservationSpace());
    this.actionSpace = ProtoCodec.space(made.getActionSpace());
    this.specJson = made.getSpecJson();
  }

  @Override
  public String envId() {
    return spec.envId();
  }

  @Override
  public int numEnvs() {
    return numEnvs;
  }

  @Override
  public Space observationSpace() {
    return observationSpace;
  }

  @Override
  public Space actionSpace() {
    return actionSpace;
  }

  @Override
  public AutoresetMode autoresetMode() {
    return autoresetMode;
  }

  @Override
  public String handle() {
    return handle;
  }

  @Override
  public String specJson() {
    return specJson;
  }

  private void checkOpen(String what) {
    if (closed) {
      throw new IllegalStateException(what + " on a closed env (" + spec.envId() + ", handle "
          + handle + "); make a new one");
    }
  }

  @Override
  public VectorReset reset(ResetRequest request) {
    checkOpen("reset");
    try {
      return EnvMessages.reset(client.call(EnvServiceGrpc.getResetMethod(),
          EnvMessages.reset(handle, spec.envId(), numEnvs, request), spec.callTimeout()));
    } catch (StatusRuntimeException e) {
      throw client.error("reset " + spec.envId(), e);
    }
  }

  @Override
  public VectorStep step(Value actions) {
    checkOpen("step");
    try {
      return EnvMessages.step(client.call(EnvServiceGrpc.getStepMethod(), EnvMessages.step(handle, actions),
          spec.callTimeout()));
    } catch (StatusRuntimeException e) {
      throw client.error("step " + spec.envId(), e);
    }
  }

  @Override
  public String snapshot(int index) {
    checkOpen("snapshot");
    try {
      return client.call(EnvServiceGrpc.getSnapshotMethod(), org.rql4j.proto.v1.SnapshotRequest.newBuilder()
          .setEnvHandle(handle).setIndex(index).build(), spec.callTimeout()).getSnapshotHandle();
    } catch (StatusRuntimeException e) {
      throw client.error("snapshot of copy " + index + " of " + spec.envId(), e);
    }
  }

  @Override
  public void restore(int index, String snapshotHandle) {
    checkOpen("restore");
    try {
      client.call(EnvServiceGrpc.getRestoreMethod(), org.rql4j.proto.v1.RestoreRequest.newBuilder()
          .setEnvHandle(handle).setIndex(index).setSnapshotHandle(snapshotHandle).build(), spec.callTimeout());
    } catch (StatusRuntimeException e) {
      throw client.error("restore of copy " + index + " of " + spec.envId(), e);
    }
  }

  @Override
  public int releaseSnapshots(java.util.Collection<String> snapshotHandles) {
    if (snapshotHandles.isEmpty() || closed) {
      return 0; // closing the env released them
    }
    try {
      return client.call(EnvServiceGrpc.getReleaseSnapshotsMethod(), org.rql4j.proto.v1.ReleaseSnapshotsRequest
          .newBuilder().addAllSnapshotHandles(snapshotHandles).build(), spec.callTimeout()).getReleased();
    } catch (StatusRuntimeException e) {
      throw client.error("releasing " + snapshotHandles.size() + " snapshots of " + spec.envId(), e);
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      client.call(EnvServiceGrpc.getCloseMethod(), CloseRequest.newBuilder().setEnvHandle(handle).build(),
          spec.callTimeout());
    } catch (StatusRuntimeException ignored) {
      // closing an env on a dead server is not an error: there is nothing left to release
    }
  }

  @Override
  public String toString() {
    return "Py4jVectorEnv[" + spec.envId() + " x" + numEnvs + ", " + client.target() + "]";
  }
}
