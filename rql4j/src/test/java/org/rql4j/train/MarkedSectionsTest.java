package org.rql4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MarkedSectionsTest {

  @Test
  void createsAppendsAndReplacesInPlace(@TempDir Path dir) throws Exception {
    Path doc = dir.resolve("doc.md");
    MarkedSections.write(doc, "a", "first\n", "# Doc\n");
    assertEquals("# Doc\n\n<!-- a:start -->\nfirst\n<!-- a:end -->\n", Files.readString(doc));
    MarkedSections.write(doc, "b", "other", "# ignored\n");
    Files.writeString(doc, Files.readString(doc) + "\nhand-written note\n");
    MarkedSections.write(doc, "a", "second", "# ignored\n");
    assertEquals("# Doc\n\n<!-- a:start -->\nsecond\n<!-- a:end -->\n\n<!-- b:start -->\nother\n<!-- b:end -->\n"
        + "\nhand-written note\n", Files.readString(doc));
  }
}
