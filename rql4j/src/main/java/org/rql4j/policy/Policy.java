package org.rql4j.policy;

import org.rql4j.env.Value;

/** Something that acts in an env: one observation in, one action out (unbatched). */
public interface Policy extends AutoCloseable {

  /** The action for {@code observation}: the mode when {@code deterministic}, else a sample. */
  Value act(Value observation, boolean deterministic);

  @Override
  default void close() {}
}
