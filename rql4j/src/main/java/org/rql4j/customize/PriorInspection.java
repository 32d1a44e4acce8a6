package org.rql4j.customize;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.rql4j.bridge.PythonServer;
import org.rql4j.train.Evaluator;

/**
 * Checks a prior package on the env it is to be customized on, before any training (in the manner of
 * Stable-Baselines3's {@code check_env}): that the prior's observation and action spaces fit the env's
 * (the rule {@link org.rql4j.prior.PriorSpec#checkCompatible} applies when training, so a prior refused
 * here would be refused there), that the env runs under the prior's actions and the add-on reward returns
 * a finite number after every step; then how sure the prior is on the states it visits, and its returns.
 *
 * <p>It runs in Python ({@code python -m rql4j_bridge inspect-prior}, the bridge's {@code priors} extra):
 * the prior is rolled for {@link Builder#optEpisodes} episodes sampling from its distribution (seeds
 * {@code seed, seed + 1, ...}), and as many deterministic ones on the seeds 10000, 10001, ... (the
 * "prior alone" row a customization prints), each pass at most {@link Builder#optMaxSteps} steps. On the
 * sampled states it measures the prior's entropy per step (categorical: exact; Gaussians: the pre-tanh
 * Gaussian's, per action dimension) and the spread of its log-probabilities (Discrete: the mean largest
 * probability and the mean gap between the most and least likely action's log-probability; Box: the mean
 * std per dimension). A prior sure on more than half of its states (largest probability above 0.99, or a
 * std below 0.1 in some dimension) is reported nearly deterministic, with a warning: {@code w log pi} is
 * then hugely negative for every action but its favourite, so use a small prior weight or a KL budget
 * (docs/tuning.md). Warnings do not fail; a prior that does not fit, an env or add-on that fails is an
 * {@link IOException} carrying Python's one-line message.
 *
 * <pre>{@code
 * PriorInspection.Report r = PriorInspection.builder(Path.of("examples/priors/cartpole-center-bc"), "CartPole-v1")
 *     .optAddon("mytasks:stay_left").build().run();
 * if (r.nearlyDeterministic()) {
 *   System.out.println(r.warnings());
 * }
 * }</pre>
 */
public final class PriorInspection {

  private final Builder b;

  private PriorInspection(Builder b) {
    this.b = b;
  }

  /** An inspection of the prior package {@code priorDir} on the Gymnasium env {@code envId}. */
  public static Builder builder(Path priorDir, String envId) {
    return new Builder(priorDir, envId);
  }

  /**
   * The prior's entropy per step over the sampled states, in nats (Gaussians: per action dimension, of the
   * pre-tanh Gaussian): mean, minimum, 10th percentile, and the uniform policy's ({@code log n}; NaN for
   * Gaussians).
   */
  public record Entropy(double mean, double min, double p10, double uniform) {}

  /**
   * How far apart the prior's log-probabilities are over the sampled states. Discrete: the mean largest
   * probability and the mean gap (nats) between the most and the least likely action's log-probability
   * ({@code meanStd} empty); Box: the mean (pre-tanh) std of each action dimension (the others NaN).
   * {@code sureShare}: the share of states where the prior is sure (largest probability above 0.99, or a
   * std below 0.1 in some dimension).
   */
  public record Spread(double meanMaxProbability, double meanLogProbGap, List<Double> meanStd, double sureShare) {
    public Spread {
      meanStd = List.copyOf(meanStd);
    }
  }

