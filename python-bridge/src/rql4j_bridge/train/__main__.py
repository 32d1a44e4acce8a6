"""``python -m rql4j_bridge.train <command> ...``: the prior-training pipeline (see the package docstring)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rql4j_bridge.train.bc import BCConfig
from rql4j_bridge.train.common import command_line, seed_everything, write_json
from rql4j_bridge.train.evaluate import EVAL_EPISODES, EVAL_SEED
from rql4j_bridge.train.expert import EXPERT_ALGOS, DQNExpertConfig, PPOExpertConfig
from rql4j_bridge.train.soft_dqn import SoftDQNConfig
from rql4j_bridge.train.stages import (
    DEFAULT_WORK,
    PIPELINES,
    run_bc,
    run_demos,
    run_evaluate,
    run_expert,
    run_pipeline,
    run_soft_dqn,
    write_readme_section,
)

DEFAULT_TASK = "cartpole-center"


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_config_flags(parser: argparse.ArgumentParser, *classes: type, skip: Sequence[str] = ("seed",)) -> None:
    """One ``--field-name`` per dataclass field (union over ``classes``), default None = the config's default."""
    seen: set[str] = set()
    group = parser.add_argument_group("hyperparameters (defaults: the config's)")
    for cls in classes:
        defaults = cls()
        for f in dataclasses.fields(cls):
            if f.name in skip or f.name in seen:
                continue
            seen.add(f.name)
            default = getattr(defaults, f.name)
            if isinstance(default, (list, tuple)):
                group.add_argument(
                    _flag(f.name), type=int, nargs="+", default=None, metavar="N", help=f"default {default}"
                )
            else:
                group.add_argument(_flag(f.name), type=type(default), default=None, help=f"default {default}")


def _config_from_args(cls: type, args: argparse.Namespace, **fixed: Any) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name, None)
        if value is not None:
            default = getattr(cls(), f.name)
            values[f.name] = tuple(value) if isinstance(default, tuple) else value
    unknown = [k for k in vars(args) if getattr(args, k) is not None and k in _ALL_CONFIG_FIELDS and k not in names]
    if unknown:
        raise SystemExit(f"{cls.__name__} has no {', '.join(_flag(k) for k in unknown)}")
    return dataclasses.replace(cls(**values), **fixed)


_ALL_CONFIG_FIELDS = {f.name for cls in (DQNExpertConfig, PPOExpertConfig) for f in dataclasses.fields(cls)} - {"seed"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rql4j_bridge.train", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("expert", help="train an SB3 expert (DQN or PPO) on a task's basic variant")
    p.add_argument("--task", default=DEFAULT_TASK)
    p.add_argument("--algo", choices=sorted(EXPERT_ALGOS), default="dqn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help=f"the zip (default {DEFAULT_WORK}/<task>/expert.zip)")
    _add_config_flags(p, DQNExpertConfig, PPOExpertConfig)

    p = commands.add_parser("demos", help="roll the expert out deterministically and save (obs, action) pairs")
    p.add_argument("--task", default=DEFAULT_TASK)
    p.add_argument("--expert", type=Path, required=True, help="the expert zip (its .zip.json names the algorithm)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first reset")
    p.add_argument("--n", type=int, default=50_000, help="transitions to save (default 50000)")
    p.add_argument("--out", type=Path, help=f"the .npz (default {DEFAULT_WORK}/<task>/demos.npz)")

    p = commands.add_parser("bc", help="behaviour cloning on demos -> categorical prior package (source bc)")
    p.add_argument("--task", default=DEFAULT_TASK)
    p.add_argument("--demos", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="the package folder")
    p.add_argument("--name", help="the package name (default: the folder's name)")
    p.add_argument("--work", type=Path, help="where the raw checkpoint goes (default: beside the demos)")
    _add_config_flags(p, BCConfig)

    p = commands.add_parser("soft-dqn", help="max-entropy soft DQN -> categorical prior package (source soft-dqn)")
    p.add_argument("--task", default=DEFAULT_TASK)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="the package folder")
    p.add_argument("--name", help="the package name (default: the folder's name)")
    p.add_argument("--work", type=Path, help=f"where the raw checkpoint goes (default {DEFAULT_WORK}/<task>)")
    _add_config_flags(p, SoftDQNConfig)

    p = commands.add_parser("evaluate", help="a prior package's argmax policy on the task's TOTAL variant")
    p.add_argument("package", type=Path)
    p.add_argument("--task", help="default: prior.json's made_by.task")
    p.add_argument("--episodes", type=int, default=EVAL_EPISODES)
    p.add_argument("--eval-seed", type=int, default=EVAL_SEED, help="episode i resets with eval-seed + i")
    p.add_argument("--sample", action="store_true", help="sample actions from pi(.|s) instead of the argmax")
    p.add_argument("--json", type=Path, help="also write the result here")

    p = commands.add_parser(
        "pipeline", help="expert -> demos -> bc, and soft-dqn; evaluate; write the packages + README"
    )
    p.add_argument("--task", default=DEFAULT_TASK, choices=sorted(PIPELINES))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("examples/priors"))
    p.add_argument("--work", type=Path, default=Path(DEFAULT_WORK), help="intermediates (expert, demos, checkpoints)")
    p.add_argument("--expert-algo", choices=sorted(EXPERT_ALGOS), help="default: the task's plan")
    p.add_argument("--expert-steps", type=int, help="default: the task's plan")
    p.add_argument("--demos", type=int, help="demo transitions (default: the task's plan)")
    p.add_argument("--bc-epochs", type=int, help="default: the task's plan")
    p.add_argument("--softdqn-steps", type=int, help="default: the task's plan")
    p.add_argument("--alpha", type=float, help="soft DQN temperature (default: the task's plan)")
    p.add_argument("--log-interval", type=int, help="soft DQN progress every N env steps")
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
        config = _config_from_args(EXPERT_ALGOS[args.algo], args, seed=args.seed)
        run_expert(args.task, args.algo, config, args.out or work_default / "expert.zip")
    elif args.command == "demos":
        run_demos(args.task, args.expert, args.n, args.seed, args.out or work_default / "demos.npz")
    elif args.command == "bc":
        config = _config_from_args(BCConfig, args, seed=args.seed)
        summary = run_bc(
            args.task, args.demos, config, args.out, args.work or args.demos.parent, name=args.name,
            made_by={"command": command},
        )
        write_json(Path(args.work or args.demos.parent) / "bc.json", summary)
    elif args.command == "soft-dqn":
        config = _config_from_args(SoftDQNConfig, args, seed=args.seed)
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
        plan = PIPELINES[args.task]
        plan = dataclasses.replace(
            plan,
            expert_algo=args.expert_algo or plan.expert_algo,
            expert_steps=args.expert_steps or plan.expert_steps,
            demos=args.demos or plan.demos,
            bc=dataclasses.replace(plan.bc, epochs=args.bc_epochs or plan.bc.epochs),
            soft_dqn=dataclasses.replace(
                plan.soft_dqn,
                total_steps=args.softdqn_steps or plan.soft_dqn.total_steps,
                alpha=args.alpha or plan.soft_dqn.alpha,
                log_interval=plan.soft_dqn.log_interval if args.log_interval is None else args.log_interval,
            ),
        )
        run_pipeline(args.task, args.seed, args.out, args.work, plan, command=command, readme=not args.no_readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
