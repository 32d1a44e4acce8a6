package org.rql4j.cli;

import static org.rql4j.cli.Opts.flag;
import static org.rql4j.cli.Opts.many;
import static org.rql4j.cli.Opts.text;
import static org.rql4j.cli.Opts.whole;
import static org.rql4j.cli.Opts.wholes;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;

/** The commands of {@code rql4j} and their options: one table, which picocli parses against and writes the help of. */
final class Commands {

  private Commands() {}

  /** MCTS simulations per decision. */
  static final Opts.Range SIMULATIONS = new Opts.Range(1, 1_000_000);
  /** MCTS search depth. */
  static final Opts.Range HORIZON = new Opts.Range(1, 1_000);

  private static final List<Opts.Opt> OFF_POLICY_TUNING = List.of(
      text("--prior-weight", "W", "the prior's weight w (default: the task's reference; residual rows only)"),
      text("--alpha-hat", "A", "the temperature: a number, or for SAC auto (learned from 1) / auto_A (learned from A); "
          + "reference: the task's"),
      text("--warm-start", "K", "SAC: env steps of the prior-weight warm start (0: none; reference: the task's)"),
      text("--max-grad-norm", "G", "SAC: clip each network's gradient norm to G (off by default)"),
      text("--prior-min-std", "S", "SAC: floor the prior's pre-tanh std at S in its log-prob (off by default)"));

  private static final List<Opts.Opt> RUN_FOLDER = List.of(
      text("--out", "DIR", "the run folder: config.json, metrics.csv, checkpoint/, policy/, summary.json"),
      text("--checkpoint-dir", "DIR", "checkpoints here instead of DIR/checkpoint"),
      whole("--checkpoint-every", "N", Opts.STEPS, "a checkpoint every N env steps (default: a tenth of the run)"),
      flag("--resume", "continue a stopped or failed run from its last checkpoint"),
      flag("--no-export", "do not export the finished run's policy into DIR/export (rql4j export does it later)"));

  /** Every command's spec, in the order of {@code rql4j --help}. */
  static final Map<String, CommandSpec> SPECS = new LinkedHashMap<>();

