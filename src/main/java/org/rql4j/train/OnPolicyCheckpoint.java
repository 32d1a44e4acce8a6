package org.rql4j.train;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.rql4j.learner.ResidualPpo;

/**
 * Checkpoints of {@link OnPolicyTraining}: saved between rollouts (nothing is buffered then), in
 * the same folder layout and writer as {@link TrainingCheckpoint} ({@code state.bin}
 * + {@code checkpoint.json}; a crash while saving leaves the previous one in {@code <dir>.old}).
 * Holds the PPO learner's state ({@link ResidualPpo#writeState}), the loop's counters and recent
 * episodes, and the random generator. A resumed run resets the env with seed {@code seed + step}:
 * it continues the same learning, not the same env trajectories.
 */
public final class OnPolicyCheckpoint {

  private static final String MAGIC = "rql4j-ppo-checkpoint";
  private static final int VERSION = 1;
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

  /** The loop's state at a rollout boundary. */
  public record Loop(long step, int episodes, List<double[]> recent, double trainSeconds) {}

  /** What {@link #load} restores besides the learner. */
  public record Restored(Loop loop, Random rng) {}

  private OnPolicyCheckpoint() {}

  /**
   * Saves {@code ppo}, {@code rng} and {@code loop} in {@code dir}.
   *
   * @param priorHash the prior package's content hash, or null without a prior (checked on resume)
   */
  public static void save(Path dir, ResidualPpo ppo, Random rng, Loop loop, String envId, String priorHash)
      throws IOException {
    save(dir, Snapshot.of(ppo, rng), loop, envId, priorHash);
  }

  /**
   * The learner's state and the random generator as bytes, taken at a rollout boundary so that a
   * failure later in the rollout can save the boundary's state, not a mix of two moments.
   */
  public record Snapshot(org.rql4j.learner.ResidualPpoConfig config, long optimizerSteps, byte[] learner,
      byte[] rng) {

    public static Snapshot of(ResidualPpo ppo, Random rng) throws IOException {
      java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
      try (DataOutputStream out = new DataOutputStream(bytes)) {
        ppo.writeState(out);
      }
      return new Snapshot(ppo.config(), ppo.optimizerSteps(), bytes.toByteArray(), TrainingCheckpoint.serialize(rng));
    }
  }

  /** Saves a {@link Snapshot} with {@code loop} in {@code dir}. */
  public static void save(Path dir, Snapshot snapshot, Loop loop, String envId, String priorHash) throws IOException {
    TrainingCheckpoint.write(dir, out -> {
      out.writeUTF(MAGIC);
      out.writeInt(VERSION);
      TrainingCheckpoint.writeString(out, new Gson().toJson(snapshot.config()));
      TrainingCheckpoint.writeString(out, envId);
      TrainingCheckpoint.writeString(out, priorHash == null ? "" : priorHash);
      out.writeLong(loop.step());
      out.writeInt(loop.episodes());
      out.writeDouble(loop.trainSeconds());
      TrainingCheckpoint.writeRecent(out, loop.recent());
      out.writeInt(snapshot.rng().length);
      out.write(snapshot.rng());
      out.write(snapshot.learner());
    }, TrainingCheckpoint.summary(MAGIC + "/" + VERSION, envId, priorHash, loop.step(), "ppo",
        snapshot.config().totalSteps(), loop.episodes(), snapshot.optimizerSteps(), snapshot.config(), null, null));
  }

  /**
   * Refuses, as {@link #load} would and before anything is trained or written, a checkpoint in
   * {@code dir} of another format, config, env or prior; does nothing when {@code dir} holds none.
   */
  public static void checkResumable(Path dir, org.rql4j.learner.ResidualPpoConfig config, String envId,
      String priorHash) throws IOException {
    if (!TrainingCheckpoint.exists(dir)) {
      return;
    }
    try (DataInputStream in = open(dir)) {
      checkHeader(in, dir, config, envId, priorHash);
    }
  }

