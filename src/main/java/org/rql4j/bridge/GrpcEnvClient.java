package org.rql4j.bridge;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.Env;
import org.rql4j.proto.v1.EnvServiceGrpc;
import org.rql4j.proto.v1.MakeRequest;
import org.rql4j.proto.v1.MakeResponse;
import org.rql4j.proto.v1.ServerInfoRequest;
import org.rql4j.proto.v1.ServerInfoResponse;

/**
 * A connection to an {@code rql4j.v1.EnvService} server (the Python bridge); makes
 * {@link GrpcVectorEnv}s. Closing the client closes its channel.
 */
public final class GrpcEnvClient implements AutoCloseable {

  /** Largest message accepted (batched image observations can be large). */
  public static final int MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

  private final ManagedChannel channel;
  private final String target;
  private final String host;
  private final Supplier<String> diagnostics;

  /**
   * Wraps a channel (the client owns and closes it).
   *
   * @param channel the channel, e.g. an in-process one in unit tests
   * @param target how to name the server in error messages
   * @param diagnostics extra text for errors, e.g. the server process's state; may return null
   */
  public GrpcEnvClient(ManagedChannel channel, String target, Supplier<String> diagnostics) {
    this.channel = channel;
    this.target = target;
    int colon = target.lastIndexOf(':');
    this.host = colon > 0 ? target.substring(0, colon) : "127.0.0.1";
    this.diagnostics = diagnostics == null ? () -> null : diagnostics;
  }

  /** Connects (plaintext) to a server at {@code host:port}. The connection is made lazily. */
  public static GrpcEnvClient connect(String host, int port) {
    return connect(host, port, null);
  }

  static GrpcEnvClient connect(String host, int port, Supplier<String> diagnostics) {
    ManagedChannel channel = NettyChannelBuilder.forAddress(host, port)
        .usePlaintext()
        // Responses are handed to the (blocking) caller straight from the transport thread: one
        // thread hop less per step. Safe because nothing here blocks inside a callback.
        .directExecutor()
        .maxInboundMessageSize(MAX_MESSAGE_BYTES)
        .build();
    return new GrpcEnvClient(channel, host + ":" + port, diagnostics);
  }

  /** How errors name the server. */
  public String target() {
    return target;
  }

  /** The server's host as the client reaches it (step sockets on wildcard addresses use it). */
  String host() {
    return host;
  }

  ManagedChannel channel() {
    return channel;
  }

  BridgeException error(String what, Throwable t) {
    return BridgeException.of(what, target, t, diagnostics.get());
  }

  /** Versions and liveness of the server; fails with a clear {@link BridgeException} if it is down. */
  public ServerInfoResponse serverInfo() {
    return serverInfo(Duration.ofSeconds(10));
  }

  /** As {@link #serverInfo()}, with a deadline. */
  public ServerInfoResponse serverInfo(Duration timeout) {
    try {
      return EnvServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
          .getServerInfo(ServerInfoRequest.getDefaultInstance());
    } catch (StatusRuntimeException e) {
      throw error("server info", e);
    }
  }

  /** Makes {@code spec.numEnvs()} copies of an env on the server. */
  public GrpcVectorEnv make(EnvSpec spec) {
    MakeRequest.Builder req = MakeRequest.newBuilder()
        .setEnvId(spec.envId())
        .setNumEnvs(spec.numEnvs())
        .setAutoresetMode(ProtoCodec.autoreset(spec.autoresetMode()))
        .setMaxEpisodeSteps(spec.maxEpisodeSteps());
    if (spec.kwargsJson() != null) {
      req.setKwargsJson(spec.kwargsJson());
    }
    MakeResponse resp;
    try {
      resp = EnvServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(spec.callTimeout().toMillis(), TimeUnit.MILLISECONDS)
          .make(req.build());
    } catch (StatusRuntimeException e) {
      throw error("make " + spec.envId(), e);
    }
    return new GrpcVectorEnv(this, spec, resp);
  }

  /** Makes {@code numEnvs} copies of {@code envId} with default settings. */
  public GrpcVectorEnv make(String envId, int numEnvs) {
    return make(EnvSpec.builder(envId).optNumEnvs(numEnvs).build());
  }

  /**
   * Asks the server to load a prior package (a folder on the server's machine) and answer its
   * queries; see {@link RemotePrior}.
   */
  public RemotePrior loadPrior(java.nio.file.Path packageDir) {
    return RemotePrior.load(this, packageDir);
  }

  /** Makes one env with the single-env API (no autoreset). */
  public Env makeSingle(String envId, String kwargsJson) {
    return Env.single(make(EnvSpec.builder(envId).optKwargsJson(kwargsJson)
        .optAutoresetMode(AutoresetMode.DISABLED).build()));
  }

  @Override
  public void close() {
    channel.shutdown();
    try {
      if (!channel.awaitTermination(2, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
