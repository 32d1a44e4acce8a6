"""``customize``: start a customization from Python and get the customized policy back.

The learners run in Java: :func:`customize` makes the prior package (from an SB3 zip, a torch module, or
a package as it is), runs the ``rql4j customize`` command line on it with the env server on this very
Python, streams its progress, and returns the exported policy (``OUT/export``) loaded with
:func:`~rql4j_bridge.customized.load.load_policy`. The env is an importable Gymnasium id and the
requirement a ``module:function`` (or a function defined in a module file): the env server is another
process, and an env object or a function defined in a notebook cannot cross to it.

Which ``rql4j`` runs (:func:`find_cli`): ``$RQL4J_HOME/bin/rql4j`` or ``$RQL4J_HOME``'s runnable jar
(``rql4j-cli-*.jar``, with ``java -jar``) when ``RQL4J_HOME`` is set; else ``rql4j`` on ``PATH``; else the
``bin/rql4j`` of the checkout this package is installed from (``pip install -e python-bridge``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["CustomizationError", "customize", "find_cli"]

#: the run folder's subfolder the finished run exports its policy to (Java's Customization.EXPORT_DIR)
EXPORT_DIR = "export"
#: where a prior made here from a zip or a module goes, inside the run folder
PRIOR_DIR = "prior-package"


class CustomizationError(RuntimeError):
    """The ``rql4j`` command line failed: ``message`` is its own one-line message, ``exit_code`` its code
    (2: settings that do not fit; 1: a failure while running), ``output`` the last lines it printed."""

    def __init__(self, message: str, exit_code: int | None = None, output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.output = output


def find_cli(env: Mapping[str, str] | None = None) -> list[str]:
    """The command that runs ``rql4j``, by the rule in the module docstring; CustomizationError when none is found."""
    env = os.environ if env is None else env
    home = env.get("RQL4J_HOME")
    if home:
        root = Path(home)
        script = root / "bin" / "rql4j"
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script)]
        jars = sorted(root.glob("rql4j-cli-*.jar")) + sorted(root.glob("rql4j-cli/target/rql4j-cli-*.jar"))
        jars = [j for j in jars if not j.name.endswith(("-sources.jar", "-javadoc.jar"))]
        if jars:
            java = shutil.which("java", path=env.get("PATH"))
            if java is None:
                raise CustomizationError(f"RQL4J_HOME={home} has {jars[-1].name}, but there is no `java` on PATH: "
                                         "install Java 17 or later")  # fmt: skip
            return [java, "-jar", str(jars[-1])]
        raise CustomizationError(
            f"RQL4J_HOME={home} holds neither bin/rql4j nor a runnable rql4j-cli-*.jar: point it at an rql4j checkout "
            "(after `make setup`) or at the folder of rql4j-cli-<version>.jar"
        )
    on_path = shutil.which("rql4j", path=env.get("PATH"))
    if on_path:
        return [on_path]
    checkout = Path(__file__).resolve().parents[4]
    script = checkout / "bin" / "rql4j"
    if script.is_file() and (checkout / "rql4j-cli").is_dir():
        if not (checkout / "rql4j-cli" / "target" / "classpath.txt").is_file():
            raise CustomizationError(f"{script} is not built yet: run `make setup` in {checkout}")
        return [str(script)]
    raise CustomizationError(
        "cannot find the rql4j command line: set RQL4J_HOME to an rql4j checkout (after `make setup`) or to the "
        "folder of rql4j-cli-<version>.jar, or put `rql4j` on PATH (docs/export.md, 'Customize from Python')"
    )


def _addon_target(addon: str | Callable[..., Any]) -> tuple[str, str | None]:
    """``("module:function", folder to put on PYTHONPATH or None)`` for a string or a module-level function."""
    if isinstance(addon, str):
        module, sep, name = addon.partition(":")
        if not sep or not module or not name:
            raise ValueError(f"addon must be 'MODULE:FUNCTION' or a function, got {addon!r}")
        return addon, None
    if not callable(addon):
        raise TypeError(f"addon must be 'MODULE:FUNCTION' or a function, got {type(addon).__name__}")
    module = getattr(addon, "__module__", None)
    qualname = getattr(addon, "__qualname__", "")
    if module in (None, "__main__") or "<" in qualname or "." in qualname:
        raise ValueError(
            f"the add-on reward {qualname or addon!r} is defined in {module or 'no module'}: the env server is another "
            "process and imports the function by name. Put it at the top level of a module file (e.g. mytasks.py) "
            "and pass 'mytasks:FUNCTION' or the imported function"
        )
    mod = sys.modules.get(module)
    file = getattr(mod, "__file__", None)
    folder = None
    if file is not None:
        # the folder that makes `module` importable: the file's, one level up per dot of a package module
        folder_path = Path(file).resolve().parent
        for _ in range(module.count(".") + (1 if Path(file).name == "__init__.py" else 0)):
            folder_path = folder_path.parent
        folder = str(folder_path)
    return f"{module}:{qualname}", folder


def _make_prior(
    prior: str | Path | Any,
    out: Path,
    env_id: str,
    *,
    prior_kind: str | None,
    temperature: float | None,
    distribution: str | None,
    imports: Sequence[str],
) -> Path:
    """The prior package folder: ``prior`` itself, or one written into ``OUT/prior-package`` from a zip / module."""
    import importlib

    if not isinstance(prior, (str, Path)):
        from torch import nn

        if not isinstance(prior, nn.Module):
            raise TypeError(
                f"prior must be a prior package folder, an SB3 zip, a checkpoint path or a torch.nn.Module, got "
                f"{type(prior).__name__}"
            )
        if distribution is None:
            raise ValueError(
                "a torch module prior needs distribution=: what forward(obs) returns ('logits', 'q_values', "
                "'diag_gaussian', 'squashed_gaussian'; docs/prior-package.md)"
            )
        import gymnasium

        from rql4j_bridge.prior.package import save_prior_package

        for module in imports:
            importlib.import_module(module)
        env = gymnasium.make(env_id)
        try:
            dest = _fresh(out / PRIOR_DIR)
            return save_prior_package(
                dest,
                prior,
                name=f"{env_id}-prior",
                distribution="categorical" if distribution == "logits" else distribution,
                observation_space=env.observation_space,
                action_space=env.action_space,
                source_kind="torch-module",
                temperature=temperature,
                made_by={"command": "rql4j_bridge.customize"},
            )
        finally:
            env.close()
    path = Path(prior)
    if path.is_dir():
        if not (path / "prior.json").is_file():
            raise ValueError(
                f"{path} is a folder but not a prior package (no prior.json): give a package made by "
                "`rql4j-bridge export`, an SB3 zip or a torch module"
            )
        return path
    if not path.is_file():
        raise FileNotFoundError(f"prior {path} does not exist: give a prior package folder, an SB3 zip or a module")
    from rql4j_bridge.prior.export import export_checkpoint, infer_sb3_kind

    kind = prior_kind or (infer_sb3_kind(path) if path.suffix == ".zip" else None)
    if kind is None:
        raise ValueError(f"prior {path}: say what it is with prior_kind= (one of the kinds of `rql4j-bridge export`)")
    if kind == "sb3-dqn" and temperature is None:
        raise ValueError(
            f"prior {path} is an SB3 DQN: its Q-values become a policy softmax(Q / T), so give temperature= (T; "
            "1 is a common start, docs/prior-package.md)"
        )
    made = out / PRIOR_DIR
    if (made / "prior.json").is_file():
        # an earlier customize() into this run folder (e.g. one to resume, or a retry after a refusal) made it
        import json

        from rql4j_bridge.prior.package import file_sha256

        sidecar = json.loads((made / "prior.json").read_text(encoding="utf-8"))
        source = sidecar.get("source") or {}
        if source.get("sha256") == file_sha256(path) and source.get("kind") == kind:
            if sidecar.get("temperature") != temperature:
                raise FileExistsError(
                    f"{made} was made from {path} with temperature {sidecar.get('temperature')}, not {temperature}: "
                    "pass the same temperature to continue that run, or choose a new out= for a new one"
                )
            return made
    for module in imports:
        importlib.import_module(module)
    return export_checkpoint(
        kind,
        path,
        _fresh(made),
        temperature=temperature,
        env_id=env_id,
        command="rql4j_bridge.customize",
    )


def _fresh(folder: Path) -> Path:
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(
            f"{folder} exists and is not empty (the prior package of an earlier customize() into this run folder): "
            "pass that folder as prior=, or choose a new out="
        )
    return folder


def customize(
    prior: str | Path | Any,
    env_id: str,
    addon: str | Callable[..., Any],
    *,
    out: str | Path,
    steps: int | None = None,
    seed: int | None = None,
    algo: str | None = None,
    prior_weight: float | None = None,
    kl_budget: float | str | None = None,
    greedy_share: float | None = None,
    eval_episodes: int | None = None,
    prior_kind: str | None = None,
    temperature: float | None = None,
    distribution: str | None = None,
    imports: Sequence[str] = (),
    resume: bool = False,
    env_workers: int | None = None,
    server: str | None = None,
    ray: str | None = None,
    options: Sequence[str] = (),
    on_output: Callable[[str], None] | None = print,
    cli: Sequence[str] | None = None,
) -> Any:
    """Customizes ``prior`` on ``env_id`` for the requirement ``addon``; returns the loaded customized policy.

    - ``prior``: a prior package folder, an SB3 zip (its kind read from the zip; ``temperature=`` for a DQN),
      another checkpoint with ``prior_kind=`` (``rql4j-bridge export --kind``), or a ``torch.nn.Module`` with
      ``distribution=`` (what its ``forward`` returns).
    - ``env_id``: a Gymnasium id (``imports=``: modules that register it); ``addon``: ``"module:function"``
      or a function at the top level of a module file (``fn(obs, action, next_obs, reward, terminated,
      truncated, info) -> float``).
    - ``out``: the run folder (``rql4j customize --out``): config, learning curve, checkpoints, the policy
      and its export ``OUT/export``, which is what this returns (an
      :class:`~rql4j_bridge.customized.load.ExportedPolicy`, with SB3's ``predict``).
    - ``steps``, ``seed``, ``algo`` (``softq``, ``sac``, ``ppo``), ``prior_weight``, ``kl_budget`` (nats per
      step, or ``"auto"``), ``greedy_share`` (with a budget and Discrete actions: the share of states where the
      deterministic policy may leave the prior's most likely action), ``eval_episodes``, ``resume``: the command
      line's options of the same names;
      ``options``: any further ones, as words. Without ``prior_weight`` (or ``--alpha-hat`` in ``options``)
      the run follows the default KL budget, as ``rql4j customize --env-id`` does (docs/tuning.md).
    - ``env_workers``: step the env's copies in that many worker processes of the env server
      (``--env-workers``); ``server``: ``"HOST:PORT"`` of an env server you started (``--server``; its
      secret in ``RQL4J_BRIDGE_TOKEN``) instead of one the run starts (docs/bridge.md); ``ray``: ``"auto"``,
      ``"local"`` or the head node's ``"HOST:PORT"``: the env's copies as Ray actors on a Ray cluster
      (``--ray``; Ray's token authentication in ``RAY_AUTH_MODE`` / ``RAY_AUTH_TOKEN``; docs/cluster.md).
    - ``on_output``: called with each line the command prints (its progress and the before/after table);
      None for quiet.

    CustomizationError carries the command line's own message when it fails; nothing of an earlier run
    in ``out`` is overwritten (the command refuses, naming what to do).
    """
    out = Path(out)
    target, folder = _addon_target(addon)
    command = list(cli) if cli is not None else find_cli()  # before anything is written
    package = _make_prior(
        prior, out, env_id, prior_kind=prior_kind, temperature=temperature, distribution=distribution,
        imports=imports,
    )  # fmt: skip
    args = ["customize", "--env-id", env_id, "--addon", target, "--prior", str(package), "--out", str(out)]
    for flag, value in (
        ("--steps", steps),
        ("--seed", seed),
        ("--algo", algo),
        ("--prior-weight", prior_weight),
        ("--kl-budget", kl_budget),
        ("--greedy-share", greedy_share),
        ("--eval-episodes", eval_episodes),
        ("--env-workers", env_workers),
        ("--server", server),
        ("--ray", ray),
    ):
        if value is not None:
            args += [flag, str(value)]
    for module in imports:
        args += ["--import", module]
    if resume:
        args.append("--resume")
    args += list(options)

    env = dict(os.environ)
    env["RQL4J_PYTHON"] = sys.executable  # the env server runs on this Python, with what it has installed
    # the server finds modules in the working directory itself (it appends it to its path, last); only the
    # add-on's own folder, when it is another one, goes on PYTHONPATH (where a file could shadow a standard
    # module: it is a folder the caller's Python imports from already)
    if folder and Path(folder) != Path.cwd().resolve():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), folder) if p)
    tail: list[str] = []
    try:
        proc = subprocess.Popen(
            command + args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            bufsize=1,
        )
    except OSError as e:
        raise CustomizationError(f"cannot start {command[0]}: {e}") from e
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            tail = (tail + [line])[-40:]
            if on_output is not None:
                on_output(line)
        code = proc.wait()
    except BaseException:
        # Ctrl-C in Python: the command line saves its checkpoint on SIGINT / SIGTERM before it exits
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    if code != 0:
        # the command line's message: from its last "rql4j: " line to the end (it may quote the server's output)
        starts = [i for i, line in enumerate(tail) if line.startswith("rql4j: ") and not line.startswith("rql4j: warn")]
        if starts:
            message = "\n".join(tail[starts[-1]:]).strip()[len("rql4j: "):]
        else:
            message = tail[-1] if tail else f"exited with code {code}"
        raise CustomizationError(message, code, "\n".join(tail))
    exported = out / EXPORT_DIR
    if not (exported / "prior.json").is_file():
        why = [line for line in tail if "its export failed" in line or "exporting its policy failed" in line]
        raise CustomizationError(
            f"the run finished and is saved in {out}, but its policy was not exported"
            + (f" ({why[-1].strip()})" if why else "")
            + f": export it with `rql4j export {out} --out DIR`, then load it with rql4j_bridge.load_policy(DIR)",
            1,
            "\n".join(tail),
        )
    from rql4j_bridge.customized.load import load_policy

    return load_policy(exported)


def main(argv: Sequence[str] | None = None) -> int:
    """``rql4j-bridge customize``: :func:`customize` from the shell (see its docstring)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="rql4j-bridge customize",
        description="Customize a prior (a package folder, an SB3 zip) for an add-on reward by running the rql4j "
        "command line (found through RQL4J_HOME, then PATH, then this checkout) with the env server on this "
        "Python; the customized policy is exported to OUT/export. Options after -- go to `rql4j customize` as "
        "they are.",
    )
    parser.add_argument("--prior", required=True, metavar="PATH", help="a prior package folder or an SB3 zip")
    parser.add_argument("--env-id", required=True, metavar="ID", help="the Gymnasium id")
    parser.add_argument("--addon", required=True, metavar="MODULE:FUNCTION", help="the requirement's reward function")
    parser.add_argument("--out", required=True, metavar="DIR", help="the run folder")
    parser.add_argument("--steps", type=int, help="env steps to train")
    parser.add_argument("--seed", type=int, help="the training seed")
    parser.add_argument("--algo", choices=["softq", "sac", "ppo"], help="the learner (default: by the action space)")
    parser.add_argument("--prior-kind", help="what --prior is, when not a package or an SB3 zip (export --kind)")
    parser.add_argument("--temperature", type=float, help="T of softmax(Q / T) for an SB3 DQN prior")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE")
    parser.add_argument("--resume", action="store_true", help="continue a stopped run in --out")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    args = parser.parse_args(argv)
    try:
        policy = customize(
            args.prior, args.env_id, args.addon, out=args.out, steps=args.steps, seed=args.seed, algo=args.algo,
            prior_kind=args.prior_kind, temperature=args.temperature, imports=args.imports, resume=args.resume,
            options=extra,
        )  # fmt: skip
    except CustomizationError as e:
        print(f"rql4j-bridge customize: error: {e.message}", file=sys.stderr)
        return e.exit_code if e.exit_code is not None and e.exit_code > 0 else 1
    except (OSError, ValueError, TypeError) as e:
        print(f"rql4j-bridge customize: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    print(f"the customized policy: {Path(args.out) / EXPORT_DIR} (rql4j_bridge.load_policy; {policy.distribution})")
    return 0
