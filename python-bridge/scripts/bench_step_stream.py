#!/usr/bin/env python3
"""Latency of lockstep StepStream messages (and unary Step) against a bridge server subprocess.

Starts ``python -m rql4j_bridge serve --exit-on-stdin-eof`` (the real CLI, its own process and
GIL), makes CartPole-v1 with each ``--num-envs``, and times request -> response round trips from
a Python gRPC client after a warm-up. Also times the env's own ``SyncVectorEnv.step`` in-process
so that the bridge's overhead can be read off. Example::

    python python-bridge/scripts/bench_step_stream.py --num-envs 1 64 --steps 1000
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import grpc
import gymnasium
import numpy as np

from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc
from rql4j_bridge.tensors import to_value


def summary(samples_s: list[float]) -> str:
    us = sorted(s * 1e6 for s in samples_s)
    pct = lambda q: us[min(len(us) - 1, int(q * len(us)))]  # noqa: E731
    return f"median {statistics.median(us):7.1f} us  p90 {pct(0.9):7.1f}  p99 {pct(0.99):7.1f}  (n={len(us)})"


def bench_stream(stub: pb_grpc.EnvServiceStub, handle: str, actions: list[pb.Value], warmup: int) -> list[float]:
    requests: queue.Queue[pb.StepRequest | None] = queue.Queue()

    def feed() -> Iterator[pb.StepRequest]:
        while (request := requests.get()) is not None:
            yield request

    responses = stub.StepStream(feed())
    samples = []
    for i, action in enumerate(actions):
        start = time.perf_counter()
        requests.put(pb.StepRequest(env_handle=handle, action=action))
        next(responses)
        if i >= warmup:
            samples.append(time.perf_counter() - start)
    requests.put(None)
    for _ in responses:
        pass
    return samples


def bench_unary(stub: pb_grpc.EnvServiceStub, handle: str, actions: list[pb.Value], warmup: int) -> list[float]:
    samples = []
    for i, action in enumerate(actions):
        start = time.perf_counter()
        stub.Step(pb.StepRequest(env_handle=handle, action=action))
        if i >= warmup:
            samples.append(time.perf_counter() - start)
    return samples


def bench_in_process(num_envs: int, actions: np.ndarray, warmup: int) -> list[float]:
    vec = gymnasium.vector.SyncVectorEnv(
        [lambda: gymnasium.make("CartPole-v1") for _ in range(num_envs)],
        copy=False,
        autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP,
    )
    vec.reset(seed=0)
    samples = []
    for i, action in enumerate(actions):
        start = time.perf_counter()
        vec.step(action)
        if i >= warmup:
            samples.append(time.perf_counter() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-m", "rql4j_bridge", "serve", "--exit-on-stdin-eof", "--log-level", "WARNING"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYGAME_HIDE_SUPPORT_PROMPT": "1"},
    )
    try:
        line = server.stdout.readline().decode()
        port = int(line.strip().split("=", 1)[1])
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = pb_grpc.EnvServiceStub(channel)
        print(f"python {sys.version.split()[0]}, grpcio {grpc.__version__}, {os.cpu_count()} CPUs")
        for n in args.num_envs:
            rng = np.random.default_rng(0)
            raw = [rng.integers(0, 2, size=n) for _ in range(args.warmup + args.steps)]
            actions = [to_value(a) for a in raw]
            handle = stub.Make(pb.MakeRequest(env_id="CartPole-v1", num_envs=n)).env_handle
            stub.Reset(pb.ResetRequest(env_handle=handle, seeds=[0]))
            stream = bench_stream(stub, handle, actions, args.warmup)
            unary = bench_unary(stub, handle, actions, args.warmup)
            local = bench_in_process(n, np.array(raw), args.warmup)
            print(f"CartPole-v1 num_envs={n:3d}  StepStream  {summary(stream)}")
            print(f"CartPole-v1 num_envs={n:3d}  unary Step  {summary(unary)}")
            print(f"CartPole-v1 num_envs={n:3d}  in-process  {summary(local)}  (SyncVectorEnv.step alone)")
            stub.Close(pb.CloseRequest(env_handle=handle))
        channel.close()
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
