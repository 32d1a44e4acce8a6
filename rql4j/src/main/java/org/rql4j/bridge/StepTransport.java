package org.rql4j.bridge;

/**
 * How a {@link GrpcVectorEnv}'s steps travel to the Python server. Make, reset and close are
 * always gRPC calls; only the hot path differs. All three give identical results (the compat
 * tests run each); they differ in cost per batched step (figures in docs/benchmarks.md).
 */
public enum StepTransport {
  /** One unary gRPC call per step: the simplest, and the slowest (~2x the stream). */
  UNARY,
  /** A lockstep bidi gRPC stream ({@code StepStream}): one message each way per step. */
  STREAM,
  /**
   * The env's step socket ({@code OpenStepSocket}): the same messages in length-prefixed frames
   * over a plain loopback TCP connection, without HTTP/2 and grpcio's per-message cost. The
   * default: several times faster per step than the stream. Needs the client to reach the
   * server's host on a second (ephemeral) port, so a server behind a gRPC-only proxy wants
   * {@link #STREAM}.
   */
  SOCKET
}
