package example;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.rql4j.bridge.PythonServer;
import org.rql4j.customize.Customization;
import org.rql4j.customize.Task;
import org.rql4j.env.Tensor;
import org.rql4j.learner.Policies;
import org.rql4j.policy.SavablePolicy;
import org.rql4j.train.Evaluator;

/**
 * rql4j as a plain dependency: customizes a shipped CartPole prior for "stay on the left" through the
 * public API, at a small budget (this proves the path, not the learning), then reloads the saved
 * policy on its own and acts with it.
 */
class CustomizeAsADependencyTest {

  @Test
  void customizeAPriorThroughThePublicApi() throws Exception {
    Path prior = Path.of(System.getProperty("consumer.prior"));
    Path here = Path.of("").toAbsolutePath(); // mytasks.py lives here: the env server imports it from here
    Path out = here.resolve("target/run");
    Task task = Task.of("CartPole-v1").withAddon("mytasks:stay_left");
    try (Customization.Result r = Customization.builder(task, prior)
        .optServer(PythonServer.builder().optWorkingDir(here))
        .optSteps(1500).optEvalEpisodes(2).optOutDir(out).build().run()) {
      System.out.println(r.prior().markdownRow("prior alone"));
      System.out.println(r.learned().markdownRow("customized"));
      for (Evaluator.Summary s : new Evaluator.Summary[] {r.prior(), r.learned()}) {
        assertTrue(s.unreported().isEmpty(), "basic and add-on returns both reported");
        double basic = s.mean(Evaluator.Episode::basicReturn);
        assertTrue(basic > 0 && basic <= 500, "CartPole's basic return: " + basic);
      }
      // this project's Python has the bare wheel, without the priors extra (torch): the run's export into
      // out/export fails, and the finished run is saved all the same (below)
      assertNull(r.exportDir(), "no export without torch");
      assertFalse(Files.exists(out.resolve("export")), "nothing half-written");
    }
    assertTrue(Files.isRegularFile(out.resolve("summary.json")));
    try (SavablePolicy policy = Policies.load(out.resolve("policy"))) {
      long action = ((Tensor) policy.act(Tensor.ofFloats(new float[4]), true)).toLongArray()[0];
      assertTrue(action == 0 || action == 1, "a CartPole action: " + action);
    }
  }
}
