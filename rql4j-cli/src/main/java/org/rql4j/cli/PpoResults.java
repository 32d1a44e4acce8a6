package org.rql4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rql4j.learner.ResidualPpoConfig;
import org.rql4j.train.Evaluator;
import org.rql4j.train.MarkedSections;

/**
 * {@code rql4j ppo-results}: the residual policy-gradient table of a MuJoCo task (docs/tasks.md):
 * prior alone / residual PPO / KL-regularized PPO / oracle PPO on the total reward / PPO on the
 * add-on reward, over seeds, each run a child JVM of {@code rql4j ppo} with its own folder
 * (finished runs are reused, unfinished ones resumed); writes its section of docs/results.md.
 */
final class PpoResults {

  private PpoResults() {}

  private record Job(String row, String baseline, long seed, Path out, List<String> extra) {}

  static void run(String[] args) throws IOException {
    Opts o = Commands.parse("ppo-results", args);
    String task = o.text("--task", "halfcheetah-speedcap");
    long steps = o.whole("--steps", 1_000_000);
    int episodes = (int) o.whole("--eval-episodes", 20);
    String[] seeds = o.text("--seeds", "0,1,2").split(",");
    String[] rows = o.text("--rows", String.join(",", PpoRun.BASELINES)).split(",");
    String w = o.text("--prior-weight", Customize.number(PpoRun.RESIDUAL_W));
    String alpha = o.text("--alpha-hat", Customize.number(PpoRun.RESIDUAL_ALPHA));
    String beta = o.text("--beta", Customize.number(PpoRun.KL_BETA));
    String lrOpt = o.text("--learning-rate", null);
    String bonusOpt = o.text("--survival-bonus", null);
    if (bonusOpt != null) {
      bonusOpt = Customize.number(Customize.parseWeight(bonusOpt, "--survival-bonus"));
    }
    String init = o.text("--init-from-prior", "yes");
    int parallel = (int) o.whole("--parallel", 1);
    if (parallel < 1) {
      throw new IllegalArgumentException("--parallel must be >= 1, got " + parallel);
    }
    if (!init.equals("yes") && !init.equals("no")) {
      throw new IllegalArgumentException("--init-from-prior must be yes or no, got '" + init + "'");
    }
    if (java.util.Arrays.stream(seeds).map(String::trim).distinct().count() != seeds.length) {
      throw new IllegalArgumentException("--seeds lists a seed twice: " + String.join(",", seeds));
    }
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    Path priorDir = root.resolve("examples/priors/" + task + "-ppo");
    Path outRoot = Path.of(o.text("--out", root.resolve("target/results/" + task + "-ppo-" + steps)
        .toString()));
    String command = "bin/rql4j ppo-results " + String.join(" ", args);
    String initText = init.equals("yes") ? ", pi_theta initialized from the prior" : ", pi_theta from scratch";
    String lrText = ", lr " + (lrOpt != null ? lrOpt : init.equals("yes") ? Customize.number(PpoRun.FINE_TUNE_LR)
        : Customize.number(ResidualPpoConfig.mujoco().learningRate()));
    List<Job> jobs = new ArrayList<>();
    for (String row : rows) {
      row = row.trim();
      String name;
      List<String> extra = new ArrayList<>();
      String folder;
      switch (row) {
        case "residual" -> {
          name = "residual PPO, w = " + w + ", alphaHat = " + alpha + initText + lrText;
          extra.addAll(List.of("--prior-weight", w, "--alpha-hat", alpha, "--init-from-prior", init));
          folder = "residual-w" + w + "-a" + alpha + (init.equals("yes") ? "" : "-scratch");
        }
        case "kl" -> {
          name = "KL-regularized PPO, beta = " + beta + initText + lrText;
          extra.addAll(List.of("--beta", beta, "--init-from-prior", init));
          folder = "kl-b" + beta + (init.equals("yes") ? "" : "-scratch");
        }
        case "oracle" -> {
          name = "oracle: PPO from scratch on the total reward";
          folder = "oracle";
        }
        case "addon-only" -> {
          name = "add-on only: PPO from scratch on the add-on reward";
          folder = "addon-only";
        }
        default -> throw new IllegalArgumentException("--rows takes " + PpoRun.BASELINES + ", got '" + row + "'");
      }
      // the learning rate applies to the rows that start from the prior (fine-tuning); scratch rows keep SB3's
      if (lrOpt != null && (row.equals("residual") || row.equals("kl"))) {
        extra.addAll(List.of("--learning-rate", lrOpt));
        folder += "-lr" + lrOpt;
      }
      if (bonusOpt != null && !bonusOpt.equals("0") && (row.equals("residual") || row.equals("kl"))) {
        extra.addAll(List.of("--survival-bonus", bonusOpt));
        folder += "-sb" + bonusOpt;
        name += ", survival bonus " + bonusOpt;
      }
      for (String seed : seeds) {
        jobs.add(new Job(name, row, Long.parseLong(seed.trim()), outRoot.resolve(folder + "-seed" + seed.trim()),
            extra));
      }
    }
    System.out.printf(Locale.ROOT, "rql4j ppo-results: %d runs of %d env steps on %s, %d at a time; run folders "
        + "(resumable: rerun the same command to continue) under %s%n", jobs.size(), steps, task, parallel, outRoot);
    long t0 = System.nanoTime();
    List<java.util.concurrent.Callable<Customize.Result>> calls = new ArrayList<>();
    for (Job job : jobs) {
      calls.add(() -> runJob(task, steps, episodes, priorDir, job));
    }
    List<Customize.Result> results = Results.runAll(calls, parallel, outRoot);
    Map<String, List<Evaluator.Episode>> table = new LinkedHashMap<>();
    Map<String, List<Double>> seconds = new LinkedHashMap<>();
    Map<String, List<String>> perSeed = new LinkedHashMap<>();
    for (int k = 0; k < jobs.size(); k++) {
      Job job = jobs.get(k);
      Customize.Result r = results.get(k);
      table.putIfAbsent("prior alone", new ArrayList<>(r.prior().episodes()));
      table.computeIfAbsent(job.row(), x -> new ArrayList<>()).addAll(r.learned().episodes());
      seconds.computeIfAbsent(job.row(), x -> new ArrayList<>()).add(r.seconds());
      perSeed.computeIfAbsent(job.row(), x -> new ArrayList<>()).add(String.format(Locale.ROOT, "%.0f / %.1f",
          r.learned().mean(Evaluator.Episode::basicReturn), r.learned().mean(Evaluator.Episode::addonReturn)));
    }
    double minutes = (System.nanoTime() - t0) / 60e9;
    ResidualPpoConfig base = ResidualPpoConfig.mujoco().withTotalSteps(steps);
    StringBuilder md = new StringBuilder();
    md.append("## ").append(task).append(" (residual policy gradient: PPO, ").append(steps)
        .append(" env steps per run)\n\n");
    md.append("Command: `").append(command).append("` (").append(String.format(Locale.ROOT, "%.0f", minutes))
        .append(" min wall on our 2-core machine, runs already finished reused; ").append(Instant.now())
        .append("). Seeds ").append(String.join(", ", seeds)).append("; each row pools ").append(episodes)
        .append(" evaluation episodes per seed (reset seeds 10000..), deterministic policies (the Gaussian's mean, "
            + "clipped to the Box), on the task's total variant; mean ± std over all pooled episodes. PPO settings: ")
        .append(base).append(" (the rows from the prior's network: the learning rate their names say). Prior: ")
        .append("`examples/priors/").append(task).append("-ppo` (SB3 PPO on the basic reward). Per seed: mean basic / ")
        .append("add-on return of each seed's ").append(episodes).append(" episodes.\n\n");
    md.append("| policy | basic return | add-on return | length | per seed (basic / add-on) | train s / run |\n")
        .append("|---|---|---|---|---|---|\n");
    table.forEach((name, eps) -> {
      List<Double> secs = seconds.get(name);
      String time = secs == null ? "" : String.format(Locale.ROOT, "%.0f",
          secs.stream().mapToDouble(d -> d).average().orElse(0));
      md.append(new Evaluator.Summary(eps).markdownRow(name)).append(" ")
          .append(String.join("; ", perSeed.getOrDefault(name, List.of()))).append(" | ").append(time).append(" |\n");
    });
    String section = md.toString();
    System.out.println("\n" + section);
    System.out.println("learning curves: .venv/bin/rql4j-bridge plot " + outRoot + "/* --out " + outRoot
        + "/curves.png");
    Path doc = Path.of(o.text("--doc", root.resolve("docs/results.md").toString()));
    MarkedSections.write(doc, "results-" + task + "-ppo", section, Results.DOC_HEADER);
  }

