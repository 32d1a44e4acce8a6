package org.rql4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.train.Evaluator;
import org.rql4j.train.MarkedSections;

/**
 * {@code rql4j results}: the customization table of a discrete task (docs/tasks.md, "How a result
 * is reported"): prior alone / residual customized / oracle (soft DQN on the total reward) /
 * add-on only, over seeds, for one or more priors; writes its section of docs/results.md.
 */
final class Results {

  private Results() {}

  static void run(String[] args) throws IOException {
    String task = Customize.option(args, "--task", "cartpole-center");
    long steps = Main.option(args, "--steps", 100_000);
    int episodes = (int) Main.option(args, "--eval-episodes", 20);
    String[] seeds = Customize.option(args, "--seeds", "0,1,2").split(",");
    String[] priors = Customize.option(args, "--priors", "softdqn,bc").split(",");
    String[] weights = Customize.option(args, "--prior-weights", "1").split(",");
    boolean baselines = !Customize.option(args, "--baselines", "yes").equals("no");
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    String command = "bin/rql4j results " + String.join(" ", args);
    long t0 = System.nanoTime();
    Map<String, List<Evaluator.Episode>> rows = new LinkedHashMap<>();
    Map<String, List<Double>> trainSeconds = new LinkedHashMap<>();
    try (PythonServer server = PythonServer.start(); GrpcEnvClient client = server.connect()) {
      for (String priorName : priors) {
        Path dir = root.resolve("examples/priors/" + task + "-" + priorName);
        try (TorchScriptPrior prior = TorchScriptPrior.load(dir)) {
          for (String w : weights) {
            for (String seed : seeds) {
              ResidualSoftQConfig cfg = config(task, steps, Long.parseLong(seed.trim())).withPriorWeight(Float.parseFloat(w));
              Customize.Result r = Customize.customize(client, prior, task, "residual", cfg, episodes, p -> { });
              // the prior's evaluation does not depend on the training seed: one copy per prior
              rows.putIfAbsent("prior alone: " + priorName, new ArrayList<>(r.prior().episodes()));
              String name = "residual, " + priorName + " prior, w = " + w;
              rows.computeIfAbsent(name, k -> new ArrayList<>()).addAll(r.learned().episodes());
              trainSeconds.computeIfAbsent(name, k -> new ArrayList<>()).add(r.seconds());
              System.out.println(name + ", seed " + seed + ": " + r.learned().markdownRow(name) + String.format(
                  Locale.ROOT, " (%.0f s)", r.seconds()));
            }
          }
          if (baselines && priorName.equals(priors[0])) {
            for (String baseline : new String[] {"oracle", "addon-only"}) {
              for (String seed : seeds) {
                ResidualSoftQConfig cfg = config(task, steps, Long.parseLong(seed.trim())).withPriorWeight(0);
                Customize.Result r = Customize.customize(client, prior, task, baseline, cfg, episodes, p -> { });
                String name = baseline.equals("oracle") ? "oracle: soft DQN on the total reward" : "add-on only: soft DQN on the add-on reward";
                rows.computeIfAbsent(name, k -> new ArrayList<>()).addAll(r.learned().episodes());
                trainSeconds.computeIfAbsent(name, k -> new ArrayList<>()).add(r.seconds());
                System.out.println(name + ", seed " + seed + ": " + r.learned().markdownRow(name));
              }
            }
          }
        }
      }
    }
    double minutes = (System.nanoTime() - t0) / 60e9;
    StringBuilder md = new StringBuilder();
    md.append("## ").append(task).append(" (residual soft Q-learning, ").append(steps).append(" env steps per run)\n\n");
    md.append("Command: `").append(command).append("` (").append(String.format(Locale.ROOT, "%.0f", minutes))
        .append(" min wall on our 2-core machine, ").append(Instant.now()).append("). Seeds ").append(String.join(", ", seeds))
        .append("; each row pools ").append(episodes).append(" evaluation episodes per seed (reset seeds 10000..), ")
        .append("deterministic policies, on the task's total variant; mean ± std over all pooled episodes. ")
        .append("Reference hyperparameters of docs/tasks.md; alphaHat 1.\n\n");
    md.append("| policy | basic return | add-on return | length | train s / run |\n|---|---|---|---|---|\n");
    rows.forEach((name, eps) -> {
      List<Double> secs = trainSeconds.get(name);
      String time = secs == null ? "" : String.format(Locale.ROOT, "%.0f", secs.stream().mapToDouble(d -> d).average().orElse(0));
      md.append(new Evaluator.Summary(eps).markdownRow(name)).append(" ").append(time).append(" |\n");
    });
    String section = md.toString();
    System.out.println("\n" + section);
    MarkedSections.write(root.resolve("docs/results.md"), "results-" + task + "-" + String.join("-", priors) + "-w"
        + String.join("-", weights), section,
        "# Results\n\nCustomization results for the paper's tasks (docs/tasks.md). Each section names the command "
            + "that made it.\n");
  }

  private static ResidualSoftQConfig config(String task, long steps, long seed) {
    ResidualSoftQConfig base = task.startsWith("highway") ? ResidualSoftQConfig.highway() : ResidualSoftQConfig.cartpole();
    return base.withTotalSteps(steps).withSeed(seed);
  }
}
