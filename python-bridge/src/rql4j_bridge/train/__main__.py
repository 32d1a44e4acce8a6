"""``python -m rql4j_bridge.train <command> ...``: the prior-training pipeline (see the package docstring)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rql4j_bridge.train.bc import BCConfig, GaussianBCConfig
from rql4j_bridge.train.common import command_line, seed_everything, write_json
from rql4j_bridge.train.defaults import TASK_DEFAULTS, expert_config, is_continuous, task_config
from rql4j_bridge.train.evaluate import EVAL_EPISODES, EVAL_SEED
from rql4j_bridge.train.expert import (
    EXPERT_ALGOS,
    UNPICKLE_REFUSED,
    DQNExpertConfig,
    PPOExpertConfig,
    SACExpertConfig,
)
from rql4j_bridge.train.soft_dqn import SoftDQNConfig
from rql4j_bridge.train.stages import (
    DEFAULT_WORK,
    PIPELINES,
    run_bc,
    run_demos,
    run_evaluate,
    run_expert,
    run_pipeline,
    run_rl_prior,
    run_soft_dqn,
    write_readme_section,
)

DEFAULT_TASK = "cartpole-center"
TASKS = sorted(TASK_DEFAULTS)
EXPERT_CLASSES = (DQNExpertConfig, PPOExpertConfig, SACExpertConfig)
BC_CLASSES = (BCConfig, GaussianBCConfig)
_TASK_HELP = f"one of {', '.join(TASKS)} (or a full Gymnasium id), default {DEFAULT_TASK}"


def _box_actions(task: str) -> bool:
    """Whether the task's actions are a Box (the table says; for other ids, the env)."""
    if task in TASK_DEFAULTS:
        return is_continuous(task)
    import gymnasium

    from rql4j_bridge.train.common import make_env

    env = make_env(task, "basic")
    try:
        return isinstance(env.action_space, gymnasium.spaces.Box)
    finally:
        env.close()


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_config_flags(parser: argparse.ArgumentParser, *classes: type, skip: Sequence[str] = ("seed",)) -> None:
    """One ``--field-name`` per dataclass field (union over ``classes``), default None = the task's value
    (``defaults.TASK_DEFAULTS``), else the config's default."""
    seen: set[str] = set()
    group = parser.add_argument_group("hyperparameters (defaults: the task's, else the config's)")
    for cls in classes:
        defaults = cls()
        for f in dataclasses.fields(cls):
            if f.name in skip or f.name in seen:
                continue
            seen.add(f.name)
            default = getattr(defaults, f.name)
            help_text = f"default: the task's, else {default}"
            if isinstance(default, (list, tuple)):
                group.add_argument(_flag(f.name), type=int, nargs="+", default=None, metavar="N", help=help_text)
            elif isinstance(default, bool):
                group.add_argument(_flag(f.name), type=_bool, default=None, metavar="BOOL", help=help_text)
            else:
                group.add_argument(_flag(f.name), type=type(default), default=None, help=help_text)


