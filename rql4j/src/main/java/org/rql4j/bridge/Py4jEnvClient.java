package org.rql4j.bridge;

import com.google.protobuf.MessageLite;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Supplier;
import javax.net.SocketFactory;
import org.rql4j.proto.v1.EnvServiceGrpc;
import org.rql4j.proto.v1.MakeResponse;
import org.rql4j.proto.v1.ServerInfoRequest;
import org.rql4j.proto.v1.ServerInfoResponse;
import py4j.ClientServer;
import py4j.Py4JAuthenticationException;
import py4j.Py4JException;
import py4j.Py4JNetworkException;

/**
 * A connection to the Python bridge over Py4J ({@code rql4j-bridge serve-py4j}, or any Py4J
 * gateway whose Python entry point is {@code rql4j_bridge.py4j_server.Py4jBridgeService}); makes
 * {@link Py4jVectorEnv}s and {@link RemotePrior}s. Every call is the gRPC contract's request and
 * response message, serialized, through {@link Py4jBridgeService#call}; the server's errors keep
 * their gRPC status codes and messages.
 *
 * <p>Py4J's {@link ClientServer} (pinned-thread mode: each Java thread has its own connection,
 * served by its own Python thread), with TCP_NODELAY on its sockets and no Java gateway port
 * (nothing calls back from Python). Py4J has one read timeout per connection, not per call:
 * {@link EnvSpec#callTimeout()} does not apply; {@link #connect(String, int, String, Duration)}
 * sets it. Thread-safe; each env is stepped by one thread.
 */
public final class Py4jEnvClient implements EnvClient, UnaryRpc {

  private volatile boolean revisionChecked;

  /** What to do when a Py4J bridge server is unreachable. */
  static final String START_HINT = "Start it with `rql4j-bridge serve-py4j` (auth token in RQL4J_BRIDGE_TOKEN) "
      + "or let PythonServer.builder().optTransport(BridgeTransport.PY4J) launch it, and check the host, port "
      + "and token.";

  /** Default read timeout of a call. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(120);

  private final ClientServer gateway;
  private final boolean ownsGateway;
  private final Py4jBridgeService service;
  private final String target;
  private final Supplier<String> diagnostics;
  private volatile boolean closed;

  private Py4jEnvClient(ClientServer gateway, boolean ownsGateway, String target, Supplier<String> diagnostics) {
    this.gateway = gateway;
    this.ownsGateway = ownsGateway;
    this.service = (Py4jBridgeService) gateway.getPythonServerEntryPoint(new Class<?>[] {Py4jBridgeService.class});
    this.target = target;
    this.diagnostics = diagnostics == null ? () -> null : diagnostics;
  }

  /**
   * Connects to a Py4J bridge server at {@code host:port} (lazily: the first call connects).
   *
   * @param authToken the token the server was started with (its {@code RQL4J_BRIDGE_TOKEN}); null
   *     for a server started with {@code --no-auth}
   */
  public static Py4jEnvClient connect(String host, int port, String authToken) {
    return connect(host, port, authToken, DEFAULT_TIMEOUT);
  }

  /** As {@link #connect(String, int, String)}, with the read timeout of every call. */
  public static Py4jEnvClient connect(String host, int port, String authToken, Duration timeout) {
    return connect(host, port, authToken, timeout, null);
  }

