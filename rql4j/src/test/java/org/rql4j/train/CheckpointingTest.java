package org.rql4j.train;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Checkpointing#checkStartable}: a checkpoint folder the first save could not write is refused at the start. */
class CheckpointingTest {

  @Test
  void aWritableFolderPassesAndNothingIsLeftBehind(@TempDir Path tmp) throws Exception {
    Path dir = tmp.resolve("out").resolve("checkpoint");
    assertDoesNotThrow(() -> new Checkpointing(dir, 100, false).checkStartable());
    assertEquals(List.of(), list(tmp), "the probe creates nothing: not even the run folder");
    Files.createDirectories(dir);
    assertDoesNotThrow(() -> new Checkpointing(dir, 100, true).checkStartable());
    assertEquals(List.of(), list(dir), "the probe in the folder itself is deleted");
  }

  @Test
  void aFileWhereAFolderIsNeededIsNamed(@TempDir Path tmp) throws Exception {
    Path file = Files.writeString(tmp.resolve("runs"), "not a folder");
    Path dir = file.resolve("a").resolve("checkpoint");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Checkpointing(dir, 100, false).checkStartable());
    assertTrue(e.getMessage().contains("checkpoint folder " + dir) && e.getMessage().contains(file + " is a file"),
        e.getMessage());
  }

  @Test
  void aFolderWhereNoFileCanBeMadeIsNamed() {
    // /proc takes no new files, even from root
    Assumptions.assumeTrue(Files.isDirectory(Path.of("/proc/self")), "a Linux /proc");
    Path dir = Path.of("/proc/rql4j-run/checkpoint");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Checkpointing(dir, 100, false).checkStartable());
    assertTrue(e.getMessage().startsWith("checkpoint folder " + dir + " cannot be written: creating a file in /proc "
        + "failed") && e.getMessage().contains("--checkpoint-dir"), e.getMessage());
  }

  @Test
  void aReadOnlyFolderIsNamed(@TempDir Path tmp) throws Exception {
    Path out = Files.createDirectory(tmp.resolve("out"));
    Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("r-xr-xr-x"));
    try {
      Assumptions.assumeFalse(Files.isWritable(out), "permissions bind this user (not root)");
      Path dir = out.resolve("checkpoint");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new Checkpointing(dir, 100, false).checkStartable());
      assertTrue(e.getMessage().contains("checkpoint folder " + dir + " cannot be written")
          && e.getMessage().contains("make " + out + " writable"), e.getMessage());
      assertFalse(Files.exists(dir));
    } finally {
      Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
  }

  private static List<String> list(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