def _config_from_args(base: Any, args: argparse.Namespace, classes: Sequence[type], **fixed: Any) -> Any:
    """``base`` (a config) with the flags given on the command line, then ``fixed``; a flag of another
    config class in ``classes`` that ``base`` lacks is refused."""
    cls = type(base)
    names = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name, None)
        if value is not None and f.name not in fixed:
            default = getattr(base, f.name)
            values[f.name] = tuple(value) if isinstance(default, tuple) else value
    all_fields = {f.name for c in classes for f in dataclasses.fields(c)} - {"seed"}
    unknown = [k for k in vars(args) if getattr(args, k) is not None and k in all_fields and k not in names]
    if unknown:
        raise SystemExit(f"{cls.__name__} has no {', '.join(_flag(k) for k in unknown)}")
    return dataclasses.replace(base, **values, **fixed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rql4j_bridge.train", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("expert", help="train an SB3 expert (DQN, PPO or SAC) on a task's basic variant")
    p.add_argument("--task", default=DEFAULT_TASK, help=_TASK_HELP)
    p.add_argument("--algo", choices=sorted(EXPERT_ALGOS), help="default: the task's (dqn for Discrete, sac for Box)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help=f"the zip (default {DEFAULT_WORK}/<task>/expert.zip)")
    p.add_argument("--log-interval", type=int, default=5000, help="progress every N env steps (0: silent)")
    _add_config_flags(p, *EXPERT_CLASSES)

    for name, algo, help_text in (
        ("sac-prior", "SAC", "export a SAC expert zip as the squashed_gaussian prior package (source sb3-sac)"),
        (
            "ppo-prior",
            "PPO",
            "export a PPO expert zip (Box actions) as the diag_gaussian prior package (source sb3-ppo)",
        ),
    ):
        p = commands.add_parser(name, help=help_text)
        p.add_argument("--task", default=DEFAULT_TASK, help=_TASK_HELP)
        p.add_argument("--expert", type=Path, required=True, help=f"the {algo} expert zip")
        p.add_argument("--seed", type=int, default=0, help="recorded in made_by")
        p.add_argument("--out", type=Path, required=True, help="the package folder")
        p.add_argument("--name", help="the package name (default: the folder's name)")

    p = commands.add_parser("demos", help="roll the expert out deterministically and save (obs, action) pairs")
    p.add_argument("--task", default=DEFAULT_TASK, help=_TASK_HELP)
    p.add_argument("--expert", type=Path, required=True, help="the expert zip (its .zip.json names the algorithm)")
    p.add_argument(
        "--allow-unpickle",
        action="store_true",
        help="required: loading an SB3 zip unpickles it, which runs code from the file (only for trusted zips, "
        "e.g. one `expert` made)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the first reset")
    p.add_argument("--n", type=int, default=50_000, help="transitions to save (default 50000)")
    p.add_argument("--out", type=Path, help=f"the .npz (default {DEFAULT_WORK}/<task>/demos.npz)")

    p = commands.add_parser(
        "bc", help="behaviour cloning on demos -> categorical / squashed_gaussian prior package (source bc)"
    )
    p.add_argument("--task", default=DEFAULT_TASK, help=_TASK_HELP)
    p.add_argument("--demos", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="the package folder")
    p.add_argument("--name", help="the package name (default: the folder's name)")
    p.add_argument("--work", type=Path, help="where the raw checkpoint goes (default: beside the demos)")
    _add_config_flags(p, *BC_CLASSES)

    p = commands.add_parser("soft-dqn", help="max-entropy soft DQN -> categorical prior package (source soft-dqn)")
    p.add_argument("--task", default=DEFAULT_TASK, help=_TASK_HELP)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="the package folder")
    p.add_argument("--name", help="the package name (default: the folder's name)")
    p.add_argument("--work", type=Path, help=f"where the raw checkpoint goes (default {DEFAULT_WORK}/<task>)")
    _add_config_flags(p, SoftDQNConfig)

    p = commands.add_parser(
        "evaluate", help="a prior package's deterministic policy (argmax; tanh(mean) for Box) on the TOTAL variant"
    )
    p.add_argument("package", type=Path)
    p.add_argument("--task", help="default: prior.json's made_by.task")
    p.add_argument("--episodes", type=int, default=EVAL_EPISODES)
    p.add_argument("--eval-seed", type=int, default=EVAL_SEED, help="episode i resets with eval-seed + i")
    p.add_argument("--sample", action="store_true", help="sample actions from pi(.|s) instead of the argmax")
    p.add_argument("--json", type=Path, help="also write the result here")

    p = commands.add_parser(
        "pipeline",
        help="Discrete: expert -> demos -> bc, and soft-dqn; Box: SAC expert (= the prior) -> demos -> Gaussian bc; "
        "evaluate; write the packages + README",
    )
    p.add_argument("--task", default=DEFAULT_TASK, choices=sorted(PIPELINES))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("examples/priors"))
    p.add_argument("--work", type=Path, default=Path(DEFAULT_WORK), help="intermediates (expert, demos, checkpoints)")
    p.add_argument(
        "--total-steps",
        type=int,
        help="env steps of every RL run (the expert, and the soft DQN) (default: the task's budget, "
        + ", ".join(f"{t} {d['budget']:,}" for t, d in TASK_DEFAULTS.items())
        + ")",
    )
    p.add_argument("--expert-algo", choices=sorted(EXPERT_ALGOS), help="default: the task's plan")
    p.add_argument("--expert-steps", type=int, help="the expert's env steps (default: --total-steps)")
    p.add_argument("--demos", type=int, help="demo transitions (default: the task's plan)")
    p.add_argument("--bc-epochs", type=int, help="default: the task's plan")
    p.add_argument("--softdqn-steps", type=int, help="the soft DQN's env steps (default: --total-steps)")
    p.add_argument("--alpha", type=float, help="soft DQN temperature (default: the task's plan)")
    p.add_argument("--eval-episodes", type=int, help=f"episodes per evaluation (default {EVAL_EPISODES})")
    p.add_argument("--log-interval", type=int, help="expert and soft DQN progress every N env steps (0: silent)")
    p.add_argument("--no-readme", action="store_true", help="do not write <out>/README.md")
    p.add_argument(
        "--readme-only",
        action="store_true",
        help="train nothing: re-render <out>/README.md's section from <work>/<task>/seed<seed>/pipeline.json",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = command_line(argv)
    seed_everything(getattr(args, "seed", 0) or 0)
    work_default = Path(DEFAULT_WORK) / getattr(args, "task", DEFAULT_TASK) if getattr(args, "task", None) else None

    if args.command == "expert":
        algo = args.algo or TASK_DEFAULTS.get(args.task, {}).get("expert")
        algo = algo or ("sac" if _box_actions(args.task) else "dqn")
        config = _config_from_args(expert_config(args.task, algo), args, EXPERT_CLASSES, seed=args.seed)
        run_expert(args.task, algo, config, args.out or work_default / "expert.zip", log_interval=args.log_interval)
    elif args.command == "sac-prior":
        run_rl_prior(args.task, args.expert, args.out, seed=args.seed, name=args.name, made_by={"command": command})
    elif args.command == "ppo-prior":
        run_rl_prior(
            args.task, args.expert, args.out, seed=args.seed, name=args.name, made_by={"command": command}, algo="ppo"
        )
    elif args.command == "demos":
        if not args.allow_unpickle:  # refused before anything is read from the zip
            raise SystemExit(f"demos: error: {UNPICKLE_REFUSED.format(path=args.expert)}")
        out = args.out or work_default / "demos.npz"
        run_demos(args.task, args.expert, args.n, args.seed, out, allow_unpickle=True)
    elif args.command == "bc":
        bc_class = GaussianBCConfig if _box_actions(args.task) else BCConfig
        config = _config_from_args(task_config(args.task, bc_class, "bc"), args, BC_CLASSES, seed=args.seed)
        summary = run_bc(
            args.task,
            args.demos,
            config,
            args.out,
            args.work or args.demos.parent,
            name=args.name,
            made_by={"command": command},
        )
        write_json(Path(args.work or args.demos.parent) / "bc.json", summary)
    elif args.command == "soft-dqn":
        config = _config_from_args(task_config(args.task, SoftDQNConfig), args, (SoftDQNConfig,), seed=args.seed)
        work = args.work or work_default
        summary = run_soft_dqn(args.task, config, args.out, work, name=args.name, made_by={"command": command})
        write_json(Path(work) / "softdqn.json", summary)
    elif args.command == "evaluate":
        task = args.task
        if task is None:
            sidecar = json.loads((args.package / "prior.json").read_text(encoding="utf-8"))
            task = (sidecar.get("made_by") or {}).get("task")
            if not task:
                raise SystemExit(f"{args.package}: prior.json's made_by names no task; pass --task")
        result = run_evaluate(args.package, task, episodes=args.episodes, seed=args.eval_seed, sample=args.sample)
        text = json.dumps({k: v for k, v in result.items() if k != "per_episode"}, indent=2)
        print(text)
        if args.json:
            write_json(args.json, result)
    elif args.command == "pipeline" and args.readme_only:
        record_path = Path(args.work) / args.task / f"seed{args.seed}" / "pipeline.json"
        if not record_path.is_file():
            raise SystemExit(f"{record_path} does not exist: run the pipeline first")
        record = json.loads(record_path.read_text(encoding="utf-8"))
        write_readme_section(Path(args.out) / "README.md", record, PIPELINES[args.task])
        print(f"pipeline: wrote {Path(args.out) / 'README.md'} from {record_path}")
    elif args.command == "pipeline":
        run_pipeline(
            args.task, args.seed, args.out, args.work, _pipeline_plan(args), command=command, readme=not args.no_readme
        )
    return 0


def _pipeline_plan(args: argparse.Namespace) -> Any:
    """The task's plan with the command line's overrides."""
    if TASK_DEFAULTS.get(args.task, {}).get("expert") == "ppo":
        raise SystemExit(
            f"{args.task} has no pipeline: its prior is the PPO expert itself. Run `python -m rql4j_bridge.train "
            f"expert --task {args.task}` and then `python -m rql4j_bridge.train ppo-prior --task {args.task} "
            "--expert <zip> --out <package>` (examples/priors/README.md has the commands that made the shipped one)"
        )
    plan = PIPELINES[args.task]
    box = plan.soft_dqn is None
    if box and (args.softdqn_steps is not None or args.alpha is not None):
        raise SystemExit(f"{args.task} has no soft DQN (its SAC expert is the prior): drop --softdqn-steps / --alpha")
    if args.expert_algo and args.expert_algo != plan.expert_algo and (box or args.expert_algo == "sac"):
        raise SystemExit(f"{args.task}: the expert must be {plan.expert_algo}")
    budget = args.total_steps
    plan = dataclasses.replace(
        plan,
        expert_algo=args.expert_algo or plan.expert_algo,
        expert_steps=args.expert_steps or budget or plan.expert_steps,
        demos=args.demos or plan.demos,
        bc=dataclasses.replace(plan.bc, epochs=args.bc_epochs or plan.bc.epochs),
        eval_episodes=args.eval_episodes or plan.eval_episodes,
        expert_log_interval=plan.expert_log_interval if args.log_interval is None else args.log_interval,
    )
    if plan.soft_dqn is not None:
        plan.soft_dqn = dataclasses.replace(
            plan.soft_dqn,
            total_steps=args.softdqn_steps or budget or plan.soft_dqn.total_steps,
            alpha=args.alpha or plan.soft_dqn.alpha,
            log_interval=plan.soft_dqn.log_interval if args.log_interval is None else args.log_interval,
        )
    return plan


if __name__ == "__main__":
    sys.exit(main())
