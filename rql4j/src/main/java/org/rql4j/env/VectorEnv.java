package org.rql4j.env;

/**
 * A batch of {@link #numEnvs()} copies of one Gymnasium environment stepped together, with
 * Gymnasium's vector semantics (the batched step is the main API). Implementations: the gRPC
 * bridge ({@code org.rql4j.bridge.GrpcVectorEnv}) and the Py4J bridge ({@code org.rql4j.bridge.Py4jVectorEnv}).
 */
public interface VectorEnv extends AutoCloseable {

  /** The Gymnasium id this env was made from. */
  String envId();

  /** Copies stepped together. */
  int numEnvs();

  /** Observation space of ONE copy. */
  Space observationSpace();

  /** Action space of ONE copy. */
  Space actionSpace();

  /** What happens to copies whose episode ended. */
  AutoresetMode autoresetMode();

  /** Resets copies as {@code request} says and returns the batched observations. */
  VectorReset reset(ResetRequest request);

  /** Resets every copy, seeding copy i with {@code seed + i}. */
  default VectorReset reset(long seed) {
    return reset(ResetRequest.seeded(seed));
  }

  /** Steps every copy with its row of the batched action [numEnvs, ...]. */
  VectorStep step(Value actions);

  /** Steps a batch of Discrete actions, one per copy. */
  default VectorStep step(long[] discreteActions) {
    return step(Tensor.ofLongs(discreteActions));
  }

  /** Steps a batch of Box actions [numEnvs][actionDim] (FLOAT32). */
  default VectorStep step(float[][] boxActions) {
    int n = boxActions.length;
    int d = n == 0 ? 0 : boxActions[0].length;
    float[] flat = new float[n * d];
    for (int i = 0; i < n; i++) {
      System.arraycopy(boxActions[i], 0, flat, i * d, d);
    }
    return step(Tensor.ofFloats(flat, n, d));
  }

  /** Releases the environment (idempotent). */
  @Override
  void close();
}