  static {
    add("demo", "rql4j demo [--steps N] [--seed S] [--episodes E]",
        "Customize the shipped PyTorch soft-DQN prior on cartpole-center (keep the cart centred) with residual "
            + "soft Q-learning and print the before/after table.",
        List.of(whole("--steps", "N", Opts.STEPS, "env steps to train (default 100000)"),
            whole("--seed", "S", Opts.SEEDS, "the training seed (default 0)"),
            whole("--episodes", "E", Opts.EPISODES, "evaluation episodes (default 20)")));

    List<Opts.Opt> customize = new ArrayList<>(List.of(
        text("--env-id", "ID", "your own env: any Gymnasium id the env server knows"),
        text("--addon", "MODULE:FUNCTION", "with --env-id: your requirement, a reward function the env server "
            + "applies (docs/tasks.md, \"Your own task\")"),
        text("--eval-env-id", "ID", "with --env-id: the env to evaluate on (default: the --env-id with the add-on)"),
        many("--import", "MODULE", "with --env-id: a module the env server imports (one that registers ID); "
            + "repeatable"),
        text("--algo", "softq|sac|ppo", "the learner (default: soft Q-learning for Discrete actions, SAC for Box "
            + "ones; residual PPO for a diagonal-Gaussian prior such as an SB3 PPO's, and the MuJoCo tasks)"),
        text("--task", "T", "a built-in task (docs/tasks.md; default cartpole-center)"),
        text("--config", "FILE", "settings from a YAML or JSON file (docs/run-folder.md), e.g. a run's config.json; "
            + "the options given here override it"),
        text("--prior", "DIR", "the prior package (rql4j-bridge export); default for a built-in task: "
            + "examples/priors/T-softdqn or T-sac"),
        text("--baseline", "residual|oracle|addon-only", "the customization (default) or a baseline without the prior"),
        whole("--steps", "N", Opts.STEPS, "env steps to train (default 100000)"),
        whole("--seed", "S", Opts.SEEDS, "the training seed (default 0)"),
        whole("--eval-episodes", "E", Opts.EPISODES, "evaluation episodes before and after (default 20, seeds 10000..)"),
        whole("--env-workers", "N", Opts.WORKERS, "step the env's copies in N worker processes of the env server at "
            + "the same time (for slow simulators; 0, the default: in the server's own process; with --ray: N Ray "
            + "actors, one per copy by default)"),
        text("--ray", "auto|local|HOST:PORT", "step the env's copies as Ray actors on a Ray cluster (the bridge's ray "
            + "extra; token authentication: RAY_AUTH_MODE=token and RAY_AUTH_TOKEN in the environment; docs/cluster.md)"),
        text("--server", "HOST:PORT", "use an env server you started (`rql4j-bridge serve`, e.g. on a cluster's head "
            + "node) instead of starting one; its secret from the environment variable RQL4J_BRIDGE_TOKEN"),
        text("--kl-budget", "NATS|auto|none", "let the temperature follow a budget of KL(customized || prior) per step, "
            + "with w = alphaHat, instead of --prior-weight (--alpha-hat: where it starts; not with SAC's auto; "
            + "docs/tuning.md). auto: " + org.rql4j.learner.KlBudget.DEFAULT_NATS
            + " nats per step times the cube root of the action dimensions (a sure categorical prior flattened "
            + "first), the default for your own task (--env-id) "
            + "when no weights are given; none: no budget (the weights)"),
        text("--greedy-share", "SHARE", "with a KL budget, Discrete actions: also keep the deterministic policy's "
            + "action the prior's most likely one in all but SHARE of the states (e.g. 0.05; docs/tuning.md)")));
    customize.addAll(OFF_POLICY_TUNING);
    customize.addAll(RUN_FOLDER);
    add("customize", "rql4j customize (--env-id ID --prior DIR [--addon MODULE:FUNCTION] | --task T) [options]",
        """
            Customize a prior policy for a requirement, then evaluate it (basic and add-on returns, before \
            and after).

            Your own: --env-id ID --prior DIR --addon MODULE:FUNCTION, the function in a Python module in the \
            working directory or on PYTHONPATH (docs/tasks.md, "Your own task"); the learner trains on the add-on \
            reward alone. Without --addon, ID is an env that returns the add-on reward (e.g. registered with \
            register_task in an --import'ed module) and --eval-env-id its total-reward variant.

            Built in: --task T, with the task's reference hyperparameters (docs/tasks.md): residual soft \
            Q-learning for cartpole-center and highway-rightlane, residual SAC for mountaincar-lessleft and \
            parking-boundary.

            With --out, checkpoints go to DIR/checkpoint every tenth of the run; --resume continues a stopped \
            or failed run.""",
        customize);

    List<Opts.Opt> results = new ArrayList<>(List.of(
        text("--task", "T", "a built-in task (default cartpole-center)"),
        text("--env-id", "ID", "your own env instead (with --addon, --prior; as in customize)"),
        text("--addon", "MODULE:FUNCTION", "with --env-id: your requirement"),
        text("--eval-env-id", "ID", "with --env-id: the env to evaluate on"),
        many("--import", "MODULE", "with --env-id: a module the env server imports; repeatable"),
        text("--prior", "DIR", "with --env-id: your prior package"),
        text("--algo", "softq|sac", "with --env-id: the learner (default: from the action space)"),
        text("--priors", "NAMES", "comma-separated shipped priors of the task (default softdqn,bc or sac)"),
        wholes("--seeds", "LIST", Opts.SEEDS, "comma-separated training seeds (default 0,1,2)"),
        whole("--steps", "N", Opts.STEPS, "env steps per run (default 100000)"),
        text("--prior-weights", "LIST", "one residual row per prior weight"),
        text("--alpha-hats", "LIST", "the residual rows' temperatures, one per prior weight"),
        text("--baselines", "yes|no", "add the oracle and add-on-only rows (default yes)"),
        whole("--eval-episodes", "E", Opts.EPISODES, "evaluation episodes per run (default 20)"),
        whole("--parallel", "P", Opts.PARALLEL, "runs at a time, each in its own JVM and env server (default 1)"),
        text("--out", "DIR", "where the runs' folders go (default target/results/T-N)"),
        text("--doc", "FILE", "the results file to write the section to (default docs/results.md)"),
        text("--warm-start", "K", "SAC: env steps of the prior-weight warm start"),
        text("--max-grad-norm", "G", "SAC residual rows: gradient-norm clip"),
        text("--prior-min-std", "S", "SAC residual rows: the prior's std floor"),
        text("--config", "FILE", "learner settings for every row from a YAML or JSON file's 'config' mapping (e.g. "
            + "numEnvs, trainFrequency; docs/run-folder.md); steps, seeds and weights are this command's options"),
        whole("--env-workers", "N", Opts.WORKERS, "step each run's env copies in N worker processes of its env "
            + "server (0, the default: in the server's own process)")));
    add("results", "rql4j results (--task T | --env-id ID --addon MODULE:FUNCTION --prior DIR) [options]",
        """
            Run a task's results table (prior / customized / oracle / add-on only over seeds; one residual row \
            per prior and prior weight) and write its section of docs/results.md. Each run keeps its folder \
            under --out: rerunning the same command reuses finished runs and resumes the others.""",
        results);

    List<Opts.Opt> ppo = new ArrayList<>(List.of(
        text("--task", "T", "halfcheetah-speedcap (default), hopper-height or ant-energy"),
        text("--baseline", "residual|kl|oracle|addon-only", "the row to train (default residual)"),
        text("--prior", "DIR", "the prior package (default examples/priors/T-ppo)"),
        whole("--steps", "N", Opts.STEPS, "env steps to train (default 1000000)"),
        whole("--seed", "S", Opts.SEEDS, "the training seed (default 0)"),
        text("--prior-weight", "W", "residual: the prior's weight (default 0.5)"),
        text("--alpha-hat", "A", "residual: the policy's entropy weight (default 0.25)"),
        text("--beta", "B", "kl: the KL weight (default 0.5)"),
        text("--init-from-prior", "yes|no", "start from a copy of the prior's network (default yes)"),
        text("--learning-rate", "L", "the learning rate (default 1e-4 from the prior, 3e-4 from scratch)"),
        text("--normalize-observations", "yes|no", "normalize observations (only with --init-from-prior no)"),
        text("--survival-bonus", "BONUS", "residual and kl: a constant added to every step's shaped reward"),
        text("--kl-budget", "NATS|auto", "residual: let the temperature follow a budget of KL(pi_theta || prior) "
            + "per step, with w = alphaHat (auto: " + org.rql4j.learner.KlBudget.DEFAULT_NATS
            + " nats times the cube root of the action dimensions; --alpha-hat: where it "
            + "starts; docs/tuning.md)"),
        whole("--eval-episodes", "E", Opts.EPISODES, "evaluation episodes (default 20)")));
    ppo.addAll(RUN_FOLDER);
    add("ppo", "rql4j ppo --task T [options]",
        """
            Residual policy gradient (PPO) on a MuJoCo task: residual PPO (reward r_addon + W log pi - A log \
            pi_theta), KL-regularized PPO, or PPO from scratch on the total (oracle) or the add-on reward; then \
            the prior and the learned policy on the task's total variant.""",
        ppo);

    add("ppo-results", "rql4j ppo-results --task T [options]",
        "The residual policy-gradient table of a MuJoCo task: each row's runs (child JVMs of 'ppo', P at a time), "
            + "pooled evaluations, its section of docs/results.md. Rerunning reuses finished runs.",
        List.of(text("--task", "T", "halfcheetah-speedcap (default), hopper-height or ant-energy"),
            whole("--steps", "N", Opts.STEPS, "env steps per run (default 1000000)"),
            wholes("--seeds", "LIST", Opts.SEEDS, "comma-separated training seeds (default 0,1,2)"),
            text("--rows", "LIST", "rows among residual,kl,oracle,addon-only (default all)"),
            text("--prior-weight", "W", "residual rows' prior weight"),
            text("--alpha-hat", "A", "residual rows' entropy weight"),
            text("--beta", "B", "kl rows' KL weight"),
            text("--learning-rate", "L", "residual and kl rows' learning rate"),
            text("--init-from-prior", "yes|no", "start from a copy of the prior's network (default yes)"),
            text("--survival-bonus", "BONUS", "residual and kl rows' survival bonus"),
            whole("--eval-episodes", "E", Opts.EPISODES, "evaluation episodes per run (default 20)"),
            whole("--parallel", "P", Opts.PARALLEL, "runs at a time (default 1)"),
            text("--out", "DIR", "where the runs' folders go"),
            text("--doc", "FILE", "the results file (default docs/results.md)")));

    add("mcts", "rql4j mcts --task highway-rightlane [options]",
        """
            Zero-shot customization by residual max-ent tree search (no training): the prior alone / plain \
            max-ent MCTS / residual MCTS over seeded episodes, with returns, crash rate and decision latency; \
            writes its section of docs/results.md. Finished episodes are kept under --out: rerunning continues.""",
        List.of(text("--task", "T", "highway-rightlane (default) or cartpole-center"),
            text("--rows", "LIST", "rows among prior,plain,residual (default all)"),
            whole("--episodes", "E", Opts.EPISODES, "episodes per row (default 10)"),
            whole("--simulations", "S", SIMULATIONS, "simulations per decision (default 150)"),
            whole("--horizon", "H", HORIZON, "search depth (default 6)"),
            text("--gamma", "G", "discount (default 0.8)"),
            text("--prior-weight", "W", "the prior's weight (default 1)"),
            text("--alpha-hat", "A", "the temperature (default 1)"),
            text("--eps", "X", "exploration (default 1)"),
            whole("--seed", "S", Opts.SEEDS, "the first episode seed (default 0)"),
            text("--prior", "DIR", "the prior package (default examples/priors/T-softdqn)"),
            whole("--parallel", "P", Opts.PARALLEL, "rows at a time (default 1)"),
            whole("--workers", "K", Opts.WORKERS, "search each decision as K trees at once, root-parallel, each on its "
                + "own env copy in a worker process of the env server, with the same simulations in all (default 1: "
                + "one tree, in the server's process)"),
            text("--ray", "auto|local|HOST:PORT", "with --workers: the env copies as Ray actors on a Ray cluster "
                + "(docs/cluster.md)"),
            text("--transport", "grpc|py4j", "the env bridge (default grpc)"),
            text("--out", "DIR", "where the episodes go"),
            text("--doc", "FILE", "the results file (default docs/results.md)")));
  }

