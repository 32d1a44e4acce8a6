package org.rql4j.runtime;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Which float code paths this process runs (docs/reproducibility.md). libtorch picks its math
 * kernels by CPU: MKL's matrix products by instruction set and vendor, ATen's vectorized element-wise
 * kernels by {@code ATEN_CPU_CAPABILITY}. Two CPUs can then give results that differ in the last
 * bit, and one RL trajectory amplifies that into a different policy. Pinned numerics use the same
 * code path on every x86-64 CPU with AVX2: MKL's conditional numerical reproducibility in its
 * {@code COMPATIBLE} branch, ATen's AVX2 kernels, one OpenMP thread.
 *
 * <p>These are environment variables that libtorch reads once, when it loads: they must be set
 * before the JVM starts (Java cannot change its own environment). Maven's test configuration and
 * {@code make test} set them unless {@code RQL4J_NUMERICS=native}; {@code bin/rql4j} and the
 * benchmarks set them when {@code RQL4J_NUMERICS=pinned}; a service that depends on the library
 * sets them in its own environment. A {@code PythonServer} started from Java inherits them, so the
 * Python side's torch runs the same paths.
 */
public final class Numerics {

  private Numerics() {}

  /** The environment variable naming the choice: {@code pinned} or {@code native}. */
  public static final String ENV = "RQL4J_NUMERICS";

  /** The variables (and values) of pinned numerics, in a fixed order. */
  public static final Map<String, String> PINNED = pinnedVariables();

  private static Map<String, String> pinnedVariables() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("MKL_CBWR", "COMPATIBLE");
    m.put("ATEN_CPU_CAPABILITY", "avx2");
    m.put("OMP_NUM_THREADS", "1");
    return java.util.Collections.unmodifiableMap(m);
  }

  /** Whether this process runs pinned numerics: every variable of {@link #PINNED} has its value. */
  public static boolean pinned() {
    return pinned(System.getenv());
  }

  static boolean pinned(Map<String, String> env) {
    return PINNED.entrySet().stream().allMatch(e -> e.getValue().equals(env.get(e.getKey())));
  }

  /**
   * What a run records about its numerics: {@code pinned} or {@code native}, the variables that
   * choose the code paths (as set, or absent), DJL's intra-op threads and the CPU model.
   */
  public static Map<String, String> describe() {
    DjlRuntime.configure(); // DJL's thread count as the learners will see it
    Map<String, String> out = new LinkedHashMap<>();
    out.put("numerics", pinned() ? "pinned" : "native");
    List<String> variables = new ArrayList<>(PINNED.keySet());
    variables.add("MKL_ENABLE_INSTRUCTIONS"); // not pinned, but it also chooses MKL's kernels
    for (String v : variables) {
      String value = System.getenv(v);
      out.put(v, value == null ? "(unset)" : value);
    }
    out.put("ai.djl.pytorch.num_threads", System.getProperty("ai.djl.pytorch.num_threads", "(DJL's default)"));
    out.put("cpu", cpuModel());
    return out;
  }

  /**
   * A warning when {@code RQL4J_NUMERICS=pinned} is asked for but the variables are not all set
   * (they cannot be set from inside the JVM), else null.
   */
  public static String mismatchWarning() {
    return mismatchWarning(System.getenv());
  }

  static String mismatchWarning(Map<String, String> env) {
    if (!"pinned".equalsIgnoreCase(env.get(ENV)) || pinned(env)) {
      return null;
    }
    StringBuilder missing = new StringBuilder();
    new java.util.TreeMap<>(PINNED).forEach((k, v) -> {
      if (!v.equals(env.get(k))) {
        missing.append(missing.length() == 0 ? "" : " ").append(k).append('=').append(v);
      }
    });
    return ENV + "=pinned, but this JVM was started without " + missing + ": libtorch reads them only when it "
        + "loads, so set them in the environment that starts the JVM (bin/rql4j sets those not already set); see "
        + "docs/reproducibility.md";
  }

  /** One line for logs: {@code numerics pinned (MKL_CBWR=COMPATIBLE ...), 1 thread, CPU ...}. */
  public static String line() {
    Map<String, String> d = describe();
    StringBuilder sb = new StringBuilder("numerics ").append(d.remove("numerics")).append(" (");
    String cpu = d.remove("cpu");
    d.forEach((k, v) -> sb.append(sb.charAt(sb.length() - 1) == '(' ? "" : ", ").append(k).append('=').append(v));
    return sb.append("), CPU ").append(cpu).toString();
  }

  static String cpuModel() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.toLowerCase(Locale.ROOT).startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // not Linux: fall through
    }
    return System.getProperty("os.arch");
  }
}
