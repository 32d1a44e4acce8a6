package org.rql4j.train;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.learner.LearnerState;
import org.rql4j.learner.OffPolicyLearner;

/**
 * Training checkpoints, one format for every learner family ({@value #FORMAT}, docs/run-folder.md):
 * a folder holding
 * <ul>
 *   <li>{@code checkpoint.json}: what trained on what (learner kind and config, env id, prior hash),
 *       how far (env step, episodes, optimizer steps), the loop's counters, the sampling random
 *       generator and the learner section's other numbers ({@code learner_state});</li>
 *   <li>{@code learner.safetensors}: the learner section's tensors, networks and optimizer moments
 *       with PyTorch names ({@link LearnerState}), readable by {@code safetensors.torch.load_file};</li>
 *   <li>{@code buffer.bin}: an off-policy run's replay buffer (with its stored prior features).</li>
 * </ul>
 * This class saves and loads off-policy runs ({@link OffPolicyTraining}); {@link OnPolicyCheckpoint}
 * does PPO's through the same writer, reader and checks. A new checkpoint replaces the old one
 * only once it is complete on disk (written to {@code dir.tmp}, then renamed), so a crash while
 * saving leaves the previous one intact.
 *
 * <p>What a resume does NOT restore: the envs' own state (they live in the Python server). A
 * resumed run resets its envs with seed {@code config.seed + step} and drops the partial episodes
 * in progress; everything learned is kept. Checkpoints of rql4j 0.1 ({@code state.bin}) are
 * refused with a message: their runs' policies and summaries are still read (CHANGELOG.md).
 */
public final class TrainingCheckpoint {

  /** The format's name and version, in checkpoint.json's {@code format}. */
  public static final String FORMAT = "rql4j-checkpoint/1";
  public static final String SUMMARY = "checkpoint.json";
  public static final String LEARNER = "learner.safetensors";
  public static final String BUFFER = "buffer.bin";
  /** The state file of rql4j 0.1's checkpoints (refused, with a message). */
  static final String LEGACY_STATE = "state.bin";
  /** checkpoint.json's writer: NaN (no loss yet, an unreported reward part) is written as NaN. */
  static final Gson JSON = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues()
      .create();

  /** The training loop's counters. {@code recent}: the last episodes' [return, basic, add-on]. */
  public record Loop(long step, int episodes, double lastLoss, double envSeconds, double priorSeconds,
      double learnerSeconds, double wallSeconds, List<double[]> recent) {}

  /** What a checkpoint holds besides the learner. */
  public record Restored(Loop loop, ReplayBuffer buffer, Random rng) {}

  private TrainingCheckpoint() {}

  /**
   * Whether {@code dir} holds a checkpoint: its own, the previous one left by a crash while replacing
   * it ({@code <dir>.old}), or a complete one that a stop left unswapped ({@code <dir>.tmp}). Reads only.
   */
  public static boolean exists(Path dir) {
    return Files.isRegularFile(dir.resolve(SUMMARY)) || Files.isRegularFile(old(dir).resolve(SUMMARY))
        || completeTmp(dir) != null;
  }

  /**
   * The header of a complete {@code <dir>.tmp} (all its files there, and checkpoint.json, written
   * last, readable), left by a stop between writing a checkpoint and swapping it in; null otherwise.
   */
  static JsonObject completeTmp(Path dir) {
    Path tmp = tmp(dir);
    try {
      if (!Files.isRegularFile(tmp.resolve(SUMMARY)) || !Files.isRegularFile(tmp.resolve(LEARNER))) {
        return null;
      }
      JsonObject h = JsonParser.parseString(Files.readString(tmp.resolve(SUMMARY))).getAsJsonObject();
      boolean complete = FORMAT.equals(h.get("format").getAsString()) && h.has("step")
          && (!h.has("buffer_size") || Files.isRegularFile(tmp.resolve(BUFFER)));
      return complete ? h : null;
    } catch (IOException | RuntimeException e) {
      return null; // an incomplete or unreadable tmp: not a checkpoint
    }
  }

  private static Path tmp(Path dir) {
    return dir.resolveSibling(dir.getFileName() + ".tmp");
  }

