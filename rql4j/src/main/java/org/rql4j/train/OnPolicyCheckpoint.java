package org.rql4j.train;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.rql4j.learner.ResidualPpo;
import org.rql4j.learner.ResidualPpoConfig;

/**
 * Checkpoints of {@link OnPolicyTraining}, in the one checkpoint format of {@link TrainingCheckpoint}
 * (checkpoint.json + learner.safetensors; no buffer: they are saved between rollouts, when nothing
 * is buffered). They hold the PPO learner's section ({@link ResidualPpo#stateTensors}: networks,
 * log-std, Adam's moments, running statistics), the loop's counters and recent episodes, and the
 * random generator. A resumed run resets the env with seed {@code seed + step}: it continues the
 * same learning, not the same env trajectories.
 */
public final class OnPolicyCheckpoint {

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
   * The learner's section and the random generator, taken at a rollout boundary so that a failure
   * later in the rollout can save the boundary's state, not a mix of two moments.
   */
  public record Snapshot(TrainingCheckpoint.LearnerSection learner, byte[] rng) {

    public static Snapshot of(ResidualPpo ppo, Random rng) throws IOException {
      return new Snapshot(TrainingCheckpoint.LearnerSection.of(ppo, ppo.config(), ppo.config().totalSteps()),
          TrainingCheckpoint.serialize(rng));
    }
  }

  /** Saves a {@link Snapshot} with {@code loop} in {@code dir}. */
  public static void save(Path dir, Snapshot snapshot, Loop loop, String envId, String priorHash) throws IOException {
    JsonObject header = TrainingCheckpoint.header(snapshot.learner(), envId, priorHash, loop.step(), loop.episodes(),
        TrainingCheckpoint.JSON.toJsonTree(loop), snapshot.rng());
    TrainingCheckpoint.write(dir, header, snapshot.learner().tensors(), null);
  }

  /**
   * Refuses, as {@link #load} would and before anything is trained or written, a checkpoint in
   * {@code dir} of another format, learner, config, env or prior; does nothing when {@code dir} holds none.
   */
  public static void checkResumable(Path dir, ResidualPpoConfig config, String envId, String priorHash)
      throws IOException {
    TrainingCheckpoint.checkResumable(dir, ResidualPpo.KIND, config, envId, priorHash);
  }

  /**
   * Restores {@code ppo} from the checkpoint in {@code dir} and returns the rest; refuses, naming
   * the difference, a checkpoint of another format, learner, config, env or prior.
   */
  public static Restored load(Path dir, ResidualPpo ppo, String envId, String priorHash) throws IOException {
    TrainingCheckpoint.Opened opened = TrainingCheckpoint.open(dir, ResidualPpo.KIND, ppo.config(), envId, priorHash);
    Loop loop;
    try {
      loop = TrainingCheckpoint.JSON.fromJson(opened.header().get("loop"), Loop.class);
    } catch (RuntimeException e) {
      throw new IOException("corrupt checkpoint in " + dir + ": its loop counters (" + e.getMessage() + ")", e);
    }
    if (loop == null || loop.recent() == null || loop.recent().size() > EpisodeTracker.RECENT) {
      throw new IOException("corrupt checkpoint in " + dir + ": its loop counters");
    }
    Random rng = TrainingCheckpoint.rng(opened);
    TrainingCheckpoint.restoreLearner(opened, ppo);
    return new Restored(loop, rng);
  }
}
