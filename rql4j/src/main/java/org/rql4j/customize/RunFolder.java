package org.rql4j.customize;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rql4j.prior.PriorPolicy;
import org.rql4j.train.Evaluator;
import org.rql4j.train.TrainingCheckpoint;
import org.rql4j.train.TrainingProgress;

/**
 * A customization run's output folder, shared by {@code customize} and {@code ppo}: its
 * config.json (task, baseline, evaluation episodes, prior and its hash, learner config) and the
 * summary.json a finished run leaves, which {@code results} / {@code ppo-results} reuse.
 */
public final class RunFolder {

  /** The version of the run folder's layout, in config.json's {@code format}. */
  public static final String FORMAT = "rql4j-run/1";

  /**
   * summary.json's writer and reader: a figure without a value (the loss before the first
   * training step, the recent returns when no training episode has ended, a reward part the env
   * did not report) is written as NaN and read back as NaN.
   */
  private static final Gson JSON = new GsonBuilder().serializeSpecialFloatingPointValues()
      .setStrictness(Strictness.LENIENT).create();

  private RunFolder() {}

  /** Starts a run in {@code out}: removes an earlier summary (this run's, or none) and writes config.json. */
  public static void start(Path out, String task, String baseline, int evalEpisodes, PriorPolicy prior, String priorSha256,
      Object config) throws IOException {
    start(out, task, baseline, evalEpisodes, prior, priorSha256, config, new JsonObject());
  }

  /** As above, with {@code extra} settings (the env ids, add-on, modules, algorithm of a task of the user's) first. */
  public static void start(Path out, String task, String baseline, int evalEpisodes, PriorPolicy prior, String priorSha256,
      Object config, JsonObject extra) throws IOException {
    Files.createDirectories(out);
    Files.deleteIfExists(out.resolve("summary.json"));
    JsonObject run = new JsonObject();
    run.addProperty("format", FORMAT);
    run.addProperty("task", task);
    extra.entrySet().forEach(e -> run.add(e.getKey(), e.getValue()));
    run.addProperty("baseline", baseline);
    run.addProperty("eval_episodes", evalEpisodes);
    run.addProperty("prior", prior.spec().packageDir() == null ? null
        : prior.spec().packageDir().toAbsolutePath().normalize().toString());
    run.addProperty("prior_sha256", priorSha256);
    run.add("config", new GsonBuilder().serializeSpecialFloatingPointValues().create().toJsonTree(config));
    Files.writeString(out.resolve("config.json"), new GsonBuilder().setPrettyPrinting().create().toJson(run));
  }

  /**
   * The summary.json of a finished run in {@code out} made with these settings; null when the
   * run has not finished (no summary, or one without the learned policy's episodes). A finished
   * run of other settings is refused, naming what differs.
   */
  public static JsonObject finishedSummary(Path out, Object config, String task, String baseline, int evalEpisodes,
      String priorSha256) throws IOException {
    Path summaryFile = out.resolve("summary.json");
    Path configFile = out.resolve("config.json");
    if (!Files.isRegularFile(summaryFile) || !Files.isRegularFile(configFile)) {
      return null;
    }
    JsonObject run = JsonParser.parseString(Files.readString(configFile)).getAsJsonObject();
    // both sides from JSON text: a float field and its parsed text compare unequal as numbers
    if (!TrainingCheckpoint.sameConfig(run.get("config"), JsonParser.parseString(new Gson().toJson(config)))) {
      throw new IllegalArgumentException(out + " holds a finished run of other settings: another config ("
          + run.get("config") + "); delete it or choose another --out");
    }
    List<String> differs = new ArrayList<>();
    if (!run.has("task") || !run.get("task").getAsString().equals(task)) {
      differs.add("task");
    }
    if (!run.has("baseline") || !run.get("baseline").getAsString().equals(baseline)) {
      differs.add("baseline");
    }
    if (!run.has("eval_episodes") || run.get("eval_episodes").getAsInt() != evalEpisodes) {
      differs.add("evaluation episodes");
    }
    if (!run.has("prior_sha256") || run.get("prior_sha256").isJsonNull()
        || !run.get("prior_sha256").getAsString().equals(priorSha256)) {
      differs.add("prior package (sha256)");
    }
    if (!differs.isEmpty()) {
      throw new IllegalArgumentException(out + " holds a finished run of other settings: another "
          + String.join(", ", differs) + "; delete it or choose another --out");
    }
    JsonObject summary = JsonParser.parseString(Files.readString(summaryFile)).getAsJsonObject();
    return summary.has("learned_episodes") ? summary : null;
  }