  /** The env step of the checkpoint in {@code dir} (from its checkpoint.json), or -1 without one. */
  public static long savedStep(Path dir) throws IOException {
    long step = -1;
    for (Path d : List.of(dir, old(dir))) {
      Path f = d.resolve(SUMMARY);
      if (Files.isRegularFile(f)) {
        step = JsonParser.parseString(Files.readString(f)).getAsJsonObject().get("step").getAsLong();
        break;
      }
    }
    JsonObject pending = completeTmp(dir);
    return pending != null ? Math.max(step, pending.get("step").getAsLong()) : step; // what a resume will load
  }

  /**
   * Refuses a checkpoint folder that holds anything but a checkpoint: saving replaces the whole
   * folder, which would delete those files (e.g. a run's --out folder given as --checkpoint-dir).
   */
  public static void checkUsable(Path dir) throws IOException {
    if (Files.isRegularFile(dir)) {
      throw new IllegalArgumentException("checkpoint folder " + dir + " is a file; choose a folder");
    }
    if (!Files.isDirectory(dir)) {
      return;
    }
    List<String> own = List.of(SUMMARY, LEARNER, BUFFER, LEGACY_STATE);
    try (Stream<Path> s = Files.list(dir)) {
      List<String> others = s.map(p -> p.getFileName().toString()).filter(n -> !own.contains(n)).sorted().toList();
      if (!others.isEmpty()) {
        throw new IllegalArgumentException("checkpoint folder " + dir + " holds other files " + others
            + "; checkpoints need a folder of their own (each save replaces the folder): choose another "
            + "--checkpoint-dir, e.g. a 'checkpoint' folder inside the run's --out");
      }
    }
  }

  /**
   * Saves a checkpoint of {@code learner}, {@code buffer}, {@code rng} and {@code loop}.
   *
   * @param envId the env trained on (checked on resume)
   * @param priorHash the prior package's content hash, or null without a prior (checked on resume)
   */
  public static void save(Path dir, OffPolicyLearner learner, ReplayBuffer buffer, Random rng, Loop loop,
      String envId, String priorHash) throws IOException {
    LearnerSection section = LearnerSection.of(learner, learner.config(), learner.schedule().totalSteps());
    JsonObject header = header(section, envId, priorHash, loop.step(), loop.episodes(), JSON.toJsonTree(loop),
        serialize(rng));
    header.addProperty("buffer_size", buffer.size());
    write(dir, header, section.tensors(), out -> buffer.writeTo(out));
  }

  /**
   * A learner's section of a checkpoint, taken at one moment (its tensors encoded as safetensors
   * bytes), so that a failure later can still save the state of that moment.
   */
  public record LearnerSection(String kind, Object config, long totalSteps, long optimizerSteps, byte[] tensors,
      JsonObject values) {

    /** The section of {@code learner} now. */
    public static LearnerSection of(LearnerState learner, Object config, long totalSteps) {
      try (NDManager m = NDManager.newBaseManager("PyTorch")) {
        NDList named = learner.stateTensors(m);
        return new LearnerSection(learner.kind(), config, totalSteps, learner.optimizerSteps(),
            named.encode(NDList.Encoding.SAFETENSORS), learner.stateValues());
      }
    }
  }

  /** Writes the buffer file of an off-policy checkpoint. */
  interface StateWriter {
    void write(DataOutputStream out) throws IOException;
  }

  /** A checkpoint.json: its format, when it was saved, what trained on what, how far, the loop and the RNG. */
  static JsonObject header(LearnerSection section, String envId, String priorHash, long step, int episodes,
      JsonElement loop, byte[] rng) {
    JsonObject h = new JsonObject();
    h.addProperty("format", FORMAT);
    h.addProperty("saved", Instant.now().toString());
    h.addProperty("learner", section.kind());
    h.addProperty("env_id", envId);
    h.addProperty("prior_sha256", priorHash);
    h.addProperty("step", step);
    h.addProperty("total_steps", section.totalSteps());
    h.addProperty("episodes", episodes);
    h.addProperty("optimizer_steps", section.optimizerSteps());
    h.add("config", JSON.toJsonTree(section.config()));
    h.add("loop", loop);
    h.addProperty("rng", Base64.getEncoder().encodeToString(rng));
    h.add("learner_state", section.values());
    return h;
  }

