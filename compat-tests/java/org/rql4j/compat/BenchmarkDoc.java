package org.rql4j.compat;

import java.io.IOException;
import java.nio.file.Path;
import org.rql4j.train.MarkedSections;

/** Writes a benchmark's section of docs/benchmarks.md between its markers, leaving the rest as it is. */
public final class BenchmarkDoc {

  private BenchmarkDoc() {}

  /** Replaces (or appends) the section {@code <!-- key:start --> ... <!-- key:end -->}. */
  public static Path writeSection(Path root, String key, String markdown) throws IOException {
    return MarkedSections.write(root.resolve("docs/benchmarks.md"), key, markdown,
        "# Benchmarks\n\nFigures written by the benchmark programs; each section names its command.\n");
  }
}