  /**
   * Writes a finished run's summary.json in {@code out}: the training time, both evaluations (rows
   * and episodes), the training's last progress and the numerics the run used. NaN figures are
   * written as {@code NaN}, which {@link #finishedSummary}, {@link #episodes} and {@link #progress}
   * read back.
   */
  public static void writeSummary(Path out, Evaluator.Summary before, Evaluator.Summary after, TrainingProgress last,
      String baseline) throws IOException {
    JsonObject summary = new JsonObject();
    summary.addProperty("train_seconds", last.trainSeconds()); // the whole run's, segments before a resume included
    summary.addProperty("prior", before.markdownRow("prior alone"));
    summary.addProperty("learned", after.markdownRow(baseline));
    summary.add("final_progress", JSON.toJsonTree(last));
    summary.add("prior_episodes", JSON.toJsonTree(before.episodes()));
    summary.add("learned_episodes", JSON.toJsonTree(after.episodes()));
    summary.add("numerics", JSON.toJsonTree(org.rql4j.runtime.Numerics.describe()));
    // written whole or not at all (a stop while writing leaves no half summary): a temporary file, then renamed
    Path tmp = out.resolve("summary.json.tmp");
    Files.writeString(tmp, new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create()
        .toJson(summary));
    try {
      Files.move(tmp, out.resolve("summary.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (java.nio.file.AtomicMoveNotSupportedException e) {
      Files.move(tmp, out.resolve("summary.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /**
   * A summary's {@code final_progress}, as {@code type} ({@code OffPolicyTraining.Progress} or
   * {@code OnPolicyTraining.Progress}); NaN figures stay NaN.
   */
  public static <T extends TrainingProgress> T progress(JsonObject summary, Class<T> type) {
    JsonObject p = summary.getAsJsonObject("final_progress").deepCopy();
    if (type == org.rql4j.train.OffPolicyTraining.Progress.class && !p.has("greedyMoved")) {
      p.addProperty("greedyMoved", Double.NaN); // a summary written before it was measured: not measured, not 0
    }
    return JSON.fromJson(p, type);
  }

  /**
   * Refuses to continue the run in {@code out} (its config.json) with other task settings: a run
   * resumed from its checkpoint must go on training on the same env, add-on and reward. Keys compared:
   * those of {@code expected} ({@code task}, {@code baseline}, {@code env_id}, {@code eval_env_id},
   * {@code addon}, {@code kl_budget}, {@code kl_budget_kappa}, {@code kl_budget_prior_temperature},
   * {@code kl_budget_greedy_share}), absent ones counting as null.
   */
  public static void checkSameTask(Path out, JsonObject expected) throws IOException {
    Path configFile = out.resolve("config.json");
    if (!Files.isRegularFile(configFile)) {
      return;
    }
    JsonObject run = JsonParser.parseString(Files.readString(configFile)).getAsJsonObject();
    List<String> differs = new ArrayList<>();
    for (String key : List.of("task", "baseline", "env_id", "eval_env_id", "addon", "kl_budget", "kl_budget_kappa",
        "kl_budget_prior_temperature", "kl_budget_greedy_share")) {
      String was = run.has(key) && !run.get(key).isJsonNull() ? run.get(key).getAsString() : null;
      String now = expected.has(key) && !expected.get(key).isJsonNull() ? expected.get(key).getAsString() : null;
      if (!java.util.Objects.equals(was, now)) {
        differs.add(key + " " + was + " -> " + now);
      }
    }
    if (!differs.isEmpty()) {
      boolean budgetOnly = differs.stream().allMatch(d -> d.startsWith("kl_budget"));
      throw new IllegalArgumentException(out + " holds a run of other settings (" + String.join(", ", differs)
          + "): it cannot be reused or go on with these; choose another --out, or delete it to start over"
          + (budgetOnly ? " (a run of your own task without --prior-weight / --alpha-hat now follows the default KL "
              + "budget: give the run's weights, or its budget with --kl-budget, to go on with it)" : ""));
    }
  }

  /** A summary's evaluation episodes ({@code prior_episodes} or {@code learned_episodes}). */
  public static Evaluator.Summary episodes(JsonObject summary, String key) {
    java.lang.reflect.Type list = com.google.gson.reflect.TypeToken.getParameterized(List.class,
        Evaluator.Episode.class).getType();
    List<Evaluator.Episode> episodes = JSON.fromJson(summary.get(key), list);
    return new Evaluator.Summary(episodes);
  }
}
