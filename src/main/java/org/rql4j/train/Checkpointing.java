package org.rql4j.train;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Where and how often a run saves {@link TrainingCheckpoint}s.
 *
 * @param dir the checkpoint folder
 * @param every env steps between checkpoints (one is also saved at the end, when a callback
 *     stops the run, and when the env fails)
 * @param resume continue from the checkpoint in {@code dir} if there is one; without it a run
 *     refuses to start over an existing checkpoint (it would be overwritten)
 */
public record Checkpointing(Path dir, long every, boolean resume) {
  public Checkpointing {
    java.util.Objects.requireNonNull(dir, "dir");
    if (every <= 0) {
      throw new IllegalArgumentException("checkpoint interval must be > 0 env steps, got " + every);
    }
  }

  /**
   * Refuses, before anything is trained or written, a folder that is not a checkpoint folder
   * and a fresh start over an existing checkpoint (it would be overwritten).
   */
  public void checkStartable() throws IOException {
    TrainingCheckpoint.checkUsable(dir);
    if (!resume && TrainingCheckpoint.exists(dir)) {
      throw new IllegalArgumentException("checkpoint folder " + dir + " already holds a checkpoint; resume it "
          + "(--resume), or choose another --out / --checkpoint-dir (or delete it) to start over");
    }
  }
}
