package org.rql4j.bridge;

import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
import java.time.Duration;

/**
 * One unary call of the {@code rql4j.v1} contract, whatever carries it: gRPC
 * ({@link GrpcEnvClient}) or Py4J ({@link Py4jEnvClient}). Calls are named by the generated
 * gRPC method descriptors (e.g. {@code EnvServiceGrpc.getResetMethod()}), so a method added to the
 * proto is callable over every transport without a change here.
 */
interface UnaryRpc {

  /**
   * Sends {@code request} and returns the response.
   *
   * @throws StatusRuntimeException with the server's status, or UNAVAILABLE / DEADLINE_EXCEEDED /
   *     UNAUTHENTICATED when the call did not reach it; wrap it with {@link #error}
   */
  <Req, Resp> Resp call(MethodDescriptor<Req, Resp> method, Req request, Duration timeout);

  /** How errors name the server. */
  String target();

  /** A {@link BridgeException} for a failed {@code what} (e.g. "step CartPole-v1"). */
  BridgeException error(String what, Throwable t);
}
