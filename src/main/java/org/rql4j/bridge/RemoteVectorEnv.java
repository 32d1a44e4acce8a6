package org.rql4j.bridge;

import org.rql4j.env.VectorEnv;

/**
 * A {@link VectorEnv} held by a Python bridge server, whichever transport reaches it
 * ({@link GrpcVectorEnv} over gRPC, {@link Py4jVectorEnv} over Py4J).
 */
public interface RemoteVectorEnv extends VectorEnv {

  /** The server's handle for this env. */
  String handle();

  /** The env's Gymnasium spec as JSON (for provenance). */
  String specJson();
}
