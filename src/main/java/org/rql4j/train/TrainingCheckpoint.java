package org.rql4j.train;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
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
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.rql4j.buffer.ReplayBuffer;
import org.rql4j.learner.OffPolicyLearner;

/**
 * A resumable snapshot of an off-policy training run ({@link OffPolicyTraining}): the learner's
 * own state section (its networks and optimizer moments, written by
 * {@link OffPolicyLearner#writeState}), the replay buffer (with its stored prior features), the
 * sampling RNG and the loop's counters. Written to {@code dir/state.bin} (binary, versioned) with a readable
 * {@code dir/checkpoint.json} beside it; a new checkpoint replaces the old one only once it is
 * complete on disk (written to {@code dir.tmp}, then renamed), so a crash while saving leaves the
 * previous one intact.
 *
 * <p>What a resume does NOT restore: the envs' own state (they live in the Python server). A
 * resumed run resets its envs with seed {@code config.seed + step} and drops the partial episodes
 * in progress; everything learned is kept.
 */
public final class TrainingCheckpoint {

  public static final String STATE = "state.bin";
  public static final String SUMMARY = "checkpoint.json";
  private static final String MAGIC = "rql4j-training-checkpoint";
  // 3: any off-policy learner (its kind, then its own state section); float actions and the prior's
  // features of both states in the replay buffer
  private static final int VERSION = 3;
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

  /** The training loop's counters. {@code recent}: the last episodes' [return, basic, add-on]. */
  public record Loop(long step, int episodes, double lastLoss, double envSeconds, double priorSeconds,
      double learnerSeconds, double wallSeconds, List<double[]> recent) {}

  /** What a checkpoint holds besides the learner. */
  public record Restored(Loop loop, ReplayBuffer buffer, Random rng) {}

  private TrainingCheckpoint() {}

  /** Whether {@code dir} holds a checkpoint (or the previous one, left by a crash while replacing it). */
  public static boolean exists(Path dir) {
    return Files.isRegularFile(dir.resolve(STATE)) || Files.isRegularFile(old(dir).resolve(STATE));
  }

