package org.rql4j.train;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongFunction;
import java.util.function.ToDoubleFunction;

/**
 * Learning tests judged over several training seeds instead of one (docs/reproducibility.md): one
 * RL trajectory amplifies the last bit of a float into a different policy, and the last bits
 * differ from one CPU (or one math-library code path) to another. Each seed's evaluation is
 * printed as a table row, and a test asserts on the median across seeds of a per-seed mean, with a
 * margin that a learner missing one of its terms still fails.
 *
 * <p>The seeds can be overridden for a sweep with {@code -Drql4j.test.seeds=0,1,2,3,4} on the
 * Maven command line (Failsafe hands user properties to the test JVM).
 */
final class SeedMedians {

  private final Map<Long, Evaluator.Summary> bySeed = new LinkedHashMap<>();
  private final StringBuilder table = new StringBuilder();

  /** The seeds a learning test trains with: {@code rql4j.test.seeds} if set, else {@code defaults}. */
  static long[] seeds(long... defaults) {
    String s = System.getProperty("rql4j.test.seeds", "").trim();
    return s.isEmpty() ? defaults : Arrays.stream(s.split(",")).mapToLong(t -> Long.parseLong(t.trim())).toArray();
  }

  /** Trains and evaluates once per seed; prints each seed's row as it comes. */
  static SeedMedians run(String name, long[] seeds, LongFunction<Evaluator.Summary> trainAndEvaluate) {
    SeedMedians m = new SeedMedians();
    for (long seed : seeds) {
      Evaluator.Summary s = trainAndEvaluate.apply(seed);
      m.bySeed.put(seed, s);
      String row = s.markdownRow(name + ", seed " + seed);
      m.table.append(row).append('\n');
      System.out.println(row);
    }
    return m;
  }

  /** The median across seeds of the per-seed mean of {@code f}. */
  double median(ToDoubleFunction<Evaluator.Episode> f) {
    return Evaluator.median(bySeed.values().stream().mapToDouble(s -> s.mean(f)).toArray());
  }

  /** Every seed's row, for assertion messages. */
  String table() {
    return table.toString();
  }

  /** A one-line summary of the medians of the basic and add-on returns. */
  String medians() {
    return String.format(Locale.ROOT, "median over %d seeds: basic %.1f, add-on %.1f", bySeed.size(),
        median(Evaluator.Episode::basicReturn), median(Evaluator.Episode::addonReturn));
  }
}
