package org.rql4j.bridge;

import java.nio.file.Path;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.Env;
import org.rql4j.proto.v1.ServerInfoResponse;

/**
 * A connection to a Python bridge server, over gRPC ({@link GrpcEnvClient}) or Py4J
 * ({@link Py4jEnvClient}): the same envs, priors, results and errors either way. Closing the
 * client closes its connection (not the server).
 */
public interface EnvClient extends AutoCloseable {

  /** How errors name the server, e.g. {@code 127.0.0.1:50051}. */
  String target();

  /** Which transport this client speaks. */
  BridgeTransport transport();

  /** Versions and liveness of the server; fails with a clear {@link BridgeException} if it is down. */
  ServerInfoResponse serverInfo();

  /** Makes {@code spec.numEnvs()} copies of an env on the server. */
  RemoteVectorEnv make(EnvSpec spec);

  /** Makes {@code numEnvs} copies of {@code envId} with default settings. */
  default RemoteVectorEnv make(String envId, int numEnvs) {
    return make(EnvSpec.builder(envId).optNumEnvs(numEnvs).build());
  }

  /** Makes one env with the single-env API (no autoreset). */
  default Env makeSingle(String envId, String kwargsJson) {
    return Env.single(make(EnvSpec.builder(envId).optKwargsJson(kwargsJson)
        .optAutoresetMode(AutoresetMode.DISABLED).build()));
  }

  /**
   * Asks the server to load a prior package (a folder on the server's machine) and answer its
   * queries; see {@link RemotePrior}.
   */
  RemotePrior loadPrior(Path packageDir);

  @Override
  void close();
}
