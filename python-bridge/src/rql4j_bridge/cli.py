"""Command line of the bridge: ``rql4j-bridge COMMAND ...`` (also ``python -m rql4j_bridge``).

``serve``: imports the modules named by ``--import`` (and ``highway_env`` when installed) so
their Gymnasium ids are registered, binds the gRPC server (loopback by default, ``--port 0``
picks a free port), starts it, and only then prints exactly one line
``RQL4J_BRIDGE_PORT=<port>`` to stdout and flushes it. Everything else goes to stderr: from the
start, file descriptor 1 is redirected to stderr, so prints from environments or native
libraries cannot corrupt stdout. SIGTERM / SIGINT stop the server (grace 1 s) and exit 0; with
``--exit-on-stdin-eof`` so does the end of stdin, so that the server dies with the parent
process that holds the other end of the pipe, even when that parent is killed with -9.

Exit codes: 0 stopped normally, 1 cannot bind, 2 bad arguments or a failing ``--import``.

``serve-py4j``: the same envs (and priors) over a Py4J ClientServer instead of gRPC
(:mod:`rql4j_bridge.py4j_server`); same port line, signals, stdin watch and exit codes. The Py4J
auth token is the same as gRPC's.

Authentication (:mod:`rql4j_bridge.auth`): both servers take a per-launch secret from the
environment variable ``RQL4J_BRIDGE_TOKEN`` (``--auth-token-env``) or ``--auth-token-file``, never
from the command line; without one they exit 2 unless ``--no-auth`` (loopback only).

``export``: turns a checkpoint into a prior package (docs/prior-package.md), see
:mod:`rql4j_bridge.prior.export`. Prints one summary line to stdout; exit codes: 0 exported,
1 the checkpoint was refused (the message on stderr says why and what to do), 2 bad arguments.

``export-policy``: turns a customized policy the Java learners saved (a run's ``policy/`` folder,
or the run folder) into a self-contained package (:mod:`rql4j_bridge.customized.export`). Prints
one summary line to stdout; exit codes: 0 exported, 1 the input was refused (one line on stderr
naming the folder and what to do), 2 bad arguments or the ``priors`` extra missing.

``evaluate``: runs an exported customized policy and the prior it holds on the same seeds, as Java's
evaluator does (:mod:`rql4j_bridge.customized.evaluate`); prints the table and the KL between them,
``--json FILE`` writes everything, ``--video FILE`` the two episodes side by side. Exit codes: 0 done,
1 the input was refused (one line on stderr), 2 bad arguments or a missing extra (``priors``, ``video``).

``inspect-prior``: checks a prior package on an env before customizing it (:mod:`rql4j_bridge.prior.inspection`):
the spaces, that the env and the add-on run, how sure the prior is (entropy, log-probability spread) and its
returns; warns when it is nearly deterministic. ``--json`` prints the report as one JSON object instead
(``--json FILE`` writes it there). Exit codes as ``evaluate``'s: 0 done (warnings or not), 1 the input was
refused (one line on stderr naming it), 2 bad arguments or the ``priors`` extra missing.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import gymnasium

from rql4j_bridge import PROTOCOL, __version__
from rql4j_bridge.auth import TOKEN_ENV, AuthError, is_loopback, read_token

if TYPE_CHECKING:
    from rql4j_bridge.env_server import EnvServicer

PORT_LINE_PREFIX = "RQL4J_BRIDGE_PORT="
AUTO_IMPORTS = ("highway_env", "rql4j_bridge.tasks")
STOP_GRACE_S = 1.0
LOG_RECORD_LIMIT = 8000  # characters of one log record (with its traceback)
HARD_EXIT_AFTER_S = 5.0  # stdin EOF: exit even if a graceful stop hangs (e.g. an env stuck in step)

_log = logging.getLogger("rql4j_bridge.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rql4j-bridge", description="Python bridge of rql4j (Gymnasium over gRPC).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__} ({PROTOCOL})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve Gymnasium envs over gRPC",
        description=f"Serve Gymnasium envs over gRPC ({PROTOCOL}). Prints {PORT_LINE_PREFIX}<port> once ready.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default: 0)")
    serve.add_argument(
        "--server",
        choices=["aio", "threads"],
        default="aio",
        help="aio: one event-loop thread, lowest latency per step (default); threads: a thread pool",
    )
    serve.add_argument(
        "--max-workers", type=int, default=64, help="threads server: RPC threads; each open StepStream holds one"
    )
    _add_auth_args(serve)
    _add_common_serve_args(serve)
    serve.set_defaults(func=_serve)
    _add_serve_py4j_parser(commands)
    _add_export_parser(commands)
    _add_export_policy_parser(commands)
    _add_evaluate_parser(commands)
    _add_inspect_prior_parser(commands)
    _add_train_parser(commands)
    _add_customize_parser(commands)
    _add_plot_parser(commands)
    _add_tensorboard_parser(commands)
    return parser


def _add_auth_args(serve: argparse.ArgumentParser) -> None:
    """Both servers' authentication (:mod:`rql4j_bridge.auth`): the per-launch secret, out of band; and
    ``--own-process-group``."""
    serve.add_argument(
        "--own-process-group",
        action="store_true",
        help="run in a process group of its own, so that a terminal's Ctrl-C reaches only the launcher (which stops "
        "this server after saving its work; Java's PythonServer passes it)",
    )
    serve.add_argument(
        "--auth-token-env",
        default=TOKEN_ENV,
        metavar="NAME",
        help=f"environment variable holding the auth token every call must carry (default: {TOKEN_ENV}); "
        "required unless --auth-token-file or --no-auth",
    )
    serve.add_argument(
        "--auth-token-file",
        metavar="PATH",
        help="read the auth token from PATH instead (a file only you can read: mode 600)",
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="serve without authentication: any local process can then make envs, load priors and run the add-ons "
        "(loopback only)",
    )


def _auth_token(args: argparse.Namespace) -> tuple[bool, str | None]:
    """(usable, the secret or None for --no-auth); logs why when not usable."""
    if args.no_auth:
        if not is_loopback(args.host):
            _log.error(
                "--no-auth on %s: a server on a non-loopback address needs authentication (anyone on the network could "
                "use it); drop --no-auth and give the token in %s or --auth-token-file",
                args.host,
                args.auth_token_env,
            )
            return False, None
        _log.warning("serving WITHOUT authentication (--no-auth): any local process can use this server")
        return True, None
    try:
        token = read_token(args.auth_token_env, args.auth_token_file)
    except AuthError as e:
        _log.error("%s", e)
        return False, None
    if not is_loopback(args.host):
        _log.warning(
            "serving on %s, a non-loopback address: the auth token travels in plaintext (no TLS); use it on a "
            "network you trust, or tunnel the port (ssh -L)",
            args.host,
        )
    return True, token


def _int_at_least(least: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``least`` (a bad one is a usage error, exit code 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be >= {least}, got {value}")
        return value

    return parse


def _add_common_serve_args(serve: argparse.ArgumentParser) -> None:
    """The options both servers take (gRPC ``serve`` and ``serve-py4j``)."""
    serve.add_argument(
        "--max-snapshots",
        type=int,
        default=1024,
        help="env snapshots (Snapshot RPC) held at once; one more is refused until some are released (default: 1024)",
    )
    serve.add_argument(
        "--max-num-envs",
        type=_int_at_least(1),
        default=1024,
        metavar="N",
        help="copies (num_envs) one Make request may ask for; more is refused (default: 1024)",
    )
    serve.add_argument(
        "--max-open-envs",
        type=_int_at_least(1),
        default=256,
        metavar="N",
        help="envs open at once on this server; one more Make is refused until some are closed (default: 256)",
    )
    serve.add_argument(
        "--max-step-sockets",
        type=_int_at_least(0),
        default=64,
        metavar="N",
        help="step sockets (OpenStepSocket) listening or connected at once; one more is refused (default: 64)",
    )
    serve.add_argument(
        "--max-step-frame-bytes",
        type=_int_at_least(1),
        default=64 * 1024 * 1024,
        metavar="BYTES",
        help="largest step-socket frame (one StepRequest); a larger one closes its connection (default: 64 MiB)",
    )
    serve.add_argument(
        "--step-socket-spin-us",
        type=_int_at_least(0),
        default=None,
        metavar="US",
        help="how long a step socket polls for the client's next step before its thread sleeps: it saves the "
        "wake-up (~100 us a step on small envs) at the cost of a busy core meanwhile; 0 never polls (default: "
        "1000 where the server may use 2 or more cores, else 0)",
    )
    serve.add_argument(
        "--max-env-workers",
        type=_int_at_least(0),
        default=2 * (os.cpu_count() or 1),
        metavar="N",
        help="env worker processes running at once over all envs (--workers, or a Make asking for them); a Make "
        "that needs more is refused (default: twice the cores)",
    )
    serve.add_argument(
        "--workers",
        type=_int_at_least(0),
        default=0,
        metavar="N",
        help="step each env's copies in min(N, copies) worker processes at the same time (rql4j_bridge.workers); "
        "0 keeps them in the server's own process unless a Make asks for workers (default: 0; with --ray, one "
        "Ray actor per copy)",
    )
    serve.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="the workers are Ray actors on a Ray cluster (rql4j_bridge.ray_backend; needs the 'ray' extra): "
        "'auto' (the cluster 'ray start' joined this host to), HOST:PORT of its head node, or 'local' (a one-node "
        "Ray started here). The cluster must use Ray's token authentication (RAY_AUTH_MODE=token, RAY_AUTH_TOKEN); "
        "see docs/cluster.md",
    )
    serve.add_argument(
        "--ray-cpus-per-worker",
        type=float,
        default=1.0,
        metavar="CPUS",
        help="the CPUs Ray reserves for each worker actor (default: 1)",
    )
    serve.add_argument(
        "--ray-allow-unauthenticated",
        action="store_true",
        help="connect to a Ray cluster without token authentication (anyone who reaches it runs code on its nodes: "
        "only on a network only you can reach)",
    )
    serve.add_argument(
        "--exit-on-stdin-eof", action="store_true", help="stop the server and exit when stdin reaches end of file"
    )
    serve.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE before serving, to register its Gymnasium ids (repeatable)",
    )
    serve.add_argument(
        "--addon",
        dest="addons",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="import MODULE and allow Make requests to apply FUNCTION as an add-on reward (repeatable)",
    )
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def _add_serve_py4j_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve-py4j",
        help="serve Gymnasium envs and priors over Py4J (the same messages as bytes)",
        description=f"Serve the {PROTOCOL} contract over a Py4J ClientServer (rql4j_bridge.py4j_server). Prints "
        f"{PORT_LINE_PREFIX}<port> once ready. The auth token is read from the environment variable named by "
        "--auth-token-env, never from the command line.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default: 0)")
    _add_auth_args(serve)
    _add_common_serve_args(serve)
    serve.set_defaults(func=_serve_py4j, server="py4j")


def _add_plot_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plot = commands.add_parser(
        "plot",
        help="plot learning curves of rql4j runs (their metrics.csv) into a PNG / SVG / PDF",
        description="Learning curves (basic and add-on return of the last 20 training episodes, loss) over env "
        "steps, one line per run, from the metrics.csv that `rql4j customize --out RUN` writes.",
    )
    plot.add_argument("metrics", nargs="+", type=Path, help="metrics.csv files (or run folders holding one)")
    plot.add_argument("--out", required=True, type=Path, help="the image to write (.png, .svg or .pdf)")
    plot.add_argument("--title", help="a title above the panels")
    plot.set_defaults(func=_plot)


def _add_tensorboard_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tb = commands.add_parser(
        "tensorboard",
        help="write rql4j runs' learning curves (their metrics.csv) as TensorBoard scalars, live with --follow",
        description="Writes each run folder's metrics.csv as TensorBoard scalars into RUN/tensorboard (returns, "
        "losses, temperature, speed, where the time went); then `tensorboard --logdir` the runs' parent folder.",
    )
    tb.add_argument("runs", nargs="+", type=Path, help="run folders (written by rql4j customize --out RUN)")
    tb.add_argument("--follow", action="store_true", help="keep following the runs until each has finished")
    tb.add_argument("--interval", type=float, default=2.0, help="seconds between reads with --follow (default: 2)")
    tb.set_defaults(func=_tensorboard)


def _tensorboard(args: argparse.Namespace) -> int:
    from rql4j_bridge.tensorboard import TensorBoardError, follow

    try:
        written = follow(args.runs, keep_following=args.follow, interval_s=args.interval)
    except TensorBoardError as e:
        print(f"rql4j-bridge tensorboard: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    for run, rows in written.items():
        print(f"{run / 'tensorboard'}: {rows} reports")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from rql4j_bridge.plot import PlotError, plot

    paths = [p / "metrics.csv" if p.is_dir() else p for p in args.metrics]
    try:
        out = plot(paths, args.out, args.title)
    except PlotError as e:
        print(f"rql4j-bridge plot: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


def _add_customize_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser(
        "customize",
        help="customize a prior for an add-on reward through the rql4j command line (rql4j-bridge customize --help)",
        add_help=False,
    )


def _add_train_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser(
        "train",
        help="train priors: expert, demos, bc, soft-dqn, evaluate, pipeline (rql4j-bridge train --help)",
        add_help=False,
    )


def _add_export_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from rql4j_bridge.prior import EXPORT_KINDS, TORCH_MODULE_DISTRIBUTIONS  # torch-free

    export = commands.add_parser(
        "export",
        help="export a checkpoint as a prior package (policy.pt + prior.json)",
        description="Export a policy checkpoint as an rql4j-prior/1 package (docs/prior-package.md). Needs the "
        "'priors' extra (torch, stable-baselines3).",
    )
    export.add_argument("--kind", required=True, choices=EXPORT_KINDS, help="what the checkpoint is")
    export.add_argument("--checkpoint", required=True, metavar="PATH", help="the checkpoint file (SB3 zip, .pt)")
    export.add_argument("--out", required=True, metavar="DIR", help="the package folder to write")
    export.add_argument("--name", help="the package's name (default: the folder name)")
    export.add_argument(
        "--temperature",
        type=float,
        help="T of log_softmax(Q / T): required for sb3-dqn and q_values (rql-ref-softdqn: 1)",
    )
    export.add_argument("--env-id", help="take the observation / action spaces from gymnasium.make(ID)")
    export.add_argument("--env-kwargs", default="", metavar="JSON", help="keyword arguments for gymnasium.make")
    export.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, to register the --env-id it defines (repeatable; rql4j's own task ids need none)",
    )
    export.add_argument(
        "--allow-unpickle",
        action="store_true",
        help="unpickle the spaces stored in an SB3 zip (runs code from the file: only for trusted files)",
    )
    export.add_argument("--activation", help="override the MLP activation (ReLU, Tanh, ...)")
    export.add_argument("--module-class", metavar="PKG.MOD:CLASS", help="torch-module: the nn.Module class to build")
    export.add_argument(
        "--module-kwargs", default="", metavar="JSON", help="torch-module: the class's keyword arguments"
    )
    export.add_argument(
        "--distribution",
        choices=TORCH_MODULE_DISTRIBUTIONS,
        help="torch-module: what forward(obs) returns (logits / q_values: [B, n]; diag_gaussian / squashed_gaussian: "
        "(mean, log_std); action: a deterministic action, needs --noise-std)",
    )
    export.add_argument(
        "--noise-std", type=float, help="torch-module --distribution action: the fixed std of N(action, std^2)"
    )
    export.add_argument("--seed", type=int, help="recorded in prior.json (made_by.seed); also seeds torch")
    export.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    export.set_defaults(func=_export)


def _add_export_policy_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export-policy",
        help="export a customized policy saved by rql4j (a run's policy/ folder) as a self-contained package",
        description="Export the policy/ folder of an rql4j run (or the run folder) as a self-contained folder that "
        "is itself an rql4j-prior/1 package: policy.pt (TorchScript of the whole customized policy), "
        "weights.safetensors, a copy of the prior, policy.onnx. Needs the 'priors' extra (torch); ONNX needs the "
        "'export' extra (onnx, onnxruntime).",
    )
    export.add_argument("policy", metavar="POLICY_OR_RUN_DIR", help="the policy/ folder of a run, or the run folder")
    export.add_argument("--out", required=True, metavar="DIR", help="the folder to write (must not exist or be empty)")
    export.add_argument(
        "--prior",
        metavar="DIR",
        help="the prior package, when it is no longer where the run recorded it (its sha256 is checked all the same)",
    )
    export.add_argument("--name", help="the package's name (default: the output folder's name)")
    export.add_argument("--no-onnx", action="store_true", help="do not write policy.onnx")
    export.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    export.set_defaults(func=_export_policy)


def _export_policy(args: argparse.Namespace) -> int:
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level, format="rql4j-bridge export-policy %(levelname)s: %(message)s"
    )
    try:
        from rql4j_bridge.customized.export import export_policy
    except ImportError as e:
        print(
            f"rql4j-bridge export-policy: error: {e}; install the priors extra: pip install 'rql4j-bridge[priors]' "
            "(and 'rql4j-bridge[export]' for ONNX)",
            file=sys.stderr,
        )
        return 2
    flags = [] if not args.no_onnx else ["--no-onnx"]
    try:
        out = export_policy(
            args.policy,
            args.out,
            prior_dir=args.prior,
            onnx=not args.no_onnx,
            name=args.name,
            command=shlex.join(["rql4j-bridge", "export-policy", *flags]),  # without the paths: none is recorded
        )
    except ImportError as e:
        print(f"rql4j-bridge export-policy: error: {e}; install the priors extra: pip install 'rql4j-bridge[priors]'",
              file=sys.stderr)  # fmt: skip
        return 2
    except (OSError, ValueError) as e:
        print(f"rql4j-bridge export-policy: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    sidecar = json.loads((out / "prior.json").read_text(encoding="utf-8"))
    onnx = sidecar["onnx"]
    print(
        f"exported {sidecar['customized']['learner']} policy {args.policy} -> {out} ({sidecar['distribution']}, "
        f"observation dim {sidecar['observation']['dim']}, "
        + ("policy.onnx written)" if onnx["written"] else f"no policy.onnx: {onnx['reason']})")
    )
    return 0


def _add_evaluate_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ev = commands.add_parser(
        "evaluate",
        help="run an exported customized policy and its prior side by side (returns, KL, optional video)",
        description="Run the customized policy of an exported folder (rql4j export RUN --out DIR) and the prior it "
        "holds in prior/ on the same seeds (10000, 10001, ...), deterministic, as rql4j's evaluator does; print "
        "both rows of the results table and the mean per-step KL(customized || prior). Needs the 'priors' extra "
        "(torch); --video needs the 'video' extra (imageio, pillow, imageio-ffmpeg).",
    )
    ev.add_argument("policy", metavar="POLICY_DIR", help="a folder written by rql4j export (or export-policy)")
    ev.add_argument(
        "--env-id",
        metavar="ID",
        help="the Gymnasium id to evaluate on (default: the run's evaluation env: a built-in task's -total-v0, else "
        "its eval_env_id, else its env_id)",
    )
    ev.add_argument(
        "--episodes", type=_int_at_least(1), default=20, metavar="N", help="episodes per policy (default: 20)"
    )
    ev.add_argument(
        "--addon",
        metavar="MODULE:FUNCTION",
        help="an add-on reward applied over the env, so that it reports both parts (default: the run's, unless the "
        "env reports both itself)",
    )
    ev.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, to register the env ids it defines (repeatable; the run's recorded ones are "
        "imported too)",
    )
    ev.add_argument(
        "--video",
        metavar="FILE",
        help="write one episode of each, the prior left and the customized policy right, to FILE (.gif or .mp4; "
        "never over an existing file)",
    )
    ev.add_argument("--json", metavar="FILE", help="write the full result (episodes, KL, env, seeds) as JSON to FILE")
    ev.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    def fail(message: str, code: int) -> int:
        print(f"rql4j-bridge evaluate: error: {' '.join(message.split())}", file=sys.stderr)
        return code

    if args.video and Path(args.video).suffix.lower() not in (".gif", ".mp4"):
        return fail(f"--video {args.video}: the file must end in .gif or .mp4", 2)
    if args.json and (Path(args.json).is_dir() or not Path(args.json).absolute().parent.is_dir()):
        return fail(f"--json {args.json}: not a file in an existing folder", 2)
    try:
        from rql4j_bridge.customized.evaluate import evaluate_policy
    except ImportError as e:
        return fail(f"{e}; install the priors extra: pip install 'rql4j-bridge[priors]'", 2)
    cwd = os.getcwd()  # the run's add-on / imports are found in the working directory too (as main() does)
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)
    try:
        result = evaluate_policy(
            args.policy,
            args.env_id,
            episodes=args.episodes,
            addon=args.addon,
            imports=args.imports,
            video=args.video,
        )
    except ImportError as e:
        return fail(str(e), 2)
    except (OSError, ValueError, TypeError, gymnasium.error.Error) as e:
        return fail(str(e), 1)
    print(result.markdown(), end="")
    print(result.kl_line())
    if result.video is not None:
        print(f"wrote {result.video} (seed {result.video_seed}: the prior left, the customized policy right)")
    if args.json:
        try:
            Path(args.json).write_text(result.to_json(), encoding="utf-8")
        except OSError as e:
            return fail(f"--json {args.json}: {e}", 1)
        print(f"wrote {args.json}")
    return 0


def _add_inspect_prior_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ins = commands.add_parser(
        "inspect-prior",
        help="check a prior package on an env before customizing it (spaces, env, add-on, entropy, returns)",
        description="Check a prior package on the env you mean to customize it on, before training: that its "
        "observation and action spaces fit the env's, that the env runs under it and the add-on returns a finite "
        "number after every step; then how sure the prior is on the states it visits (entropy per step, the spread "
        "of its log-probabilities), with a warning when it is nearly deterministic, and its basic / add-on returns "
        "(deterministic on seeds 10000.., the 'prior alone' row of rql4j customize). Needs the 'priors' extra (torch).",
    )
    ins.add_argument("prior", metavar="PRIOR_DIR", help="a prior package folder (prior.json + policy.pt)")
    ins.add_argument("--env-id", required=True, metavar="ID", help="the Gymnasium id to customize on")
    ins.add_argument(
        "--addon",
        metavar="MODULE:FUNCTION",
        help="the requirement: a reward function called after every step (it must return a finite number)",
    )
    ins.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, to register the env id it defines (repeatable)",
    )
    ins.add_argument(
        "--episodes", type=_int_at_least(1), default=3, metavar="N",
        help="episodes sampled from the prior, and as many deterministic ones (default: 3)",
    )  # fmt: skip
    ins.add_argument(
        "--max-steps", type=_int_at_least(1), default=2000, metavar="N",
        help="steps in all of each (sampled, deterministic); an episode still running then is cut off (default: 2000)",
    )  # fmt: skip
    ins.add_argument("--seed", type=int, default=0, help="the first sampled episode's seed, and the sampling's")
    ins.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="print the report as one JSON object instead of text (with FILE: write it to FILE, print the text)",
    )
    ins.set_defaults(func=_inspect_prior)


def _inspect_prior(args: argparse.Namespace) -> int:
    def fail(message: str, code: int) -> int:
        print(f"rql4j-bridge inspect-prior: error: {' '.join(message.split())}", file=sys.stderr)
        return code

    to_file = args.json not in (None, "-")
    if to_file and (Path(args.json).is_dir() or not Path(args.json).absolute().parent.is_dir()):
        return fail(f"--json {args.json}: not a file in an existing folder", 2)
    try:
        from rql4j_bridge.prior.inspection import inspect_prior
    except ImportError as e:
        return fail(f"{e}; install the priors extra: pip install 'rql4j-bridge[priors]'", 2)
    cwd = os.getcwd()  # the add-on's and the imports' modules are found in the working directory too
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)
    try:
        report = inspect_prior(
            args.prior,
            args.env_id,
            addon=args.addon,
            imports=args.imports,
            episodes=args.episodes,
            max_steps=args.max_steps,
            seed=args.seed,
        )
    except ImportError as e:
        return fail(str(e), 2)
    except (OSError, ValueError, TypeError, gymnasium.error.Error) as e:
        return fail(str(e), 1)
    if args.json == "-":
        sys.stdout.write(report.to_json())
        return 0
    print(report.text(), end="")
    if to_file:
        try:
            Path(args.json).write_text(report.to_json(indent=2), encoding="utf-8")
        except OSError as e:
            return fail(f"--json {args.json}: {e}", 1)
        print(f"wrote {args.json}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:  # the training pipeline has its own parser (rql4j_bridge.train)
        try:
            from rql4j_bridge.train.__main__ import main as train_main
        except ModuleNotFoundError as e:
            print(f"rql4j-bridge train: error: {e}; install the priors extra: pip install 'rql4j-bridge[priors]'",
                  file=sys.stderr)  # fmt: skip
            return 2

        return int(train_main(argv[1:]))
    if argv[:1] == ["customize"]:  # rql4j_bridge.customize's own parser (options after -- go to `rql4j customize`)
        from rql4j_bridge.customized.customize import main as customize_main

        return customize_main(argv[1:])
    args = build_parser().parse_args(argv)
    args.argv = argv
    if getattr(args, "imports", None) or getattr(args, "addons", None):
        # the working directory's modules are importable by name for --import / --addon (also through the
        # console script, whose sys.path starts with its own bin folder), but LAST on the path: a file there
        # cannot shadow a module of the standard library or of site-packages that a request later makes the
        # server import (torch on the first LoadPrior, an env's simulator on Make)
        cwd = os.getcwd()
        if cwd not in sys.path and "" not in sys.path:
            sys.path.append(cwd)
    return int(args.func(args))


def _json_object(text: str, flag: str) -> dict[str, object] | None:
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"rql4j-bridge export: error: {flag} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise ValueError(f"rql4j-bridge export: error: {flag} must be a JSON object, got {text[:80]}")
    return value


def _export(args: argparse.Namespace) -> int:
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level, format="rql4j-bridge export %(levelname)s: %(message)s"
    )
    try:
        env_kwargs = _json_object(args.env_kwargs, "--env-kwargs")
        module_kwargs = _json_object(args.module_kwargs, "--module-kwargs")
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    if args.env_id:
        import rql4j_bridge.tasks  # noqa: F401  (registers rql4j/<task>-<variant>-v0)
    for module in args.imports:
        try:
            importlib.import_module(module)
        except Exception as e:
            print(f"rql4j-bridge export: error: --import {module} failed: {type(e).__name__}: {e}{_MODULE_PATH_HINT}",
                  file=sys.stderr)
            return 2
    try:
        from rql4j_bridge.prior.export import ExportError, export_checkpoint
    except ImportError as e:
        print(
            f"rql4j-bridge export: error: {e}; install the priors extra: pip install 'rql4j-bridge[priors]'",
            file=sys.stderr,
        )
        return 2
    try:
        out = export_checkpoint(
            args.kind,
            args.checkpoint,
            args.out,
            name=args.name,
            temperature=args.temperature,
            env_id=args.env_id,
            env_kwargs=env_kwargs,
            allow_unpickle=args.allow_unpickle,
            module_class=args.module_class,
            module_kwargs=module_kwargs,
            distribution=args.distribution,
            seed=args.seed,
            activation=args.activation,
            noise_std=args.noise_std,
            command="rql4j-bridge " + shlex.join(args.argv),
        )
    except ExportError as e:
        print(f"rql4j-bridge export: error: {e}", file=sys.stderr)
        return 1
    sidecar = json.loads((out / "prior.json").read_text(encoding="utf-8"))
    print(
        f"exported {args.kind} {args.checkpoint} -> {out} ({sidecar['distribution']}, observation dim "
        f"{sidecar['observation']['dim']}, action space {sidecar['action_space']['type']})"
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    port_out = _detach_stdout()
    if not _prepare_serving(args):
        return 2
    ok, args.auth_token = _auth_token(args)
    if not ok:
        return 2

    # Imported here so that `--help` stays fast.
    from rql4j_bridge.env_server import EnvServicer

    servicer = EnvServicer(
        max_snapshots=args.max_snapshots,
        addon_modules=addon_modules(args),
        **servicer_limits(args),
        **servicer_backend(args),
    )
    serving = _serve_aio if args.server == "aio" else _serve_threads
    return serving(args, servicer, port_out)


_MODULE_PATH_HINT = (
    "; modules are found in the working directory and on PYTHONPATH (bin/rql4j and the Java PythonServer start "
    "the env server in the caller's working directory)"
)


def addon_modules(args: argparse.Namespace) -> list[str]:
    """The modules imported at start, those of --import and --addon: the only ones Make requests may name (as the
    module of an add-on reward or of a 'module:EnvId' id)."""
    return [*args.imports, *(t.partition(":")[0] for t in args.addons)]


def servicer_limits(args: argparse.Namespace) -> dict[str, int]:
    """The EnvServicer bounds of the common serve options (--max-num-envs, --max-open-envs, ...)."""
    return {
        "max_num_envs": args.max_num_envs,
        "max_open_envs": args.max_open_envs,
        "max_step_sockets": args.max_step_sockets,
        "max_step_frame_bytes": args.max_step_frame_bytes,
        "max_env_workers": args.max_env_workers,
    }


def servicer_backend(args: argparse.Namespace) -> dict[str, Any]:
    """Where the EnvServicer keeps the copies (--workers, --ray), and what its workers import first."""
    return {
        "workers": args.workers,
        "worker_imports": [*args.imports, *AUTO_IMPORTS],
        "step_socket_spin_us": args.step_socket_spin_us,
        "ray_backend": getattr(args, "ray_backend", None),
    }


def _connect_ray(args: argparse.Namespace) -> bool:
    """--ray: connects to the cluster (args.ray_backend); False, with the reason logged, when it cannot."""
    args.ray_backend = None
    if not getattr(args, "ray", None):
        return True
    from rql4j_bridge.ray_backend import RayBackend, RayUnavailableError

    try:
        args.ray_backend = RayBackend(
            args.ray,
            modules=addon_modules(args),
            cpus_per_worker=args.ray_cpus_per_worker,
            allow_unauthenticated=args.ray_allow_unauthenticated,
        )
    except (RayUnavailableError, ValueError) as e:
        _log.error("%s", e)
        return False
    return True


def _disconnect_ray(args: argparse.Namespace) -> None:
    """At the server's stop, after its envs closed: leaves the Ray cluster (``--ray local``: stops it)."""
    backend = getattr(args, "ray_backend", None)
    if backend is not None:
        try:
            backend.shutdown()
        except Exception:
            _log.exception("leaving the Ray cluster failed")