  /**
   * Writes a checkpoint folder: checkpoint.json, learner.safetensors and (off-policy) buffer.bin
   * into {@code <dir>.tmp}, forced to disk, then swapped in for {@code dir}.
   */
  static void write(Path dir, JsonObject header, byte[] learnerTensors, StateWriter buffer) throws IOException {
    Path tmp = tmp(dir);
    deleteTree(tmp);
    Files.createDirectories(tmp);
    Files.write(tmp.resolve(LEARNER), learnerTensors);
    if (buffer != null) {
      try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(
          Files.newOutputStream(tmp.resolve(BUFFER)), 1 << 20))) {
        buffer.write(out);
      }
    }
    Files.writeString(tmp.resolve(SUMMARY), JSON.toJson(header));
    for (String f : buffer == null ? List.of(LEARNER, SUMMARY) : List.of(LEARNER, BUFFER, SUMMARY)) {
      try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(tmp.resolve(f),
          java.nio.file.StandardOpenOption.WRITE)) {
        ch.force(true); // on disk before the swap
      }
    }
    swapIn(tmp, dir);
  }

  /**
   * Replaces {@code dir} by the complete checkpoint folder {@code tmp}: dir -> dir.old, tmp -> dir,
   * drop dir.old ({@link #exists} and the loaders fall back to dir.old). A dir.old without a dir is
   * the last complete checkpoint: it is only deleted once tmp is dir.
   */
  static void swapIn(Path tmp, Path dir) throws IOException {
    Path old = old(dir);
    if (Files.exists(dir)) {
      deleteTree(old);
      move(dir, old);
    }
    move(tmp, dir);
    deleteTree(old);
  }

  /**
   * Refuses, as {@link #load} would and before anything is trained or written, a checkpoint in
   * {@code dir} of another format, learner kind, config, env or prior; does nothing when
   * {@code dir} holds none. A resumed run calls this before it touches its run folder, so that a
   * refused resume leaves the folder as it was.
   *
   * @param kind the learner's {@link OffPolicyLearner#kind()} ({@link org.rql4j.learner.LearnerConfig#learnerKind()})
   * @param config the learner's settings
   * @param envId the env the run trains on
   * @param priorHash the prior package's content hash, or null when the learner uses no prior
   * @throws IllegalArgumentException naming the difference
   * @throws IOException when the checkpoint cannot be read or is not one of this format
   */
  public static void checkResumable(Path dir, String kind, Object config, String envId, String priorHash)
      throws IOException {
    if (exists(dir)) {
      open(dir, kind, config, envId, priorHash);
    }
  }

  /** A checkpoint's folder (dir, or dir.old after a crash while replacing it) and its checkpoint.json. */
  record Opened(Path folder, JsonObject header) {}

  /**
   * Opens the checkpoint in {@code dir} and refuses, naming the difference, one of another format,
   * learner, config, env or prior.
   */
  static Opened open(Path dir, String kind, Object config, String envId, String priorHash) throws IOException {
    JsonObject pending = completeTmp(dir);
    if (pending != null) {
      // a save this run finished but did not swap in: continue from it if it is this run's and the newest
      long current = -1;
      for (Path d : List.of(dir, old(dir))) {
        if (current < 0 && Files.isRegularFile(d.resolve(SUMMARY))) {
          try {
            current = JsonParser.parseString(Files.readString(d.resolve(SUMMARY))).getAsJsonObject().get("step")
                .getAsLong();
          } catch (RuntimeException e) {
            current = Long.MAX_VALUE; // leave both for the checks below to report
          }
        }
      }
      boolean ours;
      try {
        check(pending, tmp(dir), dir, kind, config, envId, priorHash);
        ours = true;
      } catch (IllegalArgumentException | IOException e) {
        ours = false; // another run's: left alone
      }
      if (ours && pending.get("step").getAsLong() >= current) {
        swapIn(tmp(dir), dir);
      }
    }
    Path from = Files.isRegularFile(dir.resolve(SUMMARY)) ? dir : old(dir);
    Path file = from.resolve(SUMMARY);
    if (!Files.isRegularFile(file)) {
      throw new IOException("no training checkpoint in " + dir + " (expected " + SUMMARY
          + "); start without --resume, or point --checkpoint-dir at a run's checkpoint folder");
    }
    JsonObject h;
    try {
      h = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
    } catch (RuntimeException e) {
      throw new IOException(file + " is not an rql4j checkpoint (" + e.getMessage() + ")", e);
    }
    check(h, from, dir, kind, config, envId, priorHash);
    return new Opened(from, h);
  }

  /** Refuses, naming the difference, a checkpoint header (of {@code from}) of another format, learner, config, env or prior. */
  private static void check(JsonObject h, Path from, Path dir, String kind, Object config, String envId,
      String priorHash) throws IOException {
    Path file = from.resolve(SUMMARY);
    String format = h.has("format") && h.get("format").isJsonPrimitive() ? h.get("format").getAsString() : "";
    if (format.startsWith("rql4j-training-checkpoint/") || format.startsWith("rql4j-ppo-checkpoint/")
        || Files.isRegularFile(from.resolve(LEGACY_STATE))) {
      throw new IOException("the checkpoint in " + dir + " was written by rql4j 0.1 (" + format + ", state.bin), "
          + "which this version cannot resume: finish it with that version, or start the run again in a new folder "
          + "(CHANGELOG.md)");
    }
    if (!format.equals(FORMAT)) {
      throw new IOException(file + " is not an rql4j checkpoint of format " + FORMAT + " (format '" + format + "')");
    }
    String savedKind = h.get("learner").getAsString();
    if (!savedKind.equals(kind)) {
      throw new IllegalArgumentException("the checkpoint in " + dir + " is of a " + savedKind + " learner, not of "
          + kind + "; use a new --checkpoint-dir for this run");
    }
    JsonElement current = JsonParser.parseString(new Gson().toJson(config));
    if (!sameConfig(h.get("config"), current)) {
      throw new IllegalArgumentException("the checkpoint in " + dir + " was made with another config: "
          + configDiff(h.get("config").toString(), current.toString())
          + ". Resume with the same settings, or use a new --checkpoint-dir");
    }
    String savedEnv = h.get("env_id").getAsString();
    if (!savedEnv.equals(envId)) {
      throw new IllegalArgumentException("the checkpoint in " + dir + " trained on " + savedEnv + ", not on "
          + envId + "; use a new --checkpoint-dir for this run");
    }
    String savedPrior = h.has("prior_sha256") && !h.get("prior_sha256").isJsonNull()
        ? h.get("prior_sha256").getAsString() : "";
    String wantPrior = priorHash == null ? "" : priorHash;
    if (!savedPrior.equals(wantPrior)) {
      throw new IllegalArgumentException("the checkpoint in " + dir + " was trained with "
          + (savedPrior.isEmpty() ? "no prior" : "the prior package of sha256 " + savedPrior) + ", but this run has "
          + (wantPrior.isEmpty() ? "no prior" : "a prior of sha256 " + wantPrior)
          + "; resume with the same prior package, or use a new --checkpoint-dir");
    }
  }

  /** Restores {@code learner} from an opened checkpoint's learner section. */
  static void restoreLearner(Opened opened, LearnerState learner) throws IOException {
    Path file = opened.folder().resolve(LEARNER);
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      Map<String, NDArray> tensors = org.rql4j.learner.Mlp.readSafetensors(file, m);
      JsonElement values = opened.header().get("learner_state");
      learner.restoreState(tensors, values != null && values.isJsonObject() ? values.getAsJsonObject()
          : new JsonObject());
    } catch (java.nio.file.NoSuchFileException e) {
      throw new IOException("the checkpoint in " + opened.folder() + " has no " + LEARNER + " (an incomplete copy?)", e);
    } catch (IllegalArgumentException e) {
      throw new IOException("the checkpoint's networks do not fit this learner: " + e.getMessage(), e);
    }
  }

  /** The sampling random generator an opened checkpoint saved. */
  static Random rng(Opened opened) throws IOException {
    try {
      return deserialize(Base64.getDecoder().decode(opened.header().get("rng").getAsString()));
    } catch (RuntimeException e) {
      throw new IOException("corrupt checkpoint in " + opened.folder() + ": its rng (" + e.getMessage() + ")", e);
    }
  }

  /**
   * Restores {@code learner} (networks, optimizer) from the checkpoint in {@code dir} and returns
   * the rest. Refuses, naming the difference, a checkpoint of another config, env or prior.
   */
  public static Restored load(Path dir, OffPolicyLearner learner, String envId, String priorHash)
      throws IOException {
    Opened opened = open(dir, learner.kind(), learner.config(), envId, priorHash);
    Loop loop;
    try {
      loop = JSON.fromJson(opened.header().get("loop"), Loop.class);
    } catch (RuntimeException e) {
      throw new IOException("corrupt checkpoint in " + dir + ": its loop counters (" + e.getMessage() + ")", e);
    }
    if (loop == null || loop.recent() == null || loop.recent().size() > EpisodeTracker.RECENT) {
      throw new IOException("corrupt checkpoint in " + dir + ": its loop counters");
    }
    Random rng = rng(opened);
    restoreLearner(opened, learner);
    ReplayBuffer buffer;
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(
        Files.newInputStream(opened.folder().resolve(BUFFER)), 1 << 20))) {
      buffer = ReplayBuffer.readFrom(in);
    }
    return new Restored(loop, buffer, rng);
  }

  /**
   * Whether a saved config (JSON) is the current one. A setting added to the config after the run
   * was saved is absent from it: that is the same config when the setting now holds its off value
   * (0, false or null), which is what the run trained with.
   */
  public static boolean sameConfig(JsonElement saved, JsonElement current) {
    if (saved == null || current == null || !saved.isJsonObject() || !current.isJsonObject()) {
      return java.util.Objects.equals(saved, current);
    }
    JsonObject s = saved.getAsJsonObject();
    JsonObject c = current.getAsJsonObject();
    for (String key : c.keySet()) {
      JsonElement now = c.get(key);
      boolean off = now.isJsonNull() || (now.isJsonPrimitive() && (now.getAsJsonPrimitive().isBoolean()
          ? !now.getAsBoolean() : now.getAsJsonPrimitive().isNumber() && now.getAsDouble() == 0));
      if (s.has(key) ? !s.get(key).equals(now) : !off) {
        return false;
      }
    }
    return c.keySet().containsAll(s.keySet());
  }

  static String configDiff(String savedJson, String currentJson) {
    JsonObject saved = JSON.fromJson(savedJson, JsonObject.class);
    JsonObject current = JSON.fromJson(currentJson, JsonObject.class);
    List<String> diffs = new ArrayList<>();
    for (String key : saved.keySet()) {
      JsonElement now = current.get(key);
      if (!saved.get(key).equals(now)) {
        diffs.add(key + " " + saved.get(key) + " (checkpoint) vs " + now + " (now)");
      }
    }
    return diffs.isEmpty() ? "config fields differ" : String.join(", ", diffs);
  }

  static Path old(Path dir) {
    return dir.resolveSibling(dir.getFileName() + ".old");
  }

  static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to);
    }
  }

  static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(x);
      }
    }
  }

  static byte[] serialize(Random rng) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream o = new ObjectOutputStream(bytes)) {
      o.writeObject(rng);
    }
    return bytes.toByteArray();
  }

  static Random deserialize(byte[] bytes) throws IOException {
    try (ObjectInputStream o = new ObjectInputStream(new ByteArrayInputStream(bytes)) {
      @Override
      protected Class<?> resolveClass(java.io.ObjectStreamClass desc) throws IOException, ClassNotFoundException {
        if (!desc.getName().equals(Random.class.getName())) {
          throw new java.io.InvalidClassException(desc.getName(), "not allowed in a checkpoint");
        }
        return super.resolveClass(desc);
      }
    }) {
      return (Random) o.readObject();
    } catch (ClassNotFoundException e) {
      throw new IOException("corrupt checkpoint RNG", e);
    }
  }
}
