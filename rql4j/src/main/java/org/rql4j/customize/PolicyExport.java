package org.rql4j.customize;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.rql4j.bridge.PythonServer;

/**
 * Takes a customized policy home: writes a finished run's policy (soft Q-learning, SAC or PPO) as a
 * self-contained folder that is itself a prior package ({@code rql4j-prior/1}): the whole customized
 * policy as one TorchScript module ({@code policy.pt}: {@code forward} as the prior-package contract
 * says, {@code act} for the deterministic action), {@code policy.onnx}, {@code weights.safetensors},
 * a copy of the prior it was customized from (checked by hash) and the run's settings, with no
 * absolute paths (docs/export.md). In Python, {@code rql4j_bridge.load_policy(DIR)} loads it without
 * Java; as a prior it customizes again (a chained requirement).
 *
 * <p>The composition runs in Python ({@code python -m rql4j_bridge export-policy}, torch and onnx:
 * the bridge's {@code priors} and {@code export} extras); the Python is
 * {@link PythonServer#defaultPython()} unless {@link Builder#optPython} says otherwise.
 *
 * <pre>{@code
 * Path home = PolicyExport.builder(Path.of("runs/stay-left"), Path.of("stay-left-policy")).build().run();
 * }</pre>
 */
public final class PolicyExport {

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PolicyExport.class);

  private final Path source;
  private final Path out;
  private final Path python;
  private final boolean onnx;
  private final Duration timeout;

  private PolicyExport(Builder b) {
    this.source = b.source;
    this.out = b.out;
    this.python = b.python == null ? PythonServer.defaultPython() : b.python;
    this.onnx = b.onnx;
    this.timeout = b.timeout;
  }

  /**
   * An export of {@code runOrPolicyDir} (a run folder, or its {@code policy/} folder) into {@code outDir}
   * (which must not exist, or be empty).
   */
  public static Builder builder(Path runOrPolicyDir, Path outDir) {
    return new Builder(runOrPolicyDir, outDir);
  }

  /** Options of an export. */
  public static final class Builder {
    private final Path source;
    private final Path out;
    private Path python;
    private boolean onnx = true;
    private Duration timeout = Duration.ofMinutes(10);

    private Builder(Path source, Path out) {
      this.source = source;
      this.out = out;
    }

    /** The Python with rql4j-bridge and its {@code priors} and {@code export} extras (default: {@link PythonServer#defaultPython()}). */
    public Builder optPython(Path python) {
      this.python = python;
      return this;
    }

    /** Whether to write {@code policy.onnx} too (default true). */
    public Builder optOnnx(boolean onnx) {
      this.onnx = onnx;
      return this;
    }

    /** How long the export may take (default 10 minutes). */
    public Builder optTimeout(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    /**
     * The export, checked: the source folder exists and holds a saved policy, the output folder is
     * new or empty; an {@link IllegalArgumentException} naming the folder and what to do otherwise.
     */
    public PolicyExport build() {
      Path policy = Files.isRegularFile(source.resolve("policy.json")) ? source : source.resolve("policy");
      if (!Files.isDirectory(source)) {
        throw new IllegalArgumentException("no run folder at " + source + "; give a finished run's folder (its --out) "
            + "or its policy/ folder");
      }
      if (!Files.isRegularFile(policy.resolve("policy.json"))) {
        throw new IllegalArgumentException(source + " holds no saved policy (no policy.json there or in policy/): "
            + "is the run finished? A run that stopped early saves its policy only when it ends (resume it with "
            + "--resume)");
      }
      if (Files.exists(out) && !isEmptyDir(out)) {
        throw new IllegalArgumentException(out + " already exists and is not empty; nothing was written. Choose a new "
            + "folder for the export");
      }
      return new PolicyExport(this);
    }

    private static boolean isEmptyDir(Path dir) {
      try (var entries = Files.list(dir)) {
        return entries.findAny().isEmpty();
      } catch (IOException e) {
        return false;
      }
    }
  }

  /**
   * Writes the folder.
   *
   * @return the exported folder
   * @throws IOException when Python could not run or refused (its message, e.g. a prior package that
   *     changed since the run, names what to do); nothing is left half-written
   */
  public Path run() throws IOException {
    List<String> args = new ArrayList<>(List.of(source.toAbsolutePath().toString(), "--out",
        out.toAbsolutePath().toString()));
    if (!onnx) {
      args.add("--no-onnx");
    }
    String output = PythonCommand.run(python, "export-policy", args, timeout, "exporting " + source,
        "priors,export");
    // what Python said on the way (e.g. why policy.onnx was not written) reaches the caller's log
    for (String line : output.strip().split("\n")) {
      if (!line.isBlank()) {
        LOG.info("export: {}", line.strip());
      }
    }
    return out;
  }
}