  /** The env step of the checkpoint in {@code dir} (from its checkpoint.json), or -1 without one. */
  public static long savedStep(Path dir) throws IOException {
    for (Path d : List.of(dir, old(dir))) {
      Path f = d.resolve(SUMMARY);
      if (Files.isRegularFile(d.resolve(STATE)) && Files.isRegularFile(f)) {
        return com.google.gson.JsonParser.parseString(Files.readString(f)).getAsJsonObject().get("step").getAsLong();
      }
    }
    return -1;
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
    try (Stream<Path> s = Files.list(dir)) {
      List<String> others = s.map(p -> p.getFileName().toString())
          .filter(n -> !n.equals(STATE) && !n.equals(SUMMARY)).sorted().toList();
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
    write(dir, out -> {
      out.writeUTF(MAGIC);
      out.writeInt(VERSION);
      writeString(out, learner.kind());
      writeString(out, configJson(learner.config()));
      writeString(out, envId);
      writeString(out, priorHash == null ? "" : priorHash);
      out.writeLong(loop.step());
      out.writeInt(loop.episodes());
      out.writeDouble(loop.lastLoss());
      out.writeDouble(loop.envSeconds());
      out.writeDouble(loop.priorSeconds());
      out.writeDouble(loop.learnerSeconds());
      out.writeDouble(loop.wallSeconds());
      writeRecent(out, loop.recent());
      byte[] rngBytes = serialize(rng);
      out.writeInt(rngBytes.length);
      out.write(rngBytes);
      learner.writeState(out);
      buffer.writeTo(out);
    }, summary(MAGIC + "/" + VERSION, envId, priorHash, loop.step(), learner.kind(), learner.schedule().totalSteps(),
        loop.episodes(), learner.optimizerSteps(), learner.config(), "buffer_size", buffer.size()));
  }

  /** Writes a checkpoint's {@link #STATE} file. */
  interface StateWriter {
    void write(DataOutputStream out) throws IOException;
  }

  /**
   * Writes a checkpoint folder (both loops' format): the state file and checkpoint.json into
   * {@code <dir>.tmp}, the state forced to disk, then swapped in for {@code dir}.
   */
  static void write(Path dir, StateWriter state, JsonObject summary) throws IOException {
    Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp");
    deleteTree(tmp);
    Files.createDirectories(tmp);
    try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(
        Files.newOutputStream(tmp.resolve(STATE)), 1 << 20))) {
      state.write(out);
    }
    Files.writeString(tmp.resolve(SUMMARY), GSON.toJson(summary));
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(tmp.resolve(STATE),
        java.nio.file.StandardOpenOption.WRITE)) {
      ch.force(true); // on disk before the swap
    }
    swapIn(tmp, dir);
  }

  /**
   * A checkpoint.json: its format, when it was saved, what trained on what, and how far
   * ({@code extraKey} / {@code extraValue}: one loop-specific count, or null).
   */
  static JsonObject summary(String format, String envId, String priorHash, long step, String learner,
      long totalSteps, int episodes, long optimizerSteps, Object config, String extraKey, Number extraValue) {
    JsonObject summary = new JsonObject();
    summary.addProperty("format", format);
    summary.addProperty("saved", Instant.now().toString());
    summary.addProperty("env_id", envId);
    summary.addProperty("prior_sha256", priorHash);
    summary.addProperty("step", step);
    summary.addProperty("learner", learner);
    summary.addProperty("total_steps", totalSteps);
    summary.addProperty("episodes", episodes);
    if (extraKey != null) {
      summary.addProperty(extraKey, extraValue);
    }
    summary.addProperty("optimizer_steps", optimizerSteps);
    summary.add("config", GSON.toJsonTree(config));
    return summary;
  }

  /** The recent episodes' [env, basic, add-on] returns, as both loops store them. */
  static void writeRecent(DataOutputStream out, List<double[]> recent) throws IOException {
    out.writeInt(recent.size());
    for (double[] r : recent) {
      for (double x : r) {
        out.writeDouble(x);
      }
    }
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
   * Restores {@code learner} (networks, optimizer) from the checkpoint in {@code dir} and returns
   * the rest. Refuses, naming the difference, a checkpoint of another config, env or prior.
   */
  public static Restored load(Path dir, OffPolicyLearner learner, String envId, String priorHash)
      throws IOException {
    Path from = Files.isRegularFile(dir.resolve(STATE)) ? dir : old(dir);
    Path file = from.resolve(STATE);
    if (!Files.isRegularFile(file)) {
      throw new IOException("no training checkpoint in " + dir + " (expected " + STATE
          + "); start without --resume, or point --checkpoint-dir at a run's checkpoint folder");
    }
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 20))) {
      String magic;
      try {
        magic = in.readUTF();
      } catch (IOException e) {
        magic = "";
      }
      if ("rql4j-softq-checkpoint".equals(magic)) {
        throw new IOException(file + " is a checkpoint of an older rql4j (soft-Q format 2), which this version "
            + "cannot resume; start the run again in a new --checkpoint-dir (or use that rql4j version to finish it)");
      }
      if (!MAGIC.equals(magic)) {
        throw new IOException(file + " is not an rql4j training checkpoint");
      }
      int version = in.readInt();
      if (version != VERSION) {
        throw new IOException(file + " has checkpoint version " + version + "; this rql4j reads version " + VERSION);
      }
      String savedKind = readString(in);
      if (!savedKind.equals(learner.kind())) {
        throw new IllegalArgumentException("the checkpoint in " + dir + " is of a " + savedKind + " learner, not of "
            + learner.kind() + "; use a new --checkpoint-dir for this run");
      }
      String savedConfig = readString(in);
      String current = configJson(learner.config());
      if (!sameConfig(GSON.fromJson(savedConfig, JsonElement.class), GSON.fromJson(current, JsonElement.class))) {
        throw new IllegalArgumentException("the checkpoint in " + dir + " was made with another config: "
            + configDiff(savedConfig, current) + ". Resume with the same settings, or use a new --checkpoint-dir");
      }
      String savedEnv = readString(in);
      if (!savedEnv.equals(envId)) {
        throw new IllegalArgumentException("the checkpoint in " + dir + " trained on " + savedEnv + ", not on "
            + envId + "; use a new --checkpoint-dir for this run");
      }
      String savedPrior = readString(in);
      String wantPrior = priorHash == null ? "" : priorHash;
      if (!savedPrior.equals(wantPrior)) {
        throw new IllegalArgumentException("the checkpoint in " + dir + " was trained with "
            + (savedPrior.isEmpty() ? "no prior" : "the prior package of sha256 " + savedPrior) + ", but this run has "
            + (wantPrior.isEmpty() ? "no prior" : "a prior of sha256 " + wantPrior)
            + "; resume with the same prior package, or use a new --checkpoint-dir");
      }
      long step = in.readLong();
      int episodes = in.readInt();
      double lastLoss = in.readDouble();
      double envS = in.readDouble();
      double priorS = in.readDouble();
      double learnerS = in.readDouble();
      double wallS = in.readDouble();
      int nRecent = in.readInt();
      List<double[]> recent = new ArrayList<>();
      for (int i = 0; i < nRecent; i++) {
        recent.add(new double[] {in.readDouble(), in.readDouble(), in.readDouble()});
      }
      byte[] rngBytes = new byte[in.readInt()];
      in.readFully(rngBytes);
      Random rng = deserialize(rngBytes);
      learner.readState(in);
      ReplayBuffer buffer = ReplayBuffer.readFrom(in);
      return new Restored(new Loop(step, episodes, lastLoss, envS, priorS, learnerS, wallS, recent), buffer, rng);
    }
  }

  static String configJson(org.rql4j.learner.LearnerConfig config) {
    return new Gson().toJson(config);
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
    JsonObject saved = GSON.fromJson(savedJson, JsonObject.class);
    JsonObject current = GSON.fromJson(currentJson, JsonObject.class);
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

  static void writeString(DataOutputStream out, String s) throws IOException {
    byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    out.writeInt(b.length);
    out.write(b);
  }

  static String readString(DataInputStream in) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > (1 << 24)) {
      throw new IOException("corrupt checkpoint: a string of " + n + " bytes");
    }
    byte[] b = new byte[n];
    in.readFully(b);
    return new String(b, java.nio.charset.StandardCharsets.UTF_8);
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
