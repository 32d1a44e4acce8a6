package org.rql4j.bridge;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.rql4j.proto.v1.EnvServiceGrpc;
import org.rql4j.proto.v1.MakeResponse;
import org.rql4j.proto.v1.ServerInfoRequest;
import org.rql4j.proto.v1.ServerInfoResponse;

/**
 * A connection to an {@code rql4j.v1.EnvService} server (the Python bridge); makes
 * {@link GrpcVectorEnv}s. Closing the client closes its channel.
 */
public final class GrpcEnvClient implements EnvClient, UnaryRpc {

  private volatile boolean revisionChecked;

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

  /** The gRPC metadata key of the server's auth token. */
  public static final String TOKEN_METADATA_KEY = "x-rql4j-token";

  /**
   * Connects (plaintext) to a server at {@code host:port} started with {@code --no-auth}. The
   * connection is made lazily.
   */
  public static GrpcEnvClient connect(String host, int port) {
    return connect(host, port, null, null);
  }

  /**
   * Connects (plaintext) to a server at {@code host:port} whose auth token ({@code RQL4J_BRIDGE_TOKEN}
   * when it started) is {@code authToken}; every call carries it. The connection is made lazily.
   */
  public static GrpcEnvClient connect(String host, int port, String authToken) {
    return connect(host, port, authToken, null);
  }

  static GrpcEnvClient connect(String host, int port, String authToken, Supplier<String> diagnostics) {
    NettyChannelBuilder builder = NettyChannelBuilder.forAddress(host, port);
    if (authToken != null) {
      io.grpc.Metadata headers = new io.grpc.Metadata();
      headers.put(io.grpc.Metadata.Key.of(TOKEN_METADATA_KEY, io.grpc.Metadata.ASCII_STRING_MARSHALLER), authToken);
      builder.intercept(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    ManagedChannel channel = builder
        .usePlaintext()
        // Responses are handed to the (blocking) caller straight from the transport thread: one
        // thread hop less per step. Safe because nothing here blocks inside a callback.
        .directExecutor()
        .maxInboundMessageSize(MAX_MESSAGE_BYTES)
        .build();
    return new GrpcEnvClient(channel, host + ":" + port, diagnostics);
  }

  @Override
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

  @Override
  public BridgeTransport transport() {
    return BridgeTransport.GRPC;
  }

  @Override
  public BridgeException error(String what, Throwable t) {
    return BridgeException.of(what, target, t, diagnostics.get());
  }

  @Override
  public <Req, Resp> Resp call(MethodDescriptor<Req, Resp> method, Req request, Duration timeout) {
    return ClientCalls.blockingUnaryCall(channel, method,
        CallOptions.DEFAULT.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS), request);
  }

  @Override
  public ServerInfoResponse serverInfo() {
    return serverInfo(Duration.ofSeconds(10));
  }

  /** As {@link #serverInfo()}, with a deadline. */
  public ServerInfoResponse serverInfo(Duration timeout) {
    try {
      return call(EnvServiceGrpc.getGetServerInfoMethod(), ServerInfoRequest.getDefaultInstance(), timeout);
    } catch (StatusRuntimeException e) {
      throw error("server info", e);
    }
  }

  @Override
  public GrpcVectorEnv make(EnvSpec spec) {
    if (!revisionChecked) { // once per client: a server of another contract revision is refused before any env
      PythonServer.checkRevision(serverInfo().getProtocolRevision(), null);
      revisionChecked = true;
    }
    MakeResponse resp;
    try {
      resp = call(EnvServiceGrpc.getMakeMethod(), EnvMessages.make(spec), spec.callTimeout());
    } catch (StatusRuntimeException e) {
      throw error("make " + spec.envId(), e);
    }
    return new GrpcVectorEnv(this, spec, resp);
  }

  @Override
  public GrpcVectorEnv make(String envId, int numEnvs) {
    return make(EnvSpec.builder(envId).optNumEnvs(numEnvs).build());
  }

  @Override
  public RemotePrior loadPrior(java.nio.file.Path packageDir) {
    return RemotePrior.load(this, packageDir);
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
