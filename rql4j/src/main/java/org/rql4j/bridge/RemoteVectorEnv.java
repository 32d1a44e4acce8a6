package org.rql4j.bridge;

import org.rql4j.env.VectorEnv;

/**
 * A {@link VectorEnv} held by a Python bridge server, whichever transport reaches it
 * ({@link GrpcVectorEnv} over gRPC, {@link Py4jVectorEnv} over Py4J). Both can snapshot and restore
 * the server's copies (the env server's Snapshot / Restore / ReleaseSnapshots).
 */
public interface RemoteVectorEnv extends VectorEnv, org.rql4j.env.Snapshottable {

  /** The server's handle for this env. */
  String handle();

  /** The env's Gymnasium spec as JSON (for provenance). */
  String specJson();
}
