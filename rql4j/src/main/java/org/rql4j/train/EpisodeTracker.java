package org.rql4j.train;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import org.rql4j.env.InfoColumn;
import org.rql4j.env.VectorStep;

/**
 * The training loops' episode bookkeeping: per copy the running env return and the sums of
 * {@code info["basic_reward"]} and {@code info["addon_reward"]} (NaN when the env reports none),
 * and the last {@value #RECENT} finished episodes as {@code [env, basic, add-on]} returns.
 */
final class EpisodeTracker {

  static final int RECENT = 20;

  private final double[] envReturn;
  private final double[] basic;
  private final double[] addon;
  private final Deque<double[]> recent = new ArrayDeque<>();
  private int episodes;

  /** For {@code numEnvs} copies, continuing from {@code episodes} finished ones and their {@code recent} returns. */
  EpisodeTracker(int numEnvs, int episodes, Collection<double[]> recent) {
    envReturn = new double[numEnvs];
    basic = new double[numEnvs];
    addon = new double[numEnvs];
    this.episodes = episodes;
    this.recent.addAll(recent);
  }

  /** Adds one step of every copy and closes the episodes that ended with it. */
  void record(VectorStep st) {
    InfoColumn b = st.info().get("basic_reward");
    InfoColumn a = st.info().get("addon_reward");
    for (int i = 0; i < envReturn.length; i++) {
      envReturn[i] += st.rewards()[i];
      basic[i] += b == null ? Double.NaN : b.get(i, Double.NaN);
      addon[i] += a == null ? Double.NaN : a.get(i, Double.NaN);
      if (st.done(i)) {
        episodes++;
        recent.addLast(new double[] {envReturn[i], basic[i], addon[i]});
        if (recent.size() > RECENT) {
          recent.removeFirst();
        }
        envReturn[i] = 0;
        basic[i] = 0;
        addon[i] = 0;
      }
    }
  }

  int episodes() {
    return episodes;
  }

  /** The recent episodes' returns (a copy), oldest first. */
  List<double[]> recent() {
    return new ArrayList<>(recent);
  }

  /** Mean env, basic and add-on return of the recent episodes (NaN each before the first). */
  double[] recentMeans() {
    double[] mean = new double[3];
    for (double[] r : recent) {
      for (int k = 0; k < 3; k++) {
        mean[k] += r[k] / recent.size();
      }
    }
    if (recent.isEmpty()) {
      java.util.Arrays.fill(mean, Double.NaN);
    }
    return mean;
  }
}