  /** Adds a command with its options and the global {@code --debug}, which every command accepts. */
  private static void add(String name, String synopsis, String description, List<Opts.Opt> opts) {
    List<Opts.Opt> all = new ArrayList<>(opts);
    all.add(flag(Main.DEBUG, "on an error, print its stack trace too (also accepted before the command: "
        + "rql4j --debug " + name + " ...)"));
    SPECS.put(name, Opts.spec(name, synopsis, description, all));
  }

  static {
    add("export", "rql4j export RUN_DIR --out DIR [--no-onnx]",
        "Write a finished run's customized policy as a self-contained folder to deploy or customize again: the "
            + "whole policy as one TorchScript module (a prior package, rql4j-prior/1), policy.onnx, "
            + "weights.safetensors and a copy of its prior (docs/export.md). Python loads it with "
            + "rql4j_bridge.load_policy(DIR). Needs the bridge's priors and export extras.",
        List.of(text("--out", "DIR", "the folder to write (new, or empty)"),
            flag("--no-onnx", "skip policy.onnx")));
    Opts.positional(SPECS.get("export"), "RUN_DIR", "the run folder (customize --out) or its policy/ folder");
    add("evaluate", "rql4j evaluate POLICY_DIR [--env-id ID] [--episodes N] [--addon MODULE:FUNCTION] [--video FILE]",
        "Run an exported customized policy and the prior it was customized from side by side on the same seeds "
            + "(10000..; deterministic): both reward columns for each, the KL between them and, with --video, one "
            + "episode of each recorded side by side (docs/export.md). Runs in Python: the bridge's priors extra, "
            + "and its video extra for --video.",
        List.of(text("--env-id", "ID", "the Gymnasium id (default: the run's evaluation env, recorded in the folder)"),
            whole("--episodes", "N", Opts.EPISODES, "episodes per policy (default 20)"),
            text("--addon", "MODULE:FUNCTION", "an add-on reward applied over the env (default: the run's, unless the "
                + "env reports both parts itself)"),
            many("--import", "MODULE", "a module to import first (one that registers ID); repeatable"),
            text("--video", "FILE", "record one episode of each, side by side, into this new .gif or .mp4")));
    Opts.positional(SPECS.get("evaluate"), "POLICY_DIR", "an exported policy: a run's export/ folder, or rql4j "
        + "export's --out");
    add("inspect-prior", "rql4j inspect-prior PRIOR_DIR --env-id ID [--addon MODULE:FUNCTION] [--import MODULE] "
            + "[--episodes N]",
        "Check a prior package on the env you mean to customize it on, before training: that its spaces fit the "
            + "env's, that the env runs and the add-on returns a finite number after every step; then how sure the "
            + "prior is on its own states (entropy, spread of its log-probabilities; a warning when it is nearly "
            + "deterministic) and its basic / add-on returns (docs/usage.md). Runs in Python: the bridge's priors "
            + "extra.",
        List.of(text("--env-id", "ID", "the Gymnasium id to customize on (required)"),
            text("--addon", "MODULE:FUNCTION", "your requirement, a reward function called after every step"),
            many("--import", "MODULE", "a module to import first (one that registers ID); repeatable"),
            whole("--episodes", "N", Opts.EPISODES, "episodes sampled from the prior, and as many deterministic ones "
                + "(default 3)"),
            whole("--max-steps", "N", new Opts.Range(1, Integer.MAX_VALUE), "steps in all of each (sampled, deterministic) (default 2000)"),
            whole("--seed", "S", Opts.SEEDS, "the first sampled episode's seed (default 0)")));
    Opts.positional(SPECS.get("inspect-prior"), "PRIOR_DIR", "a prior package: prior.json and policy.pt");
  }

  /** {@code args} of {@code command} parsed against its table; an IllegalArgumentException naming what does not fit. */
  static Opts parse(String command, String[] args) {
    return Opts.parse(SPECS.get(command), args);
  }
}
