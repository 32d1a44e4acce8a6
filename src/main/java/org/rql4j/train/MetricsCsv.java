package org.rql4j.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** A {@link SoftQTraining.Callback} that appends every progress report to a CSV file (with steps/s). */
public final class MetricsCsv implements SoftQTraining.Callback, AutoCloseable {

  private final Writer out;

  public MetricsCsv(Path file) throws IOException {
    this(file, false);
  }

  /**
   * @param append continue an existing file (a resumed run): rows are added after the earlier
   *     run's; reports made after its last checkpoint appear twice, the later one being the resumed run's
   */
  public MetricsCsv(Path file, boolean append) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    boolean header = !append || !Files.exists(file) || Files.size(file) == 0;
    out = append ? Files.newBufferedWriter(file, java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.APPEND) : Files.newBufferedWriter(file);
    if (header) {
      out.write("step,episodes,recent_return,recent_basic_return,recent_addon_return,epsilon,loss,steps_per_second,"
          + "env_seconds,prior_seconds,learner_seconds\n");
    }
  }

  @Override
  public boolean onProgress(SoftQTraining.Progress p) {
    try {
      out.write(String.format(Locale.ROOT, "%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.1f,%.3f,%.3f,%.3f%n", p.step(), p.episodes(),
          p.recentEnvReturn(), p.recentBasicReturn(), p.recentAddonReturn(), p.epsilon(), p.loss(), p.stepsPerSecond(),
          p.envSeconds(), p.priorSeconds(), p.learnerSeconds()));
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return true;
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
