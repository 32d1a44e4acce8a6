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
 * Looks at a customized policy: runs an exported policy folder ({@link PolicyExport}, or a run's
 * {@code OUT/export}) and the prior it holds ({@code prior/}) side by side on the same seeds, as
 * {@link Evaluator} does (one deterministic episode per seed, 10000, 10001, ...), and reports both
 * reward columns for each, the KL between them and, with {@link Builder#optVideo}, a side-by-side
 * recording of one episode each (prior left, customized right; GIF or MP4).
 *
 * <p>It evaluates what a user deploys: the exported TorchScript, in Python ({@code python -m
 * rql4j_bridge evaluate}, the bridge's {@code priors} extra; {@code video} for the recording), so the
 * numbers are those of {@code rql4j_bridge.load_policy}'s policy. The KL is the mean per step of
 * {@code KL(customized(.|s) || prior(.|s))} over the states the customized policy visits: exact for
 * categorical policies, the closed form of the (pre-tanh) diagonal Gaussians otherwise (docs/export.md).
 *
 * <pre>{@code
 * PolicyEvaluation.Result r = PolicyEvaluation.builder(Path.of("runs/stay-left/export"))
 *     .optEnvId("CartPole-v1").optVideo(Path.of("stay-left.gif")).build().run();
 * System.out.println(r.markdown() + "\nKL " + r.kl());
 * }</pre>
 */
public final class PolicyEvaluation {

  private final Builder b;

  private PolicyEvaluation(Builder b) {
    this.b = b;
  }

  /** An evaluation of the exported policy folder {@code policyDir}. */
  public static Builder builder(Path policyDir) {
    return new Builder(policyDir);
  }

  /**
   * What it measured: the env and add-on used, both policies' episodes on the same seeds, the KL
   * (NaN with {@code klReason} when the two policies' distributions have no closed form between them),
   * the video file (null without one) and the table's markdown.
   */
  public record Result(String envId, String addon, Evaluator.Summary prior, Evaluator.Summary customized,
      double kl, double klOnPriorStates, String klReason, Path video, String markdown) {}

  /** Options of an evaluation (DJL style). */
  public static final class Builder {
    private final Path policyDir;
    private String envId;
    private int episodes = 20;
    private String addon;
    private final List<String> imports = new ArrayList<>();
    private Path video;
    private Path python;
    private Path workingDir;
    private Duration timeout = Duration.ofMinutes(30);

    private Builder(Path policyDir) {
      this.policyDir = policyDir;
    }

    /** The Gymnasium id to evaluate on (default: the run's evaluation env, recorded in the folder). */
    public Builder optEnvId(String envId) {
      this.envId = envId;
      return this;
    }

    /** Episodes per policy (default 20, seeds 10000..). */
    public Builder optEpisodes(int episodes) {
      this.episodes = episodes;
      return this;
    }

    /**
     * An add-on reward ({@code "MODULE:FUNCTION"}) applied over the env, so that it reports both parts
     * (default: the run's own add-on, unless the env reports both parts itself).
     */
    public Builder optAddon(String moduleFunction) {
      this.addon = moduleFunction;
      return this;
    }

    /** A module to import first (one that registers the env id); repeatable. */
    public Builder optImport(String module) {
      this.imports.add(module);
      return this;
    }

    /** Records one episode of each side by side into this new file ({@code .gif} or {@code .mp4}). */
    public Builder optVideo(Path video) {
      this.video = video;
      return this;
    }

    /** The Python with rql4j-bridge and its {@code priors} extra (default: {@link PythonServer#defaultPython()}). */
    public Builder optPython(Path python) {
      this.python = python;
      return this;
    }

    /**
     * The folder Python runs in (default: this process's working directory): the add-on's and the
     * imports' modules are found there or on PYTHONPATH.
     */
    public Builder optWorkingDir(Path workingDir) {
      this.workingDir = workingDir;
      return this;
    }

    /** How long it may take (default 30 minutes). */
    public Builder optTimeout(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    /**
     * The evaluation, checked: the folder is an exported customized policy, the episodes positive, the
     * video file new and of a known kind; an {@link IllegalArgumentException} naming what to do otherwise.
     */
    public PolicyEvaluation build() {
      if (!Files.isRegularFile(policyDir.resolve("prior.json"))) {
        throw new IllegalArgumentException(policyDir + " is not an exported policy (no prior.json): give the folder "
            + "rql4j export wrote (or a run's export/ folder); export a finished run with rql4j export RUN --out DIR");
      }
      if (!Files.isRegularFile(policyDir.resolve("prior/prior.json"))) {
        throw new IllegalArgumentException(policyDir + " holds no prior/ copy: it is a prior package, not an "
            + "exported customized policy, so there is nothing to compare it with; export a finished run with "
            + "rql4j export RUN --out DIR");
      }
      if (episodes < 1) {
        throw new IllegalArgumentException("episodes must be at least 1, got " + episodes);
      }
      if (video != null) {
        String name = video.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (!name.endsWith(".gif") && !name.endsWith(".mp4")) {
          throw new IllegalArgumentException("video " + video + ": give a file name ending in .gif or .mp4");
        }
        if (Files.exists(video)) {
          throw new IllegalArgumentException("video " + video + " already exists; nothing was written. Choose a new "
              + "file name");
        }
      }
      return new PolicyEvaluation(this);
    }
  }

  /**
   * Runs both policies and, with a video, records it.
   *
   * @throws IOException when Python could not run or refused (its message names the input and what to do)
   */
  public Result run() throws IOException {
    Path json = Files.createTempFile("rql4j-evaluation", ".json");
    try {
      List<String> args = new ArrayList<>(List.of(b.policyDir.toAbsolutePath().toString(),
          "--episodes", String.valueOf(b.episodes), "--json", json.toString()));
      if (b.envId != null) {
        args.addAll(List.of("--env-id", b.envId));
      }
      if (b.addon != null) {
        args.addAll(List.of("--addon", b.addon));
      }
      for (String m : b.imports) {
        args.addAll(List.of("--import", m));
      }
      if (b.video != null) {
        args.addAll(List.of("--video", b.video.toAbsolutePath().toString()));
      }
      PythonCommand.run(b.python != null ? b.python : PythonServer.defaultPython(), "evaluate", args, b.timeout,
          "evaluating " + b.policyDir, b.video != null ? "priors,video" : "priors", b.workingDir);
      return parse(JsonParser.parseString(Files.readString(json, StandardCharsets.UTF_8)).getAsJsonObject());
    } finally {
      Files.deleteIfExists(json);
    }
  }

  /** A result from {@code rql4j-bridge evaluate --json}'s document. */
  static Result parse(JsonObject o) {
    JsonObject kl = o.getAsJsonObject("kl");
    JsonElement video = o.get("video");
    return new Result(o.get("env_id").getAsString(), text(o.get("addon")), summary(o.getAsJsonObject("prior")),
        summary(o.getAsJsonObject("customized")), number(kl.get("customized_states")), number(kl.get("prior_states")),
        text(kl.get("reason")),
        video == null || video.isJsonNull() ? null : Path.of(video.getAsJsonObject().get("file").getAsString()),
        o.get("markdown").getAsString());
  }

  private static Evaluator.Summary summary(JsonObject side) {
    List<Evaluator.Episode> episodes = new ArrayList<>();
    JsonArray rows = side.getAsJsonArray("episodes");
    for (JsonElement row : rows) {
      JsonObject e = row.getAsJsonObject();
      episodes.add(new Evaluator.Episode(e.get("seed").getAsLong(), number(e.get("basic_return")),
          number(e.get("addon_return")), number(e.get("env_return")), e.get("length").getAsInt(),
          e.get("terminated").getAsBoolean()));
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
