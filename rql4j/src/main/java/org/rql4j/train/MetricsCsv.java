package org.rql4j.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** A {@link OffPolicyTraining.Callback} that appends every progress report to a CSV file (with steps/s). */
public final class MetricsCsv implements OffPolicyTraining.Callback, AutoCloseable {

  private final Writer out;

  public MetricsCsv(Path file) throws IOException {
    this(file, -1);
  }

  /**
   * @param keepUpToStep -1: start a new file; otherwise continue the existing one (a resumed run),
   *     first dropping its reports of steps after {@code keepUpToStep} (the checkpoint's step: the
   *     resumed run makes those again)
   */
  public MetricsCsv(Path file, long keepUpToStep) throws IOException {
    this(file, keepUpToStep, "step,episodes,recent_return,recent_basic_return,recent_addon_return,exploration,"
        + "exploration_value,loss,steps_per_second,env_seconds,prior_seconds,learner_seconds,alpha_hat,kl_to_prior,"
        + "greedy_moved\n");
  }

  /** The PPO loop's metrics ({@link #onPpoProgress}); {@code keepUpToStep} as in {@link #MetricsCsv(Path, long)}. */
  public static MetricsCsv forPpo(Path file, long keepUpToStep) throws IOException {
    return new MetricsCsv(file, keepUpToStep, "step,episodes,recent_return,recent_basic_return,recent_addon_return,"
        + "loss,policy_loss,value_loss,entropy,approx_kl,clip_fraction,grad_norm,steps_per_second,train_seconds,alpha_hat,"
        + "kl_to_prior\n");
  }

  private MetricsCsv(Path file, long keepUpToStep, String header) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    boolean append = keepUpToStep >= 0 && Files.exists(file) && Files.size(file) > 0;
    String columns = header.strip();
    java.util.List<String> lines = append ? Files.readAllLines(file) : java.util.List.of();
    // a file an earlier version began, with fewer columns at the end: its header gets the new ones, its rows
    // empty cells for them, so that every row lines up with the header
    int added = append && !lines.isEmpty() && !lines.get(0).equals(columns) && columns.startsWith(lines.get(0) + ",")
        ? columns.substring(lines.get(0).length()).split(",", -1).length - 1 : 0;
    if (append && (keepUpToStep != Long.MAX_VALUE || added > 0)) {
      java.util.List<String> kept = new java.util.ArrayList<>();
      for (int i = 0; i < lines.size(); i++) {
        String line = lines.get(i);
        if (i == 0 && added > 0) {
          kept.add(columns);
          continue;
        }
        if (i == 0 || line.isBlank()) {
          kept.add(line);
          continue;
        }
        line = line + ",".repeat(added);
        try {
          if (Long.parseLong(line.substring(0, line.indexOf(','))) <= keepUpToStep) {
            kept.add(line);
          }
        } catch (RuntimeException e) {
          kept.add(line); // not a report row: keep it as it is
        }
      }
      Files.write(file, kept);
    }
    out = append ? Files.newBufferedWriter(file, java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.APPEND) : Files.newBufferedWriter(file);
    if (!append) {
      out.write(header);
    }
  }

  /** Appends one PPO progress report (a row after every rollout). */
  public void onPpoProgress(OnPolicyTraining.Progress p) {
    org.rql4j.learner.ResidualPpo.Losses l = p.losses();
    try {
      out.write(String.format(Locale.ROOT, "%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.4f,%.6g,%.1f,%.1f,%s,%s%n",
          p.step(), p.episodes(), p.recentEnvReturn(), p.recentBasicReturn(), p.recentAddonReturn(), l.loss(),
          l.policyLoss(), l.valueLoss(), l.entropy(), l.approxKl(), l.clipFraction(), l.gradNorm(),
          p.stepsPerSecond(), p.trainSeconds(), orEmpty(p.alphaHat()), orEmpty(p.klToPrior())));
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public boolean onProgress(OffPolicyTraining.Progress p) {
    try {
      out.write(String.format(Locale.ROOT, "%d,%d,%.6g,%.6g,%.6g,%s,%.6g,%.6g,%.1f,%.3f,%.3f,%.3f,%s,%s,%s%n", p.step(),
          p.episodes(), p.recentEnvReturn(), p.recentBasicReturn(), p.recentAddonReturn(), p.explorationName(), p.exploration(),
          p.loss(), p.stepsPerSecond(), p.envSeconds(), p.priorSeconds(), p.learnerSeconds(), orEmpty(p.alphaHat()),
          orEmpty(p.klToPrior()), orEmpty(p.greedyMoved())));
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return true;
  }

  /** A KL budget's column: empty without a budget (NaN). */
  static String orEmpty(double value) {
    return Double.isNaN(value) ? "" : String.format(Locale.ROOT, "%.6g", value);
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
