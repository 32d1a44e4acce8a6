package org.rql4j.bridge;

import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;

/**
 * A failure talking to the Python side: the server said no (with its reason), or it is not there.
 * {@link #code()} is the gRPC status code ({@code UNKNOWN} for local failures).
 */
public class BridgeException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final Status.Code code;

  public BridgeException(String message) {
    this(Status.Code.UNKNOWN, message, null);
  }

  public BridgeException(Status.Code code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  /** The gRPC status code the server (or the channel) answered with. */
  public Status.Code code() {
    return code;
  }

  /**
   * Wraps a gRPC failure of {@code what} (e.g. "step CartPole-v1") against {@code target}, adding
   * what to do when the server is unreachable and {@code diagnostics} (e.g. the server process's
   * exit code and last stderr lines) when there are any.
   */
  static BridgeException of(String what, String target, Throwable t, String diagnostics) {
    return of(what, target, t, diagnostics, GRPC_START_HINT);
  }

  /** What to do when a gRPC server is unreachable. */
  static final String GRPC_START_HINT = "Start it with `rql4j-bridge serve` or let "
      + "org.rql4j.bridge.PythonServer launch it, and check the host and port.";

  /**
   * As {@link #of(String, String, Throwable, String)}, with {@code startHint} saying how to start
   * the server when it is unreachable (it differs by transport).
   */
  static BridgeException of(String what, String target, Throwable t, String diagnostics, String startHint) {
    Status status = t instanceof StatusRuntimeException sre ? sre.getStatus()
        : t instanceof StatusException se ? se.getStatus() : Status.fromThrowable(t);
    StringBuilder msg = new StringBuilder();
    msg.append(what).append(" failed: ");
    switch (status.getCode()) {
      case UNAVAILABLE -> msg.append("the env server at ").append(target)
          .append(" is not reachable (dead, not started, or a closed port: ")
          .append(status.getDescription()).append("). ").append(startHint);
      case DEADLINE_EXCEEDED -> msg.append("the env server at ").append(target)
          .append(" did not answer in time (").append(status.getDescription())
          .append("); it may be stuck or overloaded. Raise the call timeout if the env is slow.");
      case CANCELLED -> msg.append("the call was cancelled (").append(status.getDescription()).append(")");
      case UNAUTHENTICATED -> msg.append("the env server at ").append(target).append(" refused this client's auth "
          + "token (").append(status.getDescription()).append("); connect with the token it was started with (its "
          + "RQL4J_BRIDGE_TOKEN): GrpcEnvClient.connect(host, port, token), or let PythonServer start it and connect "
          + "for you");
      default -> msg.append(status.getCode()).append(": ").append(status.getDescription());
    }
    if (diagnostics != null && !diagnostics.isBlank()) {
      msg.append("\n").append(diagnostics);
    }
    return new BridgeException(status.getCode(), msg.toString(), t);
  }
}