  /**
   * What the inspection found. {@code spacesMatch}: both of the prior's spaces are the env's own (false when
   * they are only compatible, with a warning saying how they differ); {@code steps}: the sampled steps the
   * statistics are taken on; {@code priorAlone}: the deterministic episodes on seeds 10000.. that ended (the
   * "prior alone" row; {@link Evaluator.Summary#markdownRow}), {@code sampled} the sampled ones that ended;
   * {@code warnings}: one line each (empty when there is nothing to say); {@code text}: the report as
   * {@code rql4j inspect-prior} prints it.
   */
  public record Report(String priorName, String envId, String addon, String distribution, boolean spacesMatch,
      String observationSpace, String actionSpace, int steps, Entropy entropy, Spread spread,
      boolean nearlyDeterministic, Evaluator.Summary priorAlone, Evaluator.Summary sampled, List<String> warnings,
      String text) {
    public Report {
      warnings = List.copyOf(warnings);
    }
  }

  /** Options of an inspection (DJL style). */
  public static final class Builder {
    private final Path priorDir;
    private final String envId;
    private String addon;
    private final List<String> imports = new ArrayList<>();
    private int episodes = 3;
    private int maxSteps = 2000;
    private long seed;
    private Path python;
    private Path workingDir;
    private Duration timeout = Duration.ofMinutes(10);

    private Builder(Path priorDir, String envId) {
      this.priorDir = priorDir;
      this.envId = envId;
    }

    /** The requirement, {@code "MODULE:FUNCTION"}: called after every step, it must return a finite number. */
    public Builder optAddon(String moduleFunction) {
      this.addon = moduleFunction;
      return this;
    }

    /** A module to import first (one that registers the env id); repeatable. */
    public Builder optImport(String module) {
      this.imports.add(module);
      return this;
    }

    /** Episodes sampled from the prior, and as many deterministic ones (default 3). */
    public Builder optEpisodes(int episodes) {
      this.episodes = episodes;
      return this;
    }

    /** Steps in all of each pass, sampled and deterministic; an episode still running then is cut off (default 2000). */
    public Builder optMaxSteps(int maxSteps) {
      this.maxSteps = maxSteps;
      return this;
    }

    /** The first sampled episode's seed, also the sampling's (default 0). */
    public Builder optSeed(long seed) {
      this.seed = seed;
      return this;
    }

    /** The Python with rql4j-bridge and its {@code priors} extra (default: {@link PythonServer#defaultPython()}). */
    public Builder optPython(Path python) {
      this.python = python;
      return this;
    }

    /**
     * The folder Python runs in (default: this process's working directory): the add-on's and the imports'
     * modules are found there or on PYTHONPATH.
     */
    public Builder optWorkingDir(Path workingDir) {
      this.workingDir = workingDir;
      return this;
    }

    /** How long it may take (default 10 minutes). */
    public Builder optTimeout(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    /**
     * The inspection, checked: the folder is a prior package, the env id given, the add-on of the form
     * {@code MODULE:FUNCTION}, the counts positive; an {@link IllegalArgumentException} naming what to do
     * otherwise.
     */
    public PriorInspection build() {
      if (!Files.isRegularFile(priorDir.resolve("prior.json"))) {
        throw new IllegalArgumentException(priorDir + " is not a prior package (no prior.json): give a folder "
            + "holding prior.json and policy.pt (examples/priors/..., or what rql4j-bridge export wrote)");
      }
      if (envId == null || envId.isBlank()) {
        throw new IllegalArgumentException("an env id is needed: the Gymnasium id the prior is to be customized on "
            + "(--env-id ID)");
      }
      if (addon != null && !addon.matches("[A-Za-z_][\\w.]*:[A-Za-z_][\\w.]*")) {
        throw new IllegalArgumentException("an add-on reward is MODULE:FUNCTION (e.g. mytasks:stay_left), got '"
            + addon + "'");
      }
      if (episodes < 1) {
        throw new IllegalArgumentException("episodes must be at least 1, got " + episodes);
      }
      if (maxSteps < 1) {
        throw new IllegalArgumentException("max steps must be at least 1, got " + maxSteps);
      }
      if (seed < 0) {
        throw new IllegalArgumentException("the seed must be 0 or more, got " + seed);
      }
      return new PriorInspection(this);
    }
  }

