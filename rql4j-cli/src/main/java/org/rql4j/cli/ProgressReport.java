package org.rql4j.cli;

import java.time.Duration;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.rql4j.train.TrainingProgress;

/**
 * A run's training progress for a person: on an interactive terminal a progress bar (me.tongfei
 * progressbar) with rate, ETA and the recent returns, updated every {@link #INTERACTIVE_EVERY} env
 * steps; otherwise (CI logs, {@code results}' child runs, a pipe) one line per report, as before.
 */
final class ProgressReport implements AutoCloseable {

  /** Env steps between a bar's updates. */
  static final long INTERACTIVE_EVERY = 500;

  private final String task;
  private final boolean interactive;
  private ProgressBar bar; // made at the first report: its clock (rate, ETA) counts training, not the prior's evaluation
  private TrainingProgress last;

  private ProgressReport(String task, boolean interactive) {
    this.task = task;
    this.interactive = interactive;
  }

  /** A bar when the output is an interactive terminal (and not CI, and not RQL4J_PROGRESS=lines), else lines. */
  static ProgressReport forTraining(String task) {
    boolean terminal = System.console() != null && System.getenv("CI") == null
        && !"lines".equals(System.getenv("RQL4J_PROGRESS")) && !"dumb".equals(System.getenv("TERM"));
    return new ProgressReport(task, terminal);
  }

  /** Whether a bar is shown (the caller then asks for finer reports). */
  boolean interactive() {
    return interactive;
  }

  void accept(TrainingProgress p) {
    last = p;
    if (!interactive) {
      System.out.println(p.line());
      return;
    }
    if (bar == null) {
      bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(p.totalSteps()).startsFrom(p.step(), Duration.ZERO)
          .setStyle(ProgressBarStyle.ASCII).setUnit(" steps", 1).showSpeed().setUpdateIntervalMillis(500).build();
    }
    bar.maxHint(p.totalSteps()); // the run's own total (a config file may set it)
    bar.stepTo(p.step());
    bar.setExtraMessage(String.format(Locale.ROOT, " return %.1f (basic %.1f, add-on %.1f) loss %.3g",
        p.recentEnvReturn(), p.recentBasicReturn(), p.recentAddonReturn(), p.loss()));
  }

  @Override
  public void close() {
    if (bar != null) {
      bar.close();
      if (last != null) {
        System.out.println(last.line()); // the full last report stays in the scrollback
      }
    }
  }
}
