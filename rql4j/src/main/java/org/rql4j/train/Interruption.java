package org.rql4j.train;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A request to stop training now, e.g. from a Ctrl-C or SIGTERM handler (the {@code rql4j} command
 * line installs one, which quits at once when no loop runs: {@link #trainingActive()}). Both
 * training loops check it at every env step: with checkpointing they save
 * a checkpoint of that moment (PPO: of the last whole rollout) and throw a {@link TrainingException}
 * that says how to resume; without, a TrainingException that says nothing was saved.
 */
public final class Interruption {

  private static final AtomicBoolean REQUESTED = new AtomicBoolean();
  private static final java.util.concurrent.atomic.AtomicInteger ACTIVE = new java.util.concurrent.atomic.AtomicInteger();

  private Interruption() {}

  /** A training loop's time of checking for requests ({@link #training()}); closing it ends it. */
  public interface Scope extends AutoCloseable {
    @Override
    void close();
  }

  /**
   * Marks a training loop as running until the scope closes. The first loop to start forgets an
   * earlier request (one made while no loop ran, e.g. by an earlier run in this JVM).
   */
  public static Scope training() {
    if (ACTIVE.getAndIncrement() == 0) {
      REQUESTED.set(false);
    }
    return ACTIVE::decrementAndGet;
  }

  /** Whether a training loop is running (one that will see a {@link #request()}). */
  public static boolean trainingActive() {
    return ACTIVE.get() > 0;
  }

  /** Asks the running training loops to save and stop (callable from any thread, e.g. a signal handler). */
  public static void request() {
    REQUESTED.set(true);
  }

  /** Whether a stop was requested and not yet {@link #clear cleared}. */
  public static boolean requested() {
    return REQUESTED.get();
  }

  /** Forgets a request (before a new run in the same JVM). */
  public static void clear() {
    REQUESTED.set(false);
  }

  /** The exception a loop throws once it stopped at {@code step}; {@code saved} where the checkpoint went, or null. */
  static TrainingException stopped(String envId, long step, java.nio.file.Path saved, String unsaved) {
    if (saved != null) {
      return new TrainingException("training on " + envId + " interrupted at env step " + step + ": everything "
          + "learned up to there is saved in " + saved + "; rerun the same command with --resume to continue", step,
          null);
    }
    return new TrainingException("training on " + envId + " interrupted at env step " + step + "; "
        + (unsaved != null ? unsaved : "no checkpoint folder was set (--out or --checkpoint-dir), so nothing was "
            + "saved"), step, null);
  }
}