  /**
   * Runs the inspection.
   *
   * @throws IOException when Python could not run, or refused: the spaces do not fit, the env or an import
   *     fails, the add-on is missing or returned something other than a finite number (the message names it
   *     and what to do)
   */
  public Report run() throws IOException {
    Path json = Files.createTempFile("rql4j-prior-inspection", ".json");
    try {
      List<String> args = new ArrayList<>(List.of(b.priorDir.toAbsolutePath().toString(), "--env-id", b.envId,
          "--episodes", String.valueOf(b.episodes), "--max-steps", String.valueOf(b.maxSteps),
          "--seed", String.valueOf(b.seed), "--json", json.toString()));
      if (b.addon != null) {
        args.addAll(List.of("--addon", b.addon));
      }
      for (String m : b.imports) {
        args.addAll(List.of("--import", m));
      }
      PythonCommand.run(b.python != null ? b.python : PythonServer.defaultPython(), "inspect-prior", args, b.timeout,
          "inspecting prior " + b.priorDir + " on " + b.envId, "priors", b.workingDir);
      return parse(JsonParser.parseString(Files.readString(json, StandardCharsets.UTF_8)).getAsJsonObject());
    } finally {
      Files.deleteIfExists(json);
    }
  }

  /** A report from {@code rql4j-bridge inspect-prior --json}'s document. */
  static Report parse(JsonObject o) {
    JsonObject entropy = o.getAsJsonObject("entropy");
    JsonObject spread = o.getAsJsonObject("spread");
    JsonObject spaces = o.getAsJsonObject("spaces");
    JsonObject env = spaces.getAsJsonObject("env");
    List<Double> meanStd = new ArrayList<>();
    JsonElement std = spread.get("mean_std");
    if (std != null && !std.isJsonNull()) {
      std.getAsJsonArray().forEach(e -> meanStd.add(number(e)));
    }
    List<String> warnings = new ArrayList<>();
    o.getAsJsonArray("warnings").forEach(e -> warnings.add(e.getAsString()));
    JsonObject returns = o.getAsJsonObject("returns");
    return new Report(o.get("prior_name").getAsString(), o.get("env_id").getAsString(), text(o.get("addon")),
        o.get("distribution").getAsString(), spaces.get("match").getAsBoolean(), env.get("observation").getAsString(),
        env.get("action").getAsString(), o.get("steps").getAsInt(),
        new Entropy(number(entropy.get("mean")), number(entropy.get("min")), number(entropy.get("p10")),
            number(entropy.get("uniform"))),
        new Spread(number(spread.get("mean_max_probability")), number(spread.get("mean_log_prob_gap")), meanStd,
            number(o.get("sure_share"))),
        o.get("nearly_deterministic").getAsBoolean(), summary(returns.getAsJsonObject("deterministic")),
        summary(returns.getAsJsonObject("sampled")), warnings, o.get("text").getAsString());
  }

  /** The episodes that ended (one cut off by the step limit has no return to compare). */
  private static Evaluator.Summary summary(JsonObject pass) {
    List<Evaluator.Episode> episodes = new ArrayList<>();
    JsonArray rows = pass.getAsJsonArray("episodes");
    for (JsonElement row : rows) {
      JsonObject e = row.getAsJsonObject();
      if (e.get("finished").getAsBoolean()) {
        episodes.add(new Evaluator.Episode(e.get("seed").getAsLong(), number(e.get("basic_return")),
            number(e.get("addon_return")), number(e.get("env_return")), e.get("length").getAsInt(),
            e.get("terminated").getAsBoolean()));
      }
    }
    return new Evaluator.Summary(episodes);
  }

  private static double number(JsonElement e) {
    return e == null || e.isJsonNull() ? Double.NaN : e.getAsDouble();
  }

  private static String text(JsonElement e) {
    return e == null || e.isJsonNull() ? null : e.getAsString();
  }
}
