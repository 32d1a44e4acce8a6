package org.rql4j.train;

import java.io.IOException;
import java.nio.file.Files;
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
   * Refuses, before anything is trained or written, a folder that is not a checkpoint folder, a
   * fresh start over an existing checkpoint (it would be overwritten) and a folder that cannot be
   * written ({@link #checkWritable}).
   *
   * @throws IllegalArgumentException naming the folder and what to do
   * @throws IOException when the folder cannot be listed
   */
  public void checkStartable() throws IOException {
    TrainingCheckpoint.checkUsable(dir);
    if (!resume && TrainingCheckpoint.exists(dir)) {
      throw new IllegalArgumentException("checkpoint folder " + dir + " already holds a checkpoint; resume it "
          + "(--resume), or choose another --out / --checkpoint-dir (or delete it) to start over");
    }
    checkWritable();
  }

  /**
   * Refuses a checkpoint folder that the first save could not write (a read-only file system, a
   * folder of another user, a file where a folder is needed), so that a run learns it at its start
   * and not after its first tenth of training. A save writes {@code <dir>.tmp} next to the folder
   * and then swaps it in, so the check creates (and deletes at once) a probe file in the folder's
   * parent, or in the nearest existing folder above it when the parent does not exist yet, and in
   * the folder itself when it exists. Nothing else is created.
   *
   * @throws IllegalArgumentException naming the folder, what failed and what to do
   */
  public void checkWritable() {
    Path absolute = dir.toAbsolutePath().normalize();
    Path existing = absolute.getParent();
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    if (existing == null) {
      return; // no parent: a file system root, which Files.createDirectories reports itself
    }
    if (!Files.isDirectory(existing)) {
      throw new IllegalArgumentException("checkpoint folder " + dir + " cannot be made: " + existing + " is a file, "
          + "not a folder; choose another --out / --checkpoint-dir");
    }
    probe(existing);
    if (Files.isDirectory(absolute)) {
      probe(absolute);
    }
  }

  private void probe(Path folder) {
    Path probe;
    try {
      probe = Files.createTempFile(folder, ".rql4j-write-probe-", ".tmp");
    } catch (IOException | SecurityException | UnsupportedOperationException e) {
      throw new IllegalArgumentException("checkpoint folder " + dir + " cannot be written: creating a file in "
          + folder + " failed (" + e.getClass().getSimpleName() + ": " + e.getMessage() + "); make " + folder
          + " writable, or choose another --out / --checkpoint-dir", e);
    }
    try {
      Files.deleteIfExists(probe);
    } catch (IOException e) {
      throw new IllegalArgumentException("checkpoint folder " + dir + " cannot be written: the probe file " + probe
          + " could not be deleted (" + e.getMessage() + "); delete it, make " + folder + " writable, or choose "
          + "another --out / --checkpoint-dir", e);
    }
  }
}
