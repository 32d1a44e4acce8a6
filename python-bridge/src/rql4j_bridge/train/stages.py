"""The pipeline's stages as functions (each ``python -m rql4j_bridge.train <command>`` calls one),
and ``pipeline``, which chains them for a task and writes ``examples/priors/``."""

from __future__ import annotations

import json
import re
import shlex
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium

from rql4j_bridge.train.bc import BCConfig, save_bc_checkpoint, train_bc
from rql4j_bridge.train.common import (
    flat_obs,
    library_versions,
    make_env,
    utc_now,
    write_json,
)
from rql4j_bridge.train.demos import collect_demos, load_demos
from rql4j_bridge.train.evaluate import (
    EVAL_EPISODES,
    EVAL_SEED,
    evaluate_act_fn,
    evaluate_package,
    markdown_header,
    markdown_row,
    policy_stats,
    stats_header,
    stats_row,
)
from rql4j_bridge.train.expert import EXPERT_ALGOS, expert_act_fn, load_expert, train_expert
from rql4j_bridge.train.soft_dqn import SoftDQN, SoftDQNConfig

__all__ = [
    "PIPELINES",
    "PipelinePlan",
    "run_bc",
    "run_demos",
    "run_evaluate",
    "run_expert",
    "run_pipeline",
    "run_soft_dqn",
]

DEFAULT_WORK = "target/prior-training"


def _spaces(task: str) -> tuple[gymnasium.Space, gymnasium.Space]:
    env = make_env(task, "basic")
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def _check_discrete(task: str) -> tuple[gymnasium.Space, gymnasium.Space]:
    obs_space, act_space = _spaces(task)
    if not isinstance(act_space, gymnasium.spaces.Discrete):
        raise SystemExit(
            f"{task}: bc / soft-dqn priors here are categorical and need a Discrete action space, got {act_space}"
        )
    if not isinstance(obs_space, gymnasium.spaces.Box):
        raise SystemExit(f"{task}: needs a Box observation space, got {obs_space}")
    return obs_space, act_space


# -------------------------------------------------------------------------------------------------
# Stages
# -------------------------------------------------------------------------------------------------


def run_expert(task: str, algo: str, config: Any, out_zip: str | Path, *, log: Any = print) -> dict[str, Any]:
    """Trains the expert, then evaluates it like a prior (20 seeded total-variant episodes)."""
    log(f"expert: {algo} on {task} (basic reward), {config.total_steps} env steps, seed {config.seed}")
    summary = train_expert(task, algo, config, out_zip)
    summary["evaluation"] = evaluate_act_fn(expert_act_fn(load_expert(summary["zip"], algo)), task)
    log(f"expert: trained in {summary['wall_s']:.1f} s -> {summary['zip']}")
    log(markdown_header())
    log(markdown_row(f"expert ({algo})", summary["evaluation"]))
    write_json(summary["zip"] + ".json", summary)
    return summary


def run_demos(
    task: str, expert_zip: str | Path, n_transitions: int, seed: int, out_npz: str | Path, *, log: Any = print
) -> dict[str, Any]:
    t0 = time.perf_counter()
    summary = collect_demos(expert_act_fn(load_expert(expert_zip)), task, n_transitions, seed, out_npz)
    summary["wall_s"] = time.perf_counter() - t0
    summary["expert"] = str(expert_zip)
    log(
        f"demos: {summary['transitions']} transitions ({summary['complete_episodes']} complete episodes, mean "
        f"basic return {summary['mean_return']:.1f}, mean length {summary['mean_length']:.1f}, actions "
        f"{summary['action_counts']}) in {summary['wall_s']:.1f} s -> {summary['npz']}"
    )
    return summary


def run_bc(
    task: str,
    demos_npz: str | Path,
    config: BCConfig,
    out_dir: str | Path,
    work: str | Path,
    *,
    name: str | None = None,
    made_by: dict[str, Any] | None = None,
    log: Any = print,
) -> dict[str, Any]:
    from rql4j_bridge.prior.package import save_prior_package

    obs_space, act_space = _check_discrete(task)
    obs, actions = load_demos(demos_npz)
    log(f"bc: {len(actions)} demos from {demos_npz}, {config.epochs} epochs, seed {config.seed}")
    module, summary = train_bc(obs, actions, int(act_space.n), config, log=log)
    source = save_bc_checkpoint(module, summary, Path(work) / "bc.pt")
    out = save_prior_package(
        out_dir,
        module,
        name=name or Path(out_dir).name,
        distribution="categorical",
        observation_space=obs_space,
        action_space=act_space,
        source_kind="bc",
        source_file=source,
        made_by={
            "seed": config.seed,
            "task": task,
            "demos": Path(demos_npz).name,
            "config": asdict(config),
            "holdout_accuracy": summary["holdout_accuracy"],
            "train_wall_s": round(summary["wall_s"], 1),
            **(made_by or {}),
        },
    )
    summary["package"] = str(out)
    log(f"bc: held-out accuracy {summary['holdout_accuracy']}, trained in {summary['wall_s']:.1f} s -> {out}")
    return summary


