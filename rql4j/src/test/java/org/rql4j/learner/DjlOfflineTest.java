package org.rql4j.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that DJL's PyTorch engine needs no download: a child JVM with an EMPTY DJL cache, DJL's
 * offline switch on, every HTTP(S) proxy pointed at a closed port and — where the machine allows
 * it (`unshare -rn`) — no network interface at all, still loads libtorch from the
 * pytorch-native-cpu jar and trains an MLP.
 */
class DjlOfflineTest {

  @Test
  void trainsAnMlpWithDownloadsMadeImpossible(@TempDir Path tmp) throws Exception {
    Path cache = Files.createDirectories(tmp.resolve("djl-cache"));
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> cmd = new ArrayList<>();
    boolean isolated = unshareWorks();
    if (isolated) {
      cmd.addAll(List.of("unshare", "-rn"));
    }
    cmd.addAll(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-DDJL_CACHE_DIR=" + cache,
        "-DENGINE_CACHE_DIR=" + cache,
        "-Dai.djl.offline=true",
        "-Dhttp.proxyHost=127.0.0.1", "-Dhttp.proxyPort=9",
        "-Dhttps.proxyHost=127.0.0.1", "-Dhttps.proxyPort=9",
        "-cp", classpath,
        OfflineTrainingProbe.class.getName()));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Map<String, String> env = pb.environment();
    env.remove("PYTORCH_LIBRARY_PATH");
    env.remove("PYTORCH_VERSION");
    env.put("DJL_CACHE_DIR", cache.toString());
    env.put("http_proxy", "http://127.0.0.1:9");
    env.put("https_proxy", "http://127.0.0.1:9");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "probe did not finish:\n" + out);
    assertEquals(0, p.exitValue(), "offline probe failed (isolated=" + isolated + "):\n" + out);

    Map<String, String> kv = new HashMap<>();
    for (String line : out.split("\n")) {
      int eq = line.indexOf('=');
      if (eq > 0 && !line.contains(" ")) {
        kv.put(line.substring(0, eq), line.substring(eq + 1).trim());
      }
    }
    assertEquals("PyTorch", kv.get("engine"), out);
    assertEquals("2.7.1", kv.get("version"), out);
    float initial = Float.parseFloat(kv.get("initialLoss"));
    float last = Float.parseFloat(kv.get("finalLoss"));
    assertTrue(last < 0.05f * initial, "MLP did not learn offline: " + initial + " -> " + last);
    // libtorch was extracted from the jar into the empty cache: nothing came from elsewhere.
    try (Stream<Path> files = Files.walk(cache)) {
      assertTrue(files.anyMatch(f -> f.getFileName().toString().startsWith("libtorch")),
          "libtorch was not extracted into the fresh cache " + cache);
    }
    System.out.println("DJL offline probe: isolated network namespace=" + isolated
        + ", loss " + initial + " -> " + last);
  }

  /** Whether this machine lets an unprivileged child run without any network interface. */
  private static boolean unshareWorks() {
    try {
      Process p = new ProcessBuilder("unshare", "-rn", "true").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }
}
