package org.rql4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rql4j mcts} end to end, tiny: the prior and the residual search evaluated through the
 * library's {@link org.rql4j.train.Evaluator} on cartpole-center's total variant, each episode
 * appended to its row's file, the table in the results document, and a rerun that reuses them.
 */
class MctsTableIT {

  @Test
  void rowsAreEvaluatedWrittenAndReusedOnARerun(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("mcts");
    Path doc = tmp.resolve("results.md");
    String[] args = {"--task", "cartpole-center", "--rows", "prior,residual", "--episodes", "1", "--simulations", "2",
        "--horizon", "2", "--out", out.toString(), "--doc", doc.toString()};
    MctsTable.run(args);
    List<MctsTable.Episode> prior = MctsTable.read(out.resolve("prior.jsonl"));
    List<MctsTable.Episode> residual = MctsTable.read(out.resolve("residual.jsonl"));
    assertEquals(1, prior.size());
    assertEquals(1, residual.size());
    assertEquals(10_000, residual.get(0).seed(), "the evaluation seeds of every table");
    assertEquals(0, prior.get(0).searchSteps(), "the prior row does not search");
    assertTrue(residual.get(0).searchSteps() >= residual.get(0).length(), "the search stepped the env's copies");
    assertEquals(residual.get(0).length(), residual.get(0).decisionMs().length, "one latency per decision");
    assertTrue(residual.get(0).length() > 0 && !Double.isNaN(residual.get(0).basic())
        && !Double.isNaN(residual.get(0).addon()), "both reward parts reported by the task");
    String table = Files.readString(doc);
    assertTrue(table.contains("| prior alone (greedy soft-DQN prior) |"), table);
    assertTrue(table.contains("| residual max-ent MCTS (prior, add-on reward) |"), table);

    String before = Files.readString(out.resolve("residual.jsonl"));
    MctsTable.run(args); // the same command: every episode finished, nothing searched again
    assertEquals(before, Files.readString(out.resolve("residual.jsonl")));
  }
}