def run_soft_dqn(
    task: str,
    config: SoftDQNConfig,
    out_dir: str | Path,
    work: str | Path,
    *,
    name: str | None = None,
    made_by: dict[str, Any] | None = None,
    log: Any = print,
) -> dict[str, Any]:
    from rql4j_bridge.prior.package import save_prior_package

    obs_space, act_space = _check_discrete(task)
    env = make_env(task, "basic")
    obs_dim = int(flat_obs(obs_space.sample()).shape[0])
    log(f"soft-dqn: {task} (basic reward), {config.total_steps} env steps, alpha {config.alpha}, seed {config.seed}")
    agent = SoftDQN(obs_dim, int(act_space.n), config)
    t0 = time.perf_counter()
    history = agent.train(env, log=log)
    wall = time.perf_counter() - t0
    env.close()
    source = agent.save(Path(work) / "softdqn.pt", task=task)
    last = history[-1] if history else {}
    out = save_prior_package(
        out_dir,
        agent.policy_module(),
        name=name or Path(out_dir).name,
        distribution="categorical",
        observation_space=obs_space,
        action_space=act_space,
        source_kind="soft-dqn",
        source_file=source,
        temperature=config.alpha,
        made_by={
            "seed": config.seed,
            "task": task,
            "config": {**asdict(config), "hidden": list(config.hidden)},
            "train_wall_s": round(wall, 1),
            **(made_by or {}),
        },
    )
    log(f"soft-dqn: trained in {wall:.1f} s -> {out}")
    return {
        "config": asdict(config),
        "wall_s": wall,
        "history": history,
        "final_train": last,
        "package": str(out),
        "source": str(source),
    }


def run_evaluate(
    package: str | Path,
    task: str,
    *,
    episodes: int = EVAL_EPISODES,
    seed: int = EVAL_SEED,
    sample: bool = False,
    log: Any = print,
) -> dict[str, Any]:
    result = evaluate_package(package, task, episodes=episodes, seed=seed, sample=sample)
    log(markdown_header())
    log(markdown_row(result["name"] + (" (sampled)" if sample else ""), result))
    return result


# -------------------------------------------------------------------------------------------------
# The pipeline
# -------------------------------------------------------------------------------------------------


@dataclass
class PipelinePlan:
    """Budgets and hyperparameters of one task's pipeline run."""

    expert_algo: str = "dqn"
    expert_steps: int = 100_000
    demos: int = 50_000
    bc: BCConfig = field(default_factory=BCConfig)
    soft_dqn: SoftDQNConfig = field(default_factory=SoftDQNConfig)
    paper_steps: int | None = None  # the paper's prior budget (env steps), for the README
    notes: str = ""


CARTPOLE_NOTES = """\
- Reward scale: the basic reward `1 - 10|theta|/0.2095` lies in [-9, 1]. The maximum, 500, needs
  theta = 0 at every step; a policy that keeps the pole within ~0.003 rad (0.18 deg) on average
  scores ~425, which is where the expert and both argmax priors land.
- The soft DQN runs at alpha = 1 on the unscaled basic reward with the reference hyperparameters and
  the paper's 1e5 env steps; nothing was changed to make it balance. Its (stochastic, epsilon 0.04)
  training episodes reach the 500-step cap from ~30-35k env steps on. A one-off check of other seeds
  with the same command (not shipped; argmax, same 20 evaluation episodes): seeds 0, 2, 3 balanced
  every episode (basic 423.5, 407.3, 428.0); seed 1 lost some episodes at 493 +- 11 steps (basic
  374.6, add-on -142.6) because the cart drifted off the track (|x| > 2.4), which the basic reward
  does not penalize. The shipped package is seed 0.
- As a max-entropy prior its `pi` is genuinely stochastic (entropy table above) where the pole is
  upright and the Q-gap between pushing left and right is small; sampling it still balances.
- The expert is SB3 DQN, not PPO: with rl-baselines3-zoo's tuned CartPole PPO (1e5 steps), seeds 1
  and 2 converged to dropping the pole as fast as possible (9-10 step episodes, basic return ~ -30;
  seed 0 balanced): a random policy's steps near the end of an episode are strongly negative, so
  "end the episode early" is a local optimum for an on-policy learner. DQN with the same reference
  hyperparameters as the soft DQN balanced on seeds 0, 1, 2 (basic 426.6, 428.0, 419.4; 500 steps).
- The BC prior is a classifier trained on deterministic expert actions: it is nearly deterministic on
  the expert's states (the log-prob of the non-expert action is often below -10). Keep this in mind
  when choosing the prior weight `w` for it (a large `w` makes it almost a hard constraint).
- Neither prior saw the add-on reward (`-|x|/2.4`); their add-on return is whatever drift the
  balancing controller has.
"""