  static Py4jEnvClient connect(String host, int port, String authToken, Duration timeout,
      Supplier<String> diagnostics) {
    InetAddress address;
    try {
      address = InetAddress.getByName(host);
    } catch (UnknownHostException e) {
      throw new BridgeException(Status.Code.INVALID_ARGUMENT, "unknown host '" + host + "' for the Py4J bridge", e);
    }
    ClientServer gateway = new ClientServer.ClientServerBuilder()
        .pythonAddress(address)
        .pythonPort(port)
        .javaAddress(InetAddress.getLoopbackAddress())
        .javaPort(0)
        .autoStartJavaServer(false) // Python never calls Java here: no port to open
        .authToken(authToken)
        .socketFactory(new NoDelaySocketFactory())
        .connectTimeout((int) Math.min(Integer.MAX_VALUE, Duration.ofSeconds(10).toMillis()))
        .readTimeout((int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
        .build();
    return new Py4jEnvClient(gateway, true, host + ":" + port, diagnostics);
  }

  /**
   * Uses a {@link ClientServer} you already run, whose Python side's entry point is an
   * {@code rql4j_bridge.py4j_server.Py4jBridgeService}. Closing this client leaves it running.
   *
   * @param target how to name the Python side in error messages
   */
  public static Py4jEnvClient wrap(ClientServer gateway, String target) {
    return new Py4jEnvClient(gateway, false, target, null);
  }

  @Override
  public String target() {
    return target;
  }

  @Override
  public BridgeTransport transport() {
    return BridgeTransport.PY4J;
  }

  @Override
  public BridgeException error(String what, Throwable t) {
    return BridgeException.of(what, target + " (Py4J)", t, diagnostics.get(), START_HINT);
  }

  @Override
  public <Req, Resp> Resp call(MethodDescriptor<Req, Resp> method, Req request, Duration timeout) {
    if (closed) {
      throw Status.CANCELLED.withDescription("the Py4J client of " + target + " is closed").asRuntimeException();
    }
    byte[] reply;
    try {
      reply = service.call(method.getFullMethodName(), ((MessageLite) request).toByteArray());
    } catch (Py4JException e) {
      throw status(e).asRuntimeException();
    }
    if (reply == null || reply.length == 0) {
      throw Status.INTERNAL.withDescription("empty reply to " + method.getFullMethodName()
          + " from the Py4J entry point (is it rql4j_bridge.py4j_server.Py4jBridgeService?)").asRuntimeException();
    }
    int code = reply[0] & 0xff;
    if (code != 0) {
      throw Status.fromCodeValue(code)
          .withDescription(new String(reply, 1, reply.length - 1, StandardCharsets.UTF_8)).asRuntimeException();
    }
    return method.parseResponse(new ByteArrayInputStream(reply, 1, reply.length - 1));
  }

  /** The status of a Py4J failure: what failed and what to do. */
  private Status status(Py4JException e) {
    Throwable io = null;
    for (Throwable c = e; c != null; c = c.getCause()) {
      // py4j reports a refused token as a bare IOException ("Authentication with callback server
      // unsuccessful.") or, on its Java server side, as Py4JAuthenticationException
      boolean auth = c instanceof Py4JAuthenticationException
          || (c instanceof IOException && String.valueOf(c.getMessage()).contains("Authentication"));
      if (auth) {
        return Status.UNAUTHENTICATED.withCause(e).withDescription("the Py4J server at " + target
            + " refused this client's auth token (" + c.getMessage() + "); connect with the token the server "
            + "was started with (its RQL4J_BRIDGE_TOKEN), or let PythonServer start it and connect for you");
      }
      if (c instanceof SocketTimeoutException) {
        return Status.DEADLINE_EXCEEDED.withCause(e).withDescription("no answer within the Py4J read timeout ("
            + c.getMessage() + ")");
      }
      if (io == null && (c instanceof IOException || c instanceof Py4JNetworkException)) {
        io = c;
      }
    }
    if (io != null) {
      return Status.UNAVAILABLE.withCause(e).withDescription("Py4J: " + e.getMessage()
          + (io != e ? ": " + io : ""));
    }
    return Status.UNKNOWN.withCause(e).withDescription("the Py4J entry point at " + target + " failed: "
        + e.getMessage() + "; is it rql4j_bridge.py4j_server.Py4jBridgeService, of a python-bridge as new as this "
        + "rql4j?");
  }

  @Override
  public ServerInfoResponse serverInfo() {
    try {
      return call(EnvServiceGrpc.getGetServerInfoMethod(), ServerInfoRequest.getDefaultInstance(), DEFAULT_TIMEOUT);
    } catch (StatusRuntimeException e) {
      throw error("server info", e);
    }
  }

  @Override
  public Py4jVectorEnv make(EnvSpec spec) {
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
    return new Py4jVectorEnv(this, spec, resp);
  }

  @Override
  public Py4jVectorEnv make(String envId, int numEnvs) {
    return make(EnvSpec.builder(envId).optNumEnvs(numEnvs).build());
  }

  @Override
  public RemotePrior loadPrior(Path packageDir) {
    return RemotePrior.load(this, packageDir);
  }

  /** Closes the connections to Python (not the server; a wrapped gateway is left running). */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (ownsGateway) {
      try {
        gateway.shutdown();
      } catch (RuntimeException ignored) {
        // the Python side may already be gone
      }
    }
  }

  @Override
  public String toString() {
    return "Py4jEnvClient[" + target + "]";
  }

  /** Sockets with TCP_NODELAY: a call is one small message each way, which Nagle would delay. */
  static final class NoDelaySocketFactory extends SocketFactory {
    private final SocketFactory delegate = SocketFactory.getDefault();

    private static Socket noDelay(Socket s) throws IOException {
      s.setTcpNoDelay(true);
      return s;
    }

    @Override
    public Socket createSocket() throws IOException {
      return noDelay(delegate.createSocket());
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
      return noDelay(delegate.createSocket(host, port));
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
      return noDelay(delegate.createSocket(host, port, localHost, localPort));
    }

    @Override
    public Socket createSocket(InetAddress host, int port) throws IOException {
      return noDelay(delegate.createSocket(host, port));
    }

    @Override
    public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
        throws IOException {
      return noDelay(delegate.createSocket(address, port, localAddress, localPort));
    }
  }
}
