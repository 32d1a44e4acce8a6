package org.rql4j.cli;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MainOptionsTest {

  @Test
  void knownOptionsPass() {
    assertDoesNotThrow(() -> Main.checkOptions("customize", new String[] {"--task", "parking-boundary",
        "--prior-weight", "0.1", "--resume", "--out", "x"}));
    assertDoesNotThrow(() -> Main.checkOptions("mcts", new String[] {"--simulations", "20", "--transport", "py4j"}));
    assertDoesNotThrow(() -> Main.checkOptions("demo", new String[] {}));
  }

  @Test
  void aTypoOrAnotherCommandsOptionIsNamed() {
    IllegalArgumentException typo = assertThrows(IllegalArgumentException.class,
        () -> Main.checkOptions("customize", new String[] {"--prior-wieght", "0.3"}));
    assertTrue(typo.getMessage().contains("--prior-wieght") && typo.getMessage().contains("--prior-weight"),
        typo.getMessage());
    IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
        () -> Main.checkOptions("results", new String[] {"--simulations", "20"}));
    assertTrue(other.getMessage().contains("--simulations") && other.getMessage().contains("'results'"),
        other.getMessage());
  }

  @Test
  void aStrayValueIsNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Main.checkOptions("customize", new String[] {"--steps", "1000", "2000"}));
    assertTrue(e.getMessage().contains("'2000'"), e.getMessage());
  }
}
