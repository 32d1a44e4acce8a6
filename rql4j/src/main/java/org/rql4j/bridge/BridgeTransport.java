package org.rql4j.bridge;

/**
 * How Java reaches the Python bridge server: its gRPC service, or a Py4J gateway carrying the
 * same messages as byte arrays. Results and error codes are the same; costs differ (see
 * docs/benchmarks.md, and the README for when to use which).
 */
public enum BridgeTransport {
  /**
   * gRPC ({@code rql4j-bridge serve}, {@link GrpcEnvClient}); steps over the env's step socket
   * by default ({@link StepTransport}). The default.
   */
  GRPC,
  /**
   * Py4J ({@code rql4j-bridge serve-py4j}, {@link Py4jEnvClient}): a Py4J {@code ClientServer}
   * in pinned-thread mode, auth token on, loopback only by default. Every call, steps included, is
   * one Py4J call; {@link EnvSpec#transport()} does not apply.
   */
  PY4J
}
