package org.rql4j.compat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes a benchmark's section of docs/benchmarks.md between its markers, leaving the rest as it is. */
final class BenchmarkDoc {

  private BenchmarkDoc() {}

  /** Replaces (or appends) the section {@code <!-- key:start --> ... <!-- key:end -->}. */
  static Path writeSection(Path root, String key, String markdown) throws IOException {
    String start = "<!-- " + key + ":start -->";
    String end = "<!-- " + key + ":end -->";
    String section = start + "\n" + markdown.strip() + "\n" + end;
    Path doc = root.resolve("docs/benchmarks.md");
    String existing = Files.exists(doc) ? Files.readString(doc)
        : "# Benchmarks\n\nFigures written by the benchmark programs; each section names its command.\n";
    int s = existing.indexOf(start);
    int e = existing.indexOf(end);
    String updated = s >= 0 && e > s
        ? existing.substring(0, s) + section + existing.substring(e + end.length())
        : existing.stripTrailing() + "\n\n" + section + "\n";
    Files.writeString(doc, updated);
    return doc;
  }
}
