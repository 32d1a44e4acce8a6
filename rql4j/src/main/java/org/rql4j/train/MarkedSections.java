package org.rql4j.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a generated section of a markdown document (docs/results.md, docs/benchmarks.md) between
 * {@code <!-- key:start -->} and {@code <!-- key:end -->}, leaving the rest of the document as it is.
 */
public final class MarkedSections {

  private MarkedSections() {}

  /**
   * Replaces the section named {@code key} (or appends it); a missing document is created with
   * {@code header}. Returns the document's path.
   */
  public static Path write(Path doc, String key, String markdown, String header) throws IOException {
    String start = "<!-- " + key + ":start -->";
    String end = "<!-- " + key + ":end -->";
    String section = start + "\n" + markdown.strip() + "\n" + end;
    String existing = Files.exists(doc) ? Files.readString(doc) : header;
    int s = existing.indexOf(start);
    int e = existing.indexOf(end);
    String updated = s >= 0 && e > s
        ? existing.substring(0, s) + section + existing.substring(e + end.length())
        : existing.stripTrailing() + "\n\n" + section + "\n";
    Files.writeString(doc, updated);
    return doc;
  }
}