  private static DataInputStream open(Path dir) throws IOException {
    Path from = Files.isRegularFile(dir.resolve(TrainingCheckpoint.STATE)) ? dir : TrainingCheckpoint.old(dir);
    Path file = from.resolve(TrainingCheckpoint.STATE);
    if (!Files.isRegularFile(file)) {
      throw new IOException("no training checkpoint in " + dir + " (expected " + TrainingCheckpoint.STATE
          + "); start without --resume, or point --checkpoint-dir at a run's checkpoint folder");
    }
    return new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 20));
  }

  private static void checkHeader(DataInputStream in, Path dir, org.rql4j.learner.ResidualPpoConfig config,
      String envId, String priorHash) throws IOException {
    Path file = dir.resolve(TrainingCheckpoint.STATE);
    String magic;
    try {
      magic = in.readUTF();
    } catch (IOException e) {
      magic = "";
    }
    if (!MAGIC.equals(magic)) {
      throw new IOException(file + " is not a PPO training checkpoint" + (magic.startsWith("rql4j-")
          ? " (it is a " + magic + ": an off-policy learner's; resume it with `rql4j customize`)" : ""));
    }
    int version = in.readInt();
    if (version != VERSION) {
      throw new IOException(file + " has PPO checkpoint version " + version + "; this rql4j reads " + VERSION);
    }
    String savedConfig = TrainingCheckpoint.readString(in);
    String current = new Gson().toJson(config);
    if (!TrainingCheckpoint.sameConfig(GSON.fromJson(savedConfig, JsonElement.class),
        GSON.fromJson(current, JsonElement.class))) {
      throw new IllegalArgumentException("the checkpoint in " + dir + " was made with another config: "
          + TrainingCheckpoint.configDiff(savedConfig, current)
          + ". Resume with the same settings, or use a new --checkpoint-dir");
    }
    String savedEnv = TrainingCheckpoint.readString(in);
    if (!savedEnv.equals(envId)) {
      throw new IllegalArgumentException("the checkpoint in " + dir + " trained on " + savedEnv + ", not on " + envId
          + "; use a new --checkpoint-dir for this run");
    }
    String savedPrior = TrainingCheckpoint.readString(in);
    String wantPrior = priorHash == null ? "" : priorHash;
    if (!savedPrior.equals(wantPrior)) {
      throw new IllegalArgumentException("the checkpoint in " + dir + " was trained with "
          + (savedPrior.isEmpty() ? "no prior" : "the prior package of sha256 " + savedPrior) + ", but this run has "
          + (wantPrior.isEmpty() ? "no prior" : "a prior of sha256 " + wantPrior)
          + "; resume with the same prior package, or use a new --checkpoint-dir");
    }
  }

  /**
   * Restores {@code ppo} from the checkpoint in {@code dir} and returns the rest; refuses, naming
   * the difference, a checkpoint of another format, config, env or prior.
   */
  public static Restored load(Path dir, ResidualPpo ppo, String envId, String priorHash) throws IOException {
    try (DataInputStream in = open(dir)) {
      checkHeader(in, dir, ppo.config(), envId, priorHash);
      long step = in.readLong();
      int episodes = in.readInt();
      double seconds = in.readDouble();
      int nRecent = in.readInt();
      if (nRecent < 0 || nRecent > EpisodeTracker.RECENT) {
        throw new IOException("corrupt checkpoint in " + dir + ": " + nRecent + " recent episodes");
      }
      List<double[]> recent = new ArrayList<>();
      for (int i = 0; i < nRecent; i++) {
        recent.add(new double[] {in.readDouble(), in.readDouble(), in.readDouble()});
      }
      byte[] rngBytes = new byte[in.readInt()];
      in.readFully(rngBytes);
      Random rng = TrainingCheckpoint.deserialize(rngBytes);
      ppo.readState(in);
      return new Restored(new Loop(step, episodes, recent, seconds), rng);
    }
  }
}
