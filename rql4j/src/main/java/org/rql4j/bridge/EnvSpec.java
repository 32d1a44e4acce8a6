package org.rql4j.bridge;

import java.time.Duration;
import java.util.Objects;
import org.rql4j.env.AutoresetMode;

/**
 * What to make on the env server: a registered Gymnasium id, its {@code gymnasium.make} kwargs,
 * how many copies to step together, and how.
 *
 * @param envId registered Gymnasium id, e.g. {@code CartPole-v1}
 * @param kwargsJson keyword arguments for {@code gymnasium.make} as a JSON object, or null
 * @param numEnvs copies stepped together
 * @param autoresetMode what happens to copies whose episode ended
 * @param maxEpisodeSteps episode step limit override; 0 keeps the registered one
 * @param transport how steps travel (the step socket by default; see {@link StepTransport})
 * @param callTimeout deadline of each call to the server
 * @param addonReward an add-on reward the server applies, {@code "MODULE:FUNCTION"} (a function of a
 *     module the server imported at start: {@link PythonServer.Builder#optAddon}), or null for the
 *     env's own reward
 * @param rewardVariant with an add-on reward: the reward the env returns (both parts are in every
 *     step's info as {@code basic_reward} and {@code addon_reward})
 * @param workers worker processes of the server for this env's copies: {@link #SERVER_WORKERS} (the
 *     server's {@code serve --workers}), {@link #NO_WORKERS} (the copies in the server's own process), or
 *     N > 0 for {@code min(N, numEnvs)} processes stepped at the same time (docs/bridge.md)
 * @param spinWait on the step socket: how long the client polls for each reply before its thread
 *     blocks in the read ({@link Duration#ZERO}: never polls); see {@link Builder#optSpinWait}
 */
public record EnvSpec(
    String envId,
    String kwargsJson,
    int numEnvs,
    AutoresetMode autoresetMode,
    int maxEpisodeSteps,
    StepTransport transport,
    Duration callTimeout,
    String addonReward,
    RewardVariant rewardVariant,
    int workers,
    Duration spinWait) {

  /** {@link #workers}: whatever the server was started with ({@code serve --workers N}, default none). */
  public static final int SERVER_WORKERS = 0;
  /** {@link #workers}: the copies in the server's own process, whatever it was started with. */
  public static final int NO_WORKERS = -1;

  /**
   * The default {@link #spinWait}: 200 µs where the JVM may use 2 or more cores, else zero (polling on
   * a single core would take it from the server that is computing the reply).
   */
  public static Duration defaultSpinWait() {
    return Runtime.getRuntime().availableProcessors() >= 2 ? Duration.ofNanos(200_000) : Duration.ZERO;
  }

  public EnvSpec {
    Objects.requireNonNull(envId, "envId");
    Objects.requireNonNull(autoresetMode, "autoresetMode");
    Objects.requireNonNull(transport, "transport");
    Objects.requireNonNull(callTimeout, "callTimeout");
    Objects.requireNonNull(rewardVariant, "rewardVariant");
    Objects.requireNonNull(spinWait, "spinWait");
    if (spinWait.isNegative()) {
      throw new IllegalArgumentException("spinWait must be >= 0, got " + spinWait + " for " + envId);
    }
    if (numEnvs < 1) {
      throw new IllegalArgumentException("numEnvs must be >= 1, got " + numEnvs + " for " + envId);
    }
    if (maxEpisodeSteps < 0) {
      throw new IllegalArgumentException("maxEpisodeSteps must be >= 0, got " + maxEpisodeSteps);
    }
    if (workers < NO_WORKERS) {
      throw new IllegalArgumentException("workers must be >= 1, or SERVER_WORKERS (0) or NO_WORKERS (-1), got "
          + workers + " for " + envId);
    }
  }

  /** A builder with defaults: 1 copy, SAME_STEP autoreset, steps over the step socket, 120 s call timeout. */
  public static Builder builder(String envId) {
    return new Builder(envId);
  }

  /** Builder for {@link EnvSpec} (DJL style: {@code optX} for optional settings). */
  public static final class Builder {
    private final String envId;
    private String kwargsJson;
    private int numEnvs = 1;
    private AutoresetMode autoresetMode = AutoresetMode.SAME_STEP;
    private int maxEpisodeSteps;
    private StepTransport transport = StepTransport.SOCKET;
    private Duration callTimeout = Duration.ofSeconds(120);
    private String addonReward;
    private RewardVariant rewardVariant = RewardVariant.TOTAL;
    private int workers = SERVER_WORKERS;
    private Duration spinWait = defaultSpinWait();

    private Builder(String envId) {
      this.envId = envId;
    }

    public Builder optKwargsJson(String kwargsJson) {
      this.kwargsJson = kwargsJson;
      return this;
    }

    public Builder optNumEnvs(int numEnvs) {
      this.numEnvs = numEnvs;
      return this;
    }

    public Builder optAutoresetMode(AutoresetMode autoresetMode) {
      this.autoresetMode = autoresetMode;
      return this;
    }

    public Builder optMaxEpisodeSteps(int maxEpisodeSteps) {
      this.maxEpisodeSteps = maxEpisodeSteps;
      return this;
    }

    public Builder optTransport(StepTransport transport) {
      this.transport = transport;
      return this;
    }

    public Builder optCallTimeout(Duration callTimeout) {
      this.callTimeout = callTimeout;
      return this;
    }

    /**
     * An add-on reward for the server to apply ({@code "MODULE:FUNCTION"}, a module the server
     * imported at start) and the reward the env then returns; null: the env's own reward.
     */
    public Builder optAddonReward(String moduleFunction, RewardVariant variant) {
      this.addonReward = moduleFunction;
      this.rewardVariant = Objects.requireNonNull(variant, "variant");
      return this;
    }

    /**
     * Worker processes of the server for this env's copies, stepped at the same time: N > 0 for {@code
     * min(N, numEnvs)}, {@link EnvSpec#NO_WORKERS} for none; by default the server's own setting ({@code
     * serve --workers}, {@link PythonServer.Builder#optWorkers}). The replies are the same either way.
     */
    public Builder optWorkers(int workers) {
      this.workers = workers;
      return this;
    }

    /**
     * On the step socket ({@link StepTransport#SOCKET}): how long the client polls for each reply
     * before its thread blocks in the read. A blocked thread has to be woken when the reply
     * arrives, which on small envs costs more than the env step (docs/benchmarks.md, "Where a
     * training step goes"); polling spends this thread's core meanwhile. Default {@link
     * EnvSpec#defaultSpinWait()}; {@link Duration#ZERO} never polls. The server's side of the
     * same trade is {@code serve --step-socket-spin-us}. Replies are the same either way.
     */
    public Builder optSpinWait(Duration spinWait) {
      this.spinWait = spinWait;
      return this;
    }

    public EnvSpec build() {
      return new EnvSpec(envId, kwargsJson, numEnvs, autoresetMode, maxEpisodeSteps, transport,
          callTimeout, addonReward, rewardVariant, workers, spinWait);
    }
  }
}
