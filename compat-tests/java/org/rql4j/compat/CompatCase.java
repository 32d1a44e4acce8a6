package org.rql4j.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.rql4j.bridge.PythonServer;

/** What the learner compat tests share: case files for a PyTorch reference script, and comparisons. */
final class CompatCase {

  private CompatCase() {}

  static void put(Map<String, Object> arrays, Map<String, long[]> shapes, String name, Object data, long... shape) {
    arrays.put(name, data);
    shapes.put(name, shape);
  }

  /** Runs {@code compat-tests/python/<script> --case caseFile --out out} and reads what it wrote. */
  static RawArrayFile runReference(String script, Path caseFile, Path out) throws Exception {
    Path file = Path.of(System.getProperty("rql4j.project.dir", "."), "compat-tests/python", script);
    Process p = new ProcessBuilder(PythonServer.defaultPython().toString(), file.toString(), "--case",
        caseFile.toString(), "--out", out.toString()).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, script + " failed:\n" + log);
    return RawArrayFile.read(out);
  }

  /** Each weight plus N(0, 0.05^2) noise (targets unlike the online networks). */
  static List<float[]> perturbed(List<float[]> weights, Random rng) {
    List<float[]> out = new java.util.ArrayList<>();
    for (float[] w : weights) {
      float[] c = w.clone();
      for (int i = 0; i < c.length; i++) {
        c[i] += (float) rng.nextGaussian() * 0.05f;
      }
      out.add(c);
    }
    return out;
  }

  static double[] toDoubles(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  /** Same length, and within 1e-5 (absolute, or relative above 1). */
  static void assertClose(double[] expected, double[] actual, String what) {
    assertEquals(expected.length, actual.length, what + ": length");
    PriorCompatIT.assertClose(expected, actual, what);
  }
}
