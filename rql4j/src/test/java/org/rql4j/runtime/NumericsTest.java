package org.rql4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NumericsTest {

  /** Maven's test configuration pins the numerics unless RQL4J_NUMERICS=native (pom.xml, profile pinned-numerics). */
  @Test
  void theTestJvmRunsWhatItsEnvironmentAsksFor() {
    boolean askedNative = "native".equals(System.getenv(Numerics.ENV));
    boolean x86 = System.getProperty("os.arch").equals("amd64");
    assertEquals(x86 && !askedNative, Numerics.pinned(), Numerics.line());
    assertEquals(Numerics.pinned() ? "pinned" : "native", Numerics.describe().get("numerics"));
    assertNull(Numerics.mismatchWarning(), "the test JVM's environment is consistent");
  }

  @Test
  void askingForPinsWithoutSettingThemIsNamed() {
    Map<String, String> env = new HashMap<>(Numerics.PINNED);
    env.put(Numerics.ENV, "pinned");
    assertTrue(Numerics.pinned(env));
    assertNull(Numerics.mismatchWarning(env));
    env.remove("MKL_CBWR");
    env.put("ATEN_CPU_CAPABILITY", "avx512");
    String w = Numerics.mismatchWarning(env);
    assertTrue(w != null && w.contains("ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE")
        && w.contains("docs/reproducibility.md"), w);
    env.put(Numerics.ENV, "native");
    assertNull(Numerics.mismatchWarning(env), "native asks for nothing");
  }

  @Test
  void theLineNamesTheSettingsAndTheCpu() {
    String line = Numerics.line();
    assertTrue(line.startsWith("numerics ") && line.contains("MKL_CBWR=") && line.contains("ATEN_CPU_CAPABILITY=")
        && line.contains(", CPU "), line);
  }
}