  /** One job in a child JVM (DJL allows one GradientCollector per JVM at a time): its folder's result. */
  private static Customize.Result runJob(String task, long steps, int episodes, Path priorDir, Job job)
      throws IOException, InterruptedException {
    String tag = "[" + job.out().getFileName() + "] ";
    List<String> childArgs = new ArrayList<>(List.of("--task", task, "--baseline", job.baseline(), "--prior",
        priorDir.toString(), "--steps", Long.toString(steps), "--seed", Long.toString(job.seed()), "--eval-episodes",
        Integer.toString(episodes), "--out", job.out().toString(), "--resume"));
    childArgs.addAll(job.extra());
    Customize.Result done = PpoRun.finishedWith(childArgs.toArray(String[]::new));
    if (done != null) {
      System.out.println(tag + "finished earlier: " + done.learned().markdownRow(job.row()));
      return done;
    }
    List<String> command = new ArrayList<>(List.of("ppo"));
    command.addAll(childArgs);
    int code = Results.runChild(command, tag);
    Customize.Result result = PpoRun.finishedWith(childArgs.toArray(String[]::new));
    if (code != 0 || result == null) {
      throw new CommandException("run " + job.out() + " exited with code " + code + " (its output is above, "
          + "prefixed " + tag.trim() + ")", null);
    }
    return result;
  }
}