def _prepare_serving(args: argparse.Namespace) -> bool:
    """Logging, the imports that register env ids, and the common options' checks; False on a bad one."""
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s rql4j-bridge %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:  # a request's 50 MB field must not become a 50 MB log line
        handler.setFormatter(_BoundedFormatter(handler.formatter._fmt if handler.formatter else None))
    logging.captureWarnings(True)  # the envs' warnings (which may quote a request's fields) go through it too
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    for module in args.imports:
        try:
            importlib.import_module(module)
        except Exception as e:
            _log.error("--import %s failed: %s: %s%s", module, type(e).__name__, e, _MODULE_PATH_HINT)
            return False
    from rql4j_bridge.tasks.core import resolve, takes_env

    for target in args.addons:
        try:
            takes_env(resolve(target, "--addon"), "--addon")
        except ValueError as e:
            _log.error("%s", e)
            return False
    for module in AUTO_IMPORTS:
        if module not in args.imports:
            try:
                importlib.import_module(module)
            except ImportError:
                pass
            except Exception:
                _log.warning("importing %s failed; its envs are not registered", module, exc_info=True)
    if args.max_snapshots < 0:
        _log.error("--max-snapshots must be >= 0, got %d", args.max_snapshots)
        return False
    return _connect_ray(args)


class _BoundedFormatter(logging.Formatter):
    """Cuts a log record (message and traceback) to :data:`LOG_RECORD_LIMIT` characters, saying how long it was."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if len(text) <= LOG_RECORD_LIMIT:
            return text
        return f"{text[:LOG_RECORD_LIMIT]} ... [{len(text) - LOG_RECORD_LIMIT} more characters cut]"


def _serve_py4j(args: argparse.Namespace) -> int:
    port_out = _detach_stdout()
    if not _prepare_serving(args):
        return 2
    if args.log_level != "DEBUG":
        # py4j logs every call at INFO ("Received command c on object id t"): one stderr line per env
        # step, which the Java launcher then reads; keep py4j to warnings unless debugging
        logging.getLogger("py4j").setLevel(logging.WARNING)
    ok, token = _auth_token(args)
    if not ok:
        return 2
    from rql4j_bridge.env_server import EnvServicer
    from rql4j_bridge.py4j_server import Py4jBridgeService, serve_py4j, stop_py4j

    service = Py4jBridgeService(
        EnvServicer(
            max_snapshots=args.max_snapshots,
            addon_modules=addon_modules(args),
            **servicer_limits(args),
            **servicer_backend(args),
        )
    )
    try:
        gateway, port = serve_py4j(args.host, args.port, token, service)
    except OSError as e:
        _log.error("%s", e)
        return 1
    return _run_until_stopped(
        args, port, port_out, lambda: (stop_py4j(gateway), service.close_all(), _disconnect_ray(args))
    )


def _run_until_stopped(args: argparse.Namespace, port: int, port_out: TextIO, stop: Callable[[], object]) -> int:
    """Announces the port, waits for a signal (or stdin EOF), then runs ``stop``; returns 0."""
    stop_requested = threading.Event()
    reasons: list[str] = []

    def request_stop(reason: str) -> None:
        reasons.append(reason)
        stop_requested.set()

    _stop_on_signals_and_eof(args, request_stop)
    _announce(args, port, port_out)
    while not stop_requested.wait(0.5):
        pass
    _log.info("stopping (%s)", reasons[0] if reasons else "requested")
    stop()
    _log.info("stopped")
    return 0


def _stop_on_signals_and_eof(args: argparse.Namespace, request_stop: Callable[[str], None]) -> None:
    if getattr(args, "own_process_group", False) and hasattr(os, "setpgid"):
        try:
            os.setpgid(0, 0)  # the terminal's Ctrl-C goes to the launcher's group, not to this one
        except OSError as e:
            _log.warning("cannot start a process group of its own (%s): Ctrl-C in the terminal also stops it", e)
    signal.signal(signal.SIGTERM, lambda *_: request_stop("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: request_stop("SIGINT"))
    if args.exit_on_stdin_eof:
        threading.Thread(target=_watch_stdin, args=(request_stop,), name="rql4j-stdin", daemon=True).start()


def _announce(args: argparse.Namespace, port: int, port_out: TextIO) -> None:
    port_out.write(f"{PORT_LINE_PREFIX}{port}\n")
    port_out.flush()
    _log.info(
        "serving %s on %s:%d (%s server, bridge %s, Python %s, gymnasium %s, pid %d)",
        PROTOCOL,
        args.host,
        port,
        args.server,
        __version__,
        sys.version.split()[0],
        gymnasium.__version__,
        os.getpid(),
    )


def _serve_threads(args: argparse.Namespace, servicer: EnvServicer, port_out: TextIO) -> int:
    from rql4j_bridge.env_server import serve

    try:
        server, port = serve(args.host, args.port, args.max_workers, servicer, auth_token=args.auth_token)
    except OSError as e:
        _log.error("%s", e)
        return 1
    return _run_until_stopped(
        args,
        port,
        port_out,
        lambda: (server.stop(grace=STOP_GRACE_S).wait(), servicer.close_all(), _disconnect_ray(args)),
    )


def _serve_aio(args: argparse.Namespace, servicer: EnvServicer, port_out: TextIO) -> int:
    from rql4j_bridge.env_server import serve_aio

    async def run() -> int:
        try:
            server, port = await serve_aio(args.host, args.port, servicer, auth_token=args.auth_token)
        except OSError as e:
            _log.error("%s", e)
            return 1
        loop = asyncio.get_running_loop()
        stop_requested = asyncio.Event()
        reasons: list[str] = []

        def request_stop(reason: str) -> None:
            reasons.append(reason)
            loop.call_soon_threadsafe(stop_requested.set)

        _stop_on_signals_and_eof(args, request_stop)
        _announce(args, port, port_out)
        await stop_requested.wait()
        _log.info("stopping (%s)", reasons[0] if reasons else "requested")
        await server.stop(grace=STOP_GRACE_S)
        servicer.close_all()
        _disconnect_ray(args)
        _log.info("stopped")
        return 0

    return asyncio.run(run())


def _detach_stdout() -> TextIO:
    """Returns a writer on the original stdout and points file descriptor 1 (and sys.stdout) at stderr."""
    sys.stdout.flush()
    port_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(port_fd, "w", encoding="ascii")


def _watch_stdin(request_stop: Callable[[str], None]) -> None:
    """Reads stdin until end of file, then requests a stop and, failing that, exits hard."""
    try:
        fd = sys.stdin.fileno() if sys.stdin is not None else -1
        while fd >= 0 and os.read(fd, 65536):
            pass
    except (OSError, ValueError):
        pass
    request_stop("stdin reached end of file")
    time.sleep(HARD_EXIT_AFTER_S)
    _log.warning("graceful stop took over %.0f s; exiting now", HARD_EXIT_AFTER_S)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
