"""Benchmark (not a test): env steps/s of the env server's backends: its own process, worker processes, Ray actors.

Usage: bench_env_workers.py [--rounds 3] [--no-ray] [--doc docs/benchmarks.md]  (``make bench-workers``)

For each env and number of copies (1, 2, 4) it makes the env on an ``EnvServicer`` without workers,
on one with ``workers = copies`` worker processes, and (unless ``--no-ray``) on one with ``copies`` Ray
actors on a one-node Ray started here (``--ray local``: token authentication, 4 logical CPUs so that 4
actors fit on 2 cores), resets each with the same seed and times the server's own step
handler (decode the action, step every copy, encode the reply: what one Step RPC or step-socket frame
costs the server, without the transport) over the same random actions. Rounds take turns over all
configurations; the table has the median round. Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rql4j_bridge.env_server import EnvServicer
from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.tensors import to_value

# env id, steps per measurement, warm-up steps
ENVS = [
    ("CartPole-v1", 3000, 200),
    ("rql4j/halfcheetah-speedcap-addon-v0", 1500, 100),
    ("rql4j/highway-rightlane-addon-v0", 60, 3),
]
SIZES = [1, 2, 4]
MARK = "env-workers-benchmark"


def measure(servicer: EnvServicer, env_id: str, n: int, steps: int, warmup: int) -> float:
    """Env steps/s of ``steps`` calls of the server's step handler on ``n`` copies (after ``warmup``)."""
    made = servicer.Make(pb.MakeRequest(env_id=env_id, num_envs=n), None)
    env = servicer._envs[made.env_handle]
    try:
        servicer.Reset(pb.ResetRequest(env_handle=made.env_handle, seeds=[0]), None)
        space = env.vec.action_space
        space.seed(0)
        requests = [
            pb.StepRequest(env_handle=made.env_handle, action=to_value(space.sample(), space))
            for _ in range(warmup + steps)
        ]
        for r in requests[:warmup]:
            servicer._step(env, r)
        t0 = time.perf_counter()
        for r in requests[warmup:]:
            servicer._step(env, r)
        return n * steps / (time.perf_counter() - t0)
    finally:
        servicer.Close(pb.CloseRequest(env_handle=made.env_handle), None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--doc", type=Path, default=None, help="write the section into this markdown file")
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    p.add_argument("--scale", type=float, default=1.0, help="scale the steps timed (a quick check: 0.05)")
    p.add_argument("--no-ray", action="store_true", help="leave out the Ray backend")
    args = p.parse_args()
    import highway_env  # noqa: F401  (registers highway-v0 for the task env)

    ray_backend = None
    if not args.no_ray:
        from rql4j_bridge.ray_backend import RayBackend

        ray_backend = RayBackend("local", modules=["rql4j_bridge.tasks"], num_cpus=max(SIZES))
    backends = ["inproc", "workers"] + (["ray"] if ray_backend is not None else [])
    results: dict[str, list[float]] = {}
    for r in range(args.rounds):
        for env_id, steps, warmup in ENVS:
            for n in SIZES:
                for backend in backends:
                    servicer = EnvServicer(
                        workers=0 if backend == "inproc" else n,
                        worker_imports=["highway_env", "rql4j_bridge.tasks"],
                        ray_backend=ray_backend if backend == "ray" else None,
                    )
                    try:
                        rate = measure(servicer, env_id, n, max(2, int(steps * args.scale)), warmup)
                    finally:
                        servicer.close_all()
                    key = f"{env_id}|{n}|{backend}"
                    results.setdefault(key, []).append(rate)
                    print(f"round {r + 1} {env_id} copies {n} {backend}: {rate:.1f} env steps/s", flush=True)
    when = datetime.now(UTC).isoformat(timespec="seconds")
    load = os.getloadavg()[0]
    rows = []
    for env_id, steps, _ in ENVS:
        for n in SIZES:
            medians = {b: statistics.median(results[f"{env_id}|{n}|{b}"]) for b in backends}
            rows.append((env_id, n, max(2, int(steps * args.scale)), medians))
    ray_note = (
        " and one with one Ray actor per copy on a one-node Ray started by the benchmark (`serve --ray local`: "
        f"token authentication, {max(SIZES)} logical CPUs for the actors on the machine's {os.cpu_count()} cores)"
        if ray_backend is not None
        else ""
    )
    head = "| env | copies | steps timed | in the server's process: env steps/s | worker processes: env steps/s | "
    head += "workers / in-process | per step, workers minus in-process (µs) |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    if ray_backend is not None:
        head += " Ray actors: env steps/s | Ray / in-process | per step, Ray minus in-process (µs) |"
        rule += "---:|---:|---:|"
    md = [
        "## Env server backends: copies in the server's process vs worker processes vs Ray actors",
        "",
        f"Command: `make bench-workers` (runs `compat-tests/python/bench_env_workers.py --rounds {args.rounds}`). "
        f"Measured {when} on {platform.processor() or platform.machine()} ({os.cpu_count()} cores), 1-minute load "
        f"average {load:.2f} at the end. The server's own step handler (decode the action, step every copy, encode "
        "the reply; no transport), timed over the same seeded random actions on an `EnvServicer` without workers, "
        f"one with one worker process per copy (`serve --workers N`){ray_note}; the median of "
        f"{args.rounds} rounds that take turns over all rows. Env steps/s = copies x steps / seconds.",
        "",
        head,
        rule,
    ]
    for env_id, n, steps, m in rows:
        line = f"| `{env_id}` | {n} | {steps} | {m['inproc']:.1f} |"
        for b in backends[1:]:
            extra_us = (n / m[b] - n / m["inproc"]) * 1e6
            line += f" {m[b]:.1f} | {m[b] / m['inproc']:.2f} | {extra_us:+.0f} |"
        md.append(line)
    text = "\n".join(md) + "\n"
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"date": when, "load": load, "rounds": results}, indent=1) + "\n")
    if args.doc:
        doc = args.doc.read_text(encoding="utf-8")
        block = f"<!-- {MARK}:start -->\n{text}<!-- {MARK}:end -->"
        pattern = re.compile(rf"<!-- {MARK}:start -->.*?<!-- {MARK}:end -->", re.S)
        doc = pattern.sub(lambda _: block, doc) if pattern.search(doc) else doc.rstrip("\n") + "\n\n" + block + "\n"
        args.doc.write_text(doc, encoding="utf-8")
        print(f"wrote {args.doc}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
