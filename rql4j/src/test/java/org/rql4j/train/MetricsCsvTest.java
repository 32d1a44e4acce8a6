package org.rql4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A resumed run's metrics continue the file, without the reports made after its checkpoint. */
class MetricsCsvTest {

  private static OffPolicyTraining.Progress at(long step) {
    return new OffPolicyTraining.Progress(step, 5000, 1, -1, 1, -1, "eps", 0.1, 0.5, 100, 1, 1, 1, 3, false, Double.NaN,
        Double.NaN);
  }

  private static List<Long> steps(Path file) throws IOException {
    return Files.readAllLines(file).stream().skip(1).map(l -> Long.parseLong(l.substring(0, l.indexOf(',')))).toList();
  }

  @Test
  void aResumedRunDropsTheReportsAfterItsCheckpoint(@TempDir Path tmp) throws IOException {
    Path file = tmp.resolve("metrics.csv");
    try (MetricsCsv csv = new MetricsCsv(file)) {
      for (long s : new long[] {1000, 2000, 3000}) {
        csv.onProgress(at(s)); // the run died after 3000, its last checkpoint was at 2000
      }
    }
    try (MetricsCsv csv = new MetricsCsv(file, 2000)) {
      csv.onProgress(at(3000));
      csv.onProgress(at(4000));
    }
    assertEquals(List.of(1000L, 2000L, 3000L, 4000L), steps(file));
    assertEquals(1, Files.readAllLines(file).stream().filter(l -> l.startsWith("step,")).count());
    try (MetricsCsv csv = new MetricsCsv(file)) { // a new run starts a new file
      csv.onProgress(at(1000));
    }
    assertEquals(List.of(1000L), steps(file));
  }
}
