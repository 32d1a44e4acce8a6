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

  /** Soft Q-learning under a budget: the share of states whose greedy action moved, in its column and the line. */
  @Test
  void theGreedyMovedColumnAndLine(@TempDir Path tmp) throws IOException {
    OffPolicyTraining.Progress p = new OffPolicyTraining.Progress(2000, 5000, 1, -1, 1, -1, "eps", 0.1, 0.5, 100, 1,
        1, 1, 3, false, 0.61, 0.052, 0.034);
    Path file = tmp.resolve("metrics.csv");
    try (MetricsCsv csv = new MetricsCsv(file)) {
      csv.onProgress(p);
    }
    assertEquals(true, Files.readAllLines(file).get(1).endsWith(",0.610000,0.0520000,0.0340000"));
    assertEquals(true, p.line().contains("KL 0.0520  greedy moved 3.4%"), p.line());
    assertEquals(false, at(1000).line().contains("greedy"), "no budget, no share");
  }

  /** A run begun by a version without the last column, resumed: the header gets it, the old rows an empty cell. */
  @Test
  void aFileOfAnEarlierVersionGetsTheNewColumn(@TempDir Path tmp) throws IOException {
    Path file = tmp.resolve("metrics.csv");
    String old = "step,episodes,recent_return,recent_basic_return,recent_addon_return,exploration,exploration_value,"
        + "loss,steps_per_second,env_seconds,prior_seconds,learner_seconds,alpha_hat,kl_to_prior";
    Files.writeString(file, old + "\n1000,1,-1,1,-1,eps,0.1,0.5,100.0,1.000,1.000,1.000,0.5,0.04\n"
        + "2000,1,-1,1,-1,eps,0.1,0.5,100.0,1.000,1.000,1.000,0.5,0.05\n");
    try (MetricsCsv csv = new MetricsCsv(file, 1000)) {
      csv.onProgress(at(2000));
    }
    List<String> lines = Files.readAllLines(file);
    assertEquals(old + ",greedy_moved", lines.get(0));
    assertEquals("1000,1,-1,1,-1,eps,0.1,0.5,100.0,1.000,1.000,1.000,0.5,0.04,", lines.get(1));
    assertEquals(List.of(1000L, 2000L), steps(file));
    lines.forEach(r -> assertEquals(15, r.split(",", -1).length, r));
  }

  /** The KL budget's two columns: empty without a budget, its temperature and KL with one; every row as wide as the header. */
  @Test
  void theBudgetsColumnsAreFilledUnderABudgetOnly(@TempDir Path tmp) throws IOException {
    Path file = tmp.resolve("metrics.csv");
    try (MetricsCsv csv = new MetricsCsv(file)) {
      csv.onProgress(at(1000));
      csv.onProgress(new OffPolicyTraining.Progress(2000, 5000, 1, -1, 1, -1, "eps", 0.1, 0.5, 100, 1, 1, 1, 3, false,
          0.61, 0.052));
    }
    List<String> lines = Files.readAllLines(file);
    assertEquals(true, lines.get(0).endsWith(",alpha_hat,kl_to_prior,greedy_moved"), lines.get(0));
    assertEquals(true, lines.get(1).endsWith(",,,"), lines.get(1));
    assertEquals(true, lines.get(2).endsWith(",0.610000,0.0520000,"), lines.get(2));
    Path ppoFile = tmp.resolve("ppo.csv");
    try (MetricsCsv csv = MetricsCsv.forPpo(ppoFile, -1)) {
      csv.onPpoProgress(new OnPolicyTraining.Progress(2048, 4096, 3, 1, 1, 0, new org.rql4j.learner.ResidualPpo.Losses(
          0.1, 0.2, 0.3, 0.4, 0.01, 0.1, 0.5), 900, 2.3, 0.25, 0.04));
    }
    List<String> ppo = Files.readAllLines(ppoFile);
    assertEquals(true, ppo.get(1).endsWith(",0.250000,0.0400000"), ppo.get(1));
    for (List<String> rows : List.of(lines, ppo)) {
      int width = rows.get(0).split(",", -1).length;
      rows.forEach(r -> assertEquals(width, r.split(",", -1).length, r));
    }
  }
}
