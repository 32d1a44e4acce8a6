package org.rql4j.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import org.rql4j.env.Env;
import org.rql4j.env.Value;
import org.rql4j.policy.Policy;

/**
 * Evaluates a policy the way every results table does (docs/tasks.md, "How a result is
 * reported"): one episode per seed (reset with that seed), deterministic policy, basic and add-on
 * returns summed from {@code info["basic_reward"]} / {@code info["addon_reward"]}, and the env's own
 * return. An env that does not report a part leaves its column "not reported" ({@link Summary#unreported()}).
 */
public final class Evaluator {

  private Evaluator() {}

  /** The info key of the basic reward's part of each step. */
  public static final String BASIC = "basic_reward";

  /** The info key of the add-on reward's part of each step. */
  public static final String ADDON = "addon_reward";

  /** The seeds of the shipped priors' evaluations: 10000 .. 10000 + n - 1. */
  public static long[] defaultSeeds(int n) {
    long[] seeds = new long[n];
    for (int i = 0; i < n; i++) {
      seeds[i] = 10_000L + i;
    }
    return seeds;
  }

  /** The median of {@code values} (the mean of the two middle values for an even count); NaN for none. */
  public static double median(double[] values) {
    if (values.length == 0) {
      return Double.NaN;
    }
    double[] s = values.clone();
    java.util.Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  /** One episode. */
  public record Episode(long seed, double basicReturn, double addonReturn, double envReturn, int length,
      boolean terminated) {}

  /** Episodes with their means and (population) standard deviations. */
  public record Summary(List<Episode> episodes) {

    public double mean(ToDoubleFunction<Episode> f) {
      return episodes.stream().mapToDouble(f).average().orElse(Double.NaN);
    }

    public double std(ToDoubleFunction<Episode> f) {
      double m = mean(f);
      return Math.sqrt(episodes.stream().mapToDouble(e -> (f.applyAsDouble(e) - m) * (f.applyAsDouble(e) - m))
          .average().orElse(Double.NaN));
    }

    /**
     * A markdown table row: name | basic | add-on | length; a column the env did not report
     * ({@link #unreported()}) reads "not reported".
     */
    public String markdownRow(String name) {
      return String.format(Locale.ROOT, "| %s | %s | %s | %.1f ± %.1f |", name, cell(Episode::basicReturn),
          cell(Episode::addonReturn), mean(e -> e.length()), std(e -> e.length()));
    }

    private String cell(ToDoubleFunction<Episode> f) {
      double m = mean(f);
      return Double.isNaN(m) ? "not reported" : String.format(Locale.ROOT, "%.1f ± %.1f", m, std(f));
    }

    /**
     * The info keys ({@code basic_reward}, {@code addon_reward}) the env did not report in every step
     * of every episode: their columns are empty, and the env's own return ({@link Episode#envReturn})
     * is what the episodes can be judged on.
     */
    public List<String> unreported() {
      List<String> out = new ArrayList<>();
      if (episodes.stream().anyMatch(e -> Double.isNaN(e.basicReturn()))) {
        out.add(BASIC);
      }
      if (episodes.stream().anyMatch(e -> Double.isNaN(e.addonReturn()))) {
        out.add(ADDON);
      }
      return out;
    }
  }

  /** Told of each episode of an evaluation as it starts and ends (progress, per-episode files, a policy's own state). */
  public interface Listener {

    /** Before the reset of the episode with this seed. */
    default void starting(long seed) {}

    /** After the episode's last step. */
    default void finished(Episode episode) {}
  }

  /** Runs one episode per seed on {@code env} with {@code policy} acting deterministically. */
  public static Summary evaluate(Env env, Policy policy, long[] seeds) {
    return evaluate(env, policy, seeds, new Listener() { });
  }

  /** As above, telling {@code listener} of each episode. */
  public static Summary evaluate(Env env, Policy policy, long[] seeds, Listener listener) {
    List<Episode> out = new ArrayList<>(seeds.length);
    for (long seed : seeds) {
      listener.starting(seed);
      Value obs = env.reset(seed).observation();
      double basic = 0;
      double addon = 0;
      double total = 0;
      int length = 0;
      Env.Step s;
      do {
        s = env.step(policy.act(obs, true));
        basic += s.info().getOrDefault(BASIC, Double.NaN);
        addon += s.info().getOrDefault(ADDON, Double.NaN);
        total += s.reward();
        length++;
        obs = s.observation();
      } while (!s.done());
      Episode episode = new Episode(seed, basic, addon, total, length, s.terminated());
      out.add(episode);
      listener.finished(episode);
    }
    return new Summary(out);
  }
}
