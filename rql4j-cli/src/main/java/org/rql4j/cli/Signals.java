package org.rql4j.cli;

import java.util.concurrent.atomic.AtomicInteger;
import org.rql4j.train.Interruption;
import sun.misc.Signal;

/**
 * Ctrl-C and SIGTERM during a training command: while a training loop runs, the first asks it to
 * save a checkpoint where it is and stop ({@link Interruption}), which it reports with how to
 * resume, and a second one quits at once; at other times (starting, evaluating) it quits at once. The env server runs in its own process group (the terminal's Ctrl-C
 * does not reach it) and is stopped by this JVM once the checkpoint is saved.
 */
final class Signals {

  private static final AtomicInteger RECEIVED = new AtomicInteger();
  private static volatile boolean installed;

  private Signals() {}

  /** Installs the handlers (once per JVM). */
  static synchronized void stopTrainingOnInterrupt() {
    if (installed) {
      return;
    }
    installed = true;
    for (String name : new String[] {"INT", "TERM"}) {
      try {
        Signal.handle(new Signal(name), s -> {
          if (!Interruption.trainingActive()) { // starting up, evaluating, writing: nothing to save, stop now
            System.err.println("\nrql4j: SIG" + s.getName() + ": stopped (no training was running; a finished "
                + "run's files are complete, an unfinished one resumes from its last checkpoint with --resume)");
            System.exit(130);
          } else if (RECEIVED.incrementAndGet() == 1) {
            Interruption.request();
            System.err.println("\nrql4j: SIG" + s.getName() + ": saving a checkpoint and stopping (again to quit at "
                + "once, losing what was learned since the last checkpoint)");
          } else {
            System.err.println("\nrql4j: quitting now");
            System.exit(130);
          }
        });
      } catch (IllegalArgumentException e) {
        // a signal this platform does not have, or one the JVM reserves (e.g. with -Xrs): keep its default
      }
    }
  }
}
