package org.rql4j.env;

import java.util.LinkedHashMap;
import java.util.Map;

/** {@link Env} over a one-copy {@link VectorEnv} without autoreset. */
final class SingleEnv implements Env {

  private final VectorEnv vec;

  SingleEnv(VectorEnv vec) {
    if (vec.numEnvs() != 1) {
      throw new IllegalArgumentException(
          "a single Env needs a VectorEnv with 1 copy, got " + vec.numEnvs()
              + " copies of " + vec.envId());
    }
    if (vec.autoresetMode() != AutoresetMode.DISABLED) {
      throw new IllegalArgumentException(
          "a single Env needs autoreset DISABLED (reset is the caller's), got "
              + vec.autoresetMode() + " for " + vec.envId());
    }
    this.vec = vec;
  }

  @Override
  public Space observationSpace() {
    return vec.observationSpace();
  }

  @Override
  public Space actionSpace() {
    return vec.actionSpace();
  }

  @Override
  public Reset reset(Long seed) {
    ResetRequest request = seed == null ? ResetRequest.unseeded() : ResetRequest.seeded(seed);
    VectorReset r = vec.reset(request);
    return new Reset(r.observations().row(0), row(r.info()));
  }

  @Override
  public Step step(Value action) {
    VectorStep s = vec.step(Value.stack(java.util.List.of(action)));
    return new Step(
        s.observations().row(0), s.rewards()[0], s.terminated()[0], s.truncated()[0], row(s.info()));
  }

  private static Map<String, Double> row(Map<String, InfoColumn> info) {
    Map<String, Double> out = new LinkedHashMap<>();
    info.forEach((k, c) -> {
      if (c.present()[0]) {
        out.put(k, c.values()[0]);
      }
    });
    return out;
  }

  @Override
  public void close() {
    vec.close();
  }
}
