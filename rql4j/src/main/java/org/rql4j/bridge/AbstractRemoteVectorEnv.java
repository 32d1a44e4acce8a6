package org.rql4j.bridge;

import io.grpc.StatusRuntimeException;
import java.util.Collection;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.ResetRequest;
import org.rql4j.env.Space;
import org.rql4j.env.VectorReset;
import org.rql4j.proto.v1.CloseRequest;
import org.rql4j.proto.v1.EnvServiceGrpc;
import org.rql4j.proto.v1.MakeResponse;
import org.rql4j.proto.v1.ReleaseSnapshotsRequest;
import org.rql4j.proto.v1.RestoreRequest;
import org.rql4j.proto.v1.SnapshotRequest;

/**
 * What both transports' envs share: the env as {@code Make} described it, and the unary calls of
 * the contract (reset, snapshots, close) over the client's {@link UnaryRpc}. Subclasses step.
 */
abstract class AbstractRemoteVectorEnv implements RemoteVectorEnv {

  protected final UnaryRpc rpc;
  protected final EnvSpec spec;
  protected final String handle;
  protected final int numEnvs;
  private final AutoresetMode autoresetMode;
  private final Space observationSpace;
  private final Space actionSpace;
  private final String specJson;
  protected boolean closed;

  AbstractRemoteVectorEnv(UnaryRpc rpc, EnvSpec spec, MakeResponse made) {
    this.rpc = rpc;
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

  protected void checkOpen(String what) {
    if (closed) {
      throw new IllegalStateException(what + " on a closed env (" + spec.envId() + ", handle "
          + handle + "); make a new one");
    }
  }

  @Override
  public VectorReset reset(ResetRequest request) {
    checkOpen("reset");
    try {
      return EnvMessages.reset(rpc.call(EnvServiceGrpc.getResetMethod(),
          EnvMessages.reset(handle, spec.envId(), numEnvs, request), spec.callTimeout()));
    } catch (StatusRuntimeException e) {
      throw rpc.error("reset " + spec.envId(), e);
    }
  }

  @Override
  public String snapshot(int index) {
    checkOpen("snapshot");
    try {
      return rpc.call(EnvServiceGrpc.getSnapshotMethod(), SnapshotRequest.newBuilder().setEnvHandle(handle)
          .setIndex(index).build(), spec.callTimeout()).getSnapshotHandle();
    } catch (StatusRuntimeException e) {
      throw rpc.error("snapshot of copy " + index + " of " + spec.envId(), e);
    }
  }

  @Override
  public void restore(int index, String snapshotHandle) {
    checkOpen("restore");
    try {
      rpc.call(EnvServiceGrpc.getRestoreMethod(), RestoreRequest.newBuilder().setEnvHandle(handle).setIndex(index)
          .setSnapshotHandle(snapshotHandle).build(), spec.callTimeout());
    } catch (StatusRuntimeException e) {
      throw rpc.error("restore of copy " + index + " of " + spec.envId(), e);
    }
  }

  @Override
  public int releaseSnapshots(Collection<String> snapshotHandles) {
    if (snapshotHandles.isEmpty() || closed) {
      return 0; // closing the env released them
    }
    try {
      return rpc.call(EnvServiceGrpc.getReleaseSnapshotsMethod(), ReleaseSnapshotsRequest.newBuilder()
          .addAllSnapshotHandles(snapshotHandles).build(), spec.callTimeout()).getReleased();
    } catch (StatusRuntimeException e) {
      throw rpc.error("releasing " + snapshotHandles.size() + " snapshots of " + spec.envId(), e);
    }
  }

  /** Releases what the transport holds for stepping (streams, sockets) before the env is closed. */
  protected void closeStepping() {}

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    closeStepping();
    try {
      rpc.call(EnvServiceGrpc.getCloseMethod(), CloseRequest.newBuilder().setEnvHandle(handle).build(),
          spec.callTimeout());
    } catch (StatusRuntimeException ignored) {
      // closing an env on a dead server is not an error: there is nothing left to release
    }
  }
}