PIPELINES: dict[str, PipelinePlan] = {
    "cartpole-center": PipelinePlan(paper_steps=100_000, notes=CARTPOLE_NOTES),
}


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def run_pipeline(
    task: str,
    seed: int,
    out: str | Path,
    work: str | Path,
    plan: PipelinePlan,
    *,
    command: str,
    readme: bool = True,
    log: Any = print,
) -> dict[str, Any]:
    """expert -> demos -> bc, and soft-dqn; evaluates all three; writes both packages and the README section."""
    out, work = Path(out), Path(work) / task / f"seed{seed}"
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    bc_pkg, sd_pkg = out / f"{task}-bc", out / f"{task}-softdqn"
    expert_zip = work / "expert.zip"
    demos_npz = work / "demos.npz"
    q = shlex.quote

    expert_cfg = replace(EXPERT_ALGOS[plan.expert_algo](), total_steps=plan.expert_steps, seed=seed)
    bc_cfg = replace(plan.bc, seed=seed)
    sd_cfg = replace(plan.soft_dqn, seed=seed)
    stage_cmds = {
        "expert": f"python -m rql4j_bridge.train expert --task {task} --algo {plan.expert_algo} --seed {seed} "
        f"--total-steps {plan.expert_steps} --out {q(str(expert_zip))}",
        "demos": f"python -m rql4j_bridge.train demos --task {task} --expert {q(str(expert_zip))} --seed {seed} "
        f"--n {plan.demos} --out {q(str(demos_npz))}",
        "bc": f"python -m rql4j_bridge.train bc --task {task} --demos {q(str(demos_npz))} --seed {seed} "
        f"--epochs {bc_cfg.epochs} --out {q(str(bc_pkg))} --work {q(str(work))}",
        "soft-dqn": f"python -m rql4j_bridge.train soft-dqn --task {task} --seed {seed} "
        f"--total-steps {sd_cfg.total_steps} --alpha {sd_cfg.alpha} --out {q(str(sd_pkg))} --work {q(str(work))}",
    }

    t0 = time.perf_counter()
    expert = run_expert(task, plan.expert_algo, expert_cfg, expert_zip, log=log)
    expert["stage_wall_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    demos = run_demos(task, expert["zip"], plan.demos, seed, demos_npz, log=log)
    demos["stage_wall_s"] = time.perf_counter() - t0

    provenance = {"command": command, "pipeline_work": str(work)}
    t0 = time.perf_counter()
    bc = run_bc(
        task,
        demos_npz,
        bc_cfg,
        bc_pkg,
        work,
        made_by={
            **provenance,
            "stage_command": stage_cmds["bc"],
            "expert": {
                "algo": plan.expert_algo,
                "config": expert["config"],
                "train_wall_s": round(expert["wall_s"], 1),
            },
            "demos_transitions": plan.demos,
        },
        log=log,
    )
    bc["stage_wall_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    sd_made_by = {**provenance, "stage_command": stage_cmds["soft-dqn"]}
    sd = run_soft_dqn(task, sd_cfg, sd_pkg, work, made_by=sd_made_by, log=log)
    sd["stage_wall_s"] = time.perf_counter() - t0

    bc["evaluation"] = run_evaluate(bc_pkg, task, log=log)
    sd["evaluation"] = run_evaluate(sd_pkg, task, log=log)
    total_wall = time.perf_counter() - t_start
    # Diagnostics (not part of the timed run): the stochastic policies, and how peaked they are
    # on the expert's states.
    bc["evaluation_sampled"] = run_evaluate(bc_pkg, task, sample=True, log=log)
    sd["evaluation_sampled"] = run_evaluate(sd_pkg, task, sample=True, log=log)
    demo_obs, demo_actions = load_demos(demos_npz)
    bc["policy_stats"] = policy_stats(bc_pkg, demo_obs, demo_actions)
    sd["policy_stats"] = policy_stats(sd_pkg, demo_obs, demo_actions)
    log(stats_header())
    log(stats_row(bc_pkg.name, bc["policy_stats"]))
    log(stats_row(sd_pkg.name, sd["policy_stats"]))

    record = {
        "task": task,
        "seed": seed,
        "command": command,
        "stage_commands": stage_cmds,
        "date": utc_now(),
        "versions": library_versions(),
        "wall_s": total_wall,
        "expert": expert,
        "demos": demos,
        "bc": bc,
        "soft_dqn": sd,
        "sizes": {"bc": _dir_size(bc_pkg), "soft_dqn": _dir_size(sd_pkg)},
    }
    write_json(work / "pipeline.json", record)
    log("")
    log(markdown_header())
    log(markdown_row(f"expert ({plan.expert_algo}, not shipped)", expert["evaluation"]))
    log(markdown_row(bc_pkg.name, bc["evaluation"]))
    log(markdown_row(sd_pkg.name, sd["evaluation"]))
    log(f"pipeline: {_fmt_s(total_wall)} in all; record in {work / 'pipeline.json'}")
    if readme:
        write_readme_section(out / "README.md", record, plan)
        log(f"pipeline: wrote {out / 'README.md'}")
    return record


# -------------------------------------------------------------------------------------------------
# README
# -------------------------------------------------------------------------------------------------

README_HEAD = """\
# Shipped prior packages

Frozen priors for the customization tasks of `docs/tasks.md`, each a `rql4j-prior/1` package
(`prior.json` + TorchScript `policy.pt`, see `docs/prior-package.md`). They are trained ONCE with
the command recorded below and reused by every experiment; do not retrain them per run.

Made by `rql4j_bridge.train` (python-bridge/src/rql4j_bridge/train/). Intermediates (the expert
zip, the demos, raw checkpoints, training logs, `pipeline.json`) stay in the work folder
(`target/prior-training/<task>/seed<seed>/`) and are not shipped.

Evaluation protocol (all tables): the package's deterministic (argmax) policy on the task's
TOTAL variant, 20 episodes reset with seeds 10000..10019, mean ± std (population std) of the
basic return and the add-on return summed from `info`, and of the episode length.
Reproduce a table row with `python -m rql4j_bridge.train evaluate <package> --task <task>`.
"""


def _kv_table(d: dict[str, Any]) -> str:
    rows = ["| parameter | value |", "|---|---|"]
    rows += [f"| `{k}` | {json.dumps(v) if isinstance(v, (list, tuple)) else v} |" for k, v in d.items()]
    return "\n".join(rows)


def render_section(record: dict[str, Any], plan: PipelinePlan) -> str:
    task, seed = record["task"], record["seed"]
    expert, demos, bc, sd = record["expert"], record["demos"], record["bc"], record["soft_dqn"]
    bc_name, sd_name = Path(bc["package"]).name, Path(sd["package"]).name
    v = record["versions"]
    sd_cfg = {**sd["config"], "hidden": list(sd["config"]["hidden"])}
    sd_cfg.pop("log_interval", None)
    bc_cfg = {**bc["config"], "hidden": list(bc["config"]["hidden"])}
    last = sd["final_train"]
    steps = sd["config"]["total_steps"]
    scale = (
        ""
        if plan.paper_steps is None
        else " (paper scale)"
        if steps == plan.paper_steps
        else f" (paper: {plan.paper_steps:,})"
    )
    lines = [
        f"<!-- begin task {task} -->",
        f"## {task}",
        "",
        f"Made {record['date']} with",
        "",
        "```",
        record["command"],
        "```",
        "",
        f"(seed {seed}, run from the repository root; {_fmt_s(record['wall_s'])} wall in all on our 2-core machine, "
        "torch with 1 thread). The equivalent stage commands:",
        "",
        "```",
        *record["stage_commands"].values(),
        f"python -m rql4j_bridge.train evaluate {Path(bc['package'])} --task {task}",
        f"python -m rql4j_bridge.train evaluate {Path(sd['package'])} --task {task}",
        "```",
        "",
        "### Evaluation (20 episodes, total variant, seeds 10000..10019, argmax policy)",
        "",
        markdown_header(),
        markdown_row(f"expert: SB3 {expert['algo'].upper()} (not shipped)", expert["evaluation"]),
        markdown_row(f"`{bc_name}` (behaviour cloning)", bc["evaluation"]),
        markdown_row(f"`{sd_name}` (soft DQN, alpha {sd['config']['alpha']:g})", sd["evaluation"]),
        "",
        "The priors' stochastic policies (actions sampled from `pi(.|s)`, torch generator seeded 10000; same "
        "episodes), and how peaked `pi` is on the expert's demo states (entropy in nats; ln 2 = 0.693 is uniform):",
        "",
        markdown_header(),
        markdown_row(f"`{bc_name}`, sampled", bc["evaluation_sampled"]),
        markdown_row(f"`{sd_name}`, sampled", sd["evaluation_sampled"]),
        "",
        stats_header(),
        stats_row(f"`{bc_name}`", bc["policy_stats"]),
        stats_row(f"`{sd_name}`", sd["policy_stats"]),
        "",
        "### Packages",
        "",
        "| package | source | budget | seed | training wall time | size on disk |",
        "|---|---|---|---|---|---|",
        f"| `{bc_name}/` | `bc`: [{', '.join(map(str, bc['config']['hidden']))}] ReLU classifier, cross-entropy on "
        f"{demos['transitions']} expert transitions | expert {expert['config']['total_steps']:,} env steps "
        f"({expert['algo']}); {bc['config']['epochs']} epochs | {seed} | expert {_fmt_s(expert['wall_s'])}, demos "
        f"{_fmt_s(demos['wall_s'])}, BC {_fmt_s(bc['wall_s'])} | {record['sizes']['bc'] / 1024:.0f} KiB |",
        f"| `{sd_name}/` | `soft-dqn`: `log_softmax(Q / alpha)`, alpha = temperature = {sd['config']['alpha']:g} | "
        f"{steps:,} env steps{scale} | {seed} | {_fmt_s(sd['wall_s'])} | "
        f"{record['sizes']['soft_dqn'] / 1024:.0f} KiB |",
        "",
        f"Library versions: rql4j_bridge {v['rql4j_bridge']}, python {v['python']}, torch {v['torch']}, numpy "
        f"{v['numpy']}, gymnasium {v['gymnasium']}, stable-baselines3 {v['stable_baselines3']}.",
        "",
        f"### `{sd_name}`: soft DQN hyperparameters",
        "",
        "Soft Bellman target `y = r + gamma * (1 - terminated) * alpha * logsumexp(Q_target(s') / alpha)` "
        "(truncation keeps bootstrapping), Huber loss, Adam, global grad-norm clip, hard target copy counted "
        "in env steps; acting: epsilon-uniform, else a sample of `softmax(Q / alpha)`. Defaults are "
        "tasks.md's CartPole reference values.",
        "",
        _kv_table(sd_cfg),
        "",
        f"End of training: {last.get('episodes', '?')} episodes, mean basic return of the last 20 training "
        f"episodes {last.get('mean_return', float('nan')):.1f} (length {last.get('mean_length', float('nan')):.1f}, "
        f"stochastic acting with epsilon {last.get('epsilon', float('nan')):.2f}), "
        f"{last.get('steps_per_s', float('nan')):.0f} env steps/s including training.",
        "",
        f"### `{bc_name}`: expert, demos and behaviour cloning",
        "",
        f"Expert: SB3 {expert['algo'].upper()} on the basic variant ({expert['zip']}, not shipped):",
        "",
        _kv_table({**expert["config"]}),
        "",
        f"Demos: {demos['transitions']} (obs, action) pairs of the deterministic expert on the basic variant, "
        f"first reset with seed {seed} ({demos['complete_episodes']} complete episodes, mean basic return "
        f"{demos['mean_return']:.1f}, mean length {demos['mean_length']:.1f}; actions {demos['action_counts']}).",
        "",
        "Behaviour cloning (Adam, cross-entropy, a held-out split for accuracy):",
        "",
        _kv_table(bc_cfg),
        "",
        f"Held-out accuracy {bc['holdout_accuracy']:.4f}; mean policy entropy on the demos "
        f"{bc['mean_entropy_on_demos']:.3f} nats (max ln 2 = 0.693).",
        "",
    ]
    if plan.notes:
        lines += ["### Notes", "", plan.notes.rstrip(), ""]
    lines.append(f"<!-- end task {task} -->")
    return "\n".join(lines) + "\n"


def write_readme_section(path: Path, record: dict[str, Any], plan: PipelinePlan) -> None:
    """Writes (or replaces) this task's section of the README, keeping the other tasks' sections."""
    task = record["task"]
    section = render_section(record, plan)
    text = path.read_text(encoding="utf-8") if path.is_file() else README_HEAD
    pattern = re.compile(rf"<!-- begin task {re.escape(task)} -->.*?<!-- end task {re.escape(task)} -->\n?", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
