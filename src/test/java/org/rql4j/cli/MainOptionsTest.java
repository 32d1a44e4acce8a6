package org.rql4j.cli;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MainOptionsTest {

  @Test
  void knownOptionsPass() {
    assertDoesNotThrow(() -> Commands.parse("customize", new String[] {"--task", "parking-boundary",
        "--prior-weight", "0.1", "--resume", "--out", "x"}));
    assertDoesNotThrow(() -> Commands.parse("mcts", new String[] {"--simulations", "20", "--transport", "py4j"}));
    assertDoesNotThrow(() -> Commands.parse("demo", new String[] {}));
  }

  @Test
  void aTypoOrAnotherCommandsOptionIsNamed() {
    IllegalArgumentException typo = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("customize", new String[] {"--prior-wieght", "0.3"}));
    assertTrue(typo.getMessage().contains("--prior-wieght") && typo.getMessage().contains("--prior-weight")
        && typo.getMessage().contains("rql4j customize --help"),
        typo.getMessage());
    IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("results", new String[] {"--simulations", "20"}));
    assertTrue(other.getMessage().contains("--simulations") && other.getMessage().contains("rql4j results --help"),
        other.getMessage());
  }

  @Test
  void aStrayValueIsNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("customize", new String[] {"--steps", "1000", "2000"}));
    assertTrue(e.getMessage().contains("2000"), e.getMessage());
  }

  @Test
  void aMissingValueOrARepeatedOptionIsNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("customize", new String[] {"--prior", "--steps", "1000"}));
    assertTrue(e.getMessage().contains("--prior"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("customize", new String[] {"--steps", "1000", "--out"}));
    assertTrue(e.getMessage().contains("Missing required parameter for option '--out'"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("customize", new String[] {"--seed", "1", "--seed", "2"}));
    assertTrue(e.getMessage().contains("--seed") && e.getMessage().contains("should be specified only once"),
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Commands.parse("customize", new String[] {"--steps", "many"}));
    assertTrue(e.getMessage().contains("--steps") && e.getMessage().contains("many"), e.getMessage());
    assertDoesNotThrow(() -> Commands.parse("customize", new String[] {"--env-id", "E-v0", "--import", "a",
        "--import", "b", "--alpha-hat", "-1"}));
  }
}
