"""While one client loads a prior (the first LoadPrior imports torch: seconds), another client's
env steps on the same server go on: at least 10 steps complete while it loads, and their p99 latency
stays under a tenth of the load's duration (a server that blocked would answer one step, after the
whole load). The bound is relative: on a busy machine every latency grows, the load's too."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest

from rql4j_bridge.proto.rql4j.v1 import env_pb2 as pb
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc
from rql4j_bridge.proto.rql4j.v1 import prior_pb2 as ppb
from rql4j_bridge.proto.rql4j.v1 import prior_pb2_grpc as ppb_grpc
from rql4j_bridge.tensors import to_value

TOKEN = "concurrency-token-0123456789abcdef"
GOOD = (("x-rql4j-token", TOKEN),)
PRIOR = Path(__file__).resolve().parents[2] / "examples" / "priors" / "cartpole-center-softdqn"


@pytest.mark.parametrize("kind", ["aio", "threads"])
def test_steps_go_on_while_another_client_loads_a_prior(kind: str) -> None:
    if not (PRIOR / "prior.json").is_file():
        pytest.skip("the shipped prior is not in this checkout")
    process = subprocess.Popen(
        [sys.executable, "-m", "rql4j_bridge", "serve", "--port", "0", "--exit-on-stdin-eof", "--server", kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RQL4J_BRIDGE_TOKEN": TOKEN},
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().split(b"=")[1])
        with grpc.insecure_channel(f"127.0.0.1:{port}") as steps_channel, grpc.insecure_channel(
            f"127.0.0.1:{port}"
        ) as prior_channel:
            env = pb_grpc.EnvServiceStub(steps_channel)
            handle = env.Make(pb.MakeRequest(env_id="CartPole-v1"), timeout=30, metadata=GOOD).env_handle
            env.Reset(pb.ResetRequest(env_handle=handle, seeds=[0]), timeout=10, metadata=GOOD)
            step = pb.StepRequest(env_handle=handle, action=to_value(np.zeros(1, np.int64)))
            for _ in range(50):  # warm up
                env.Step(step, timeout=10, metadata=GOOD)
            latencies: list[tuple[float, float]] = []  # (start, seconds)
            stop = threading.Event()

            def stepping() -> None:
                while not stop.is_set():
                    t = time.perf_counter()
                    reply = env.Step(step, timeout=30, metadata=GOOD)
                    latencies.append((t, time.perf_counter() - t))
                    if reply.terminated.data != b"\x00" or reply.truncated.data != b"\x00":
                        env.Reset(pb.ResetRequest(env_handle=handle), timeout=30, metadata=GOOD)

            worker = threading.Thread(target=stepping)
            worker.start()
            time.sleep(0.3)
            t0 = time.perf_counter()
            loaded = ppb_grpc.PriorServiceStub(prior_channel).LoadPrior(
                ppb.LoadPriorRequest(path=str(PRIOR)), timeout=120, metadata=GOOD
            )
            t1 = time.perf_counter()
            time.sleep(0.2)
            stop.set()
            worker.join(30)
        during = sorted(s for start, s in latencies if t0 <= start <= t1)
        assert loaded.prior_handle and len(during) >= 10, (len(during), t1 - t0)
        p99 = during[min(len(during) - 1, int(0.99 * len(during)))]
        print(f"\n{kind}: LoadPrior took {t1 - t0:.2f} s; {len(during)} steps meanwhile, p99 {p99 * 1000:.1f} ms, "
              f"max {during[-1] * 1000:.1f} ms")  # fmt: skip
        assert p99 < 0.1 * (t1 - t0), f"p99 step latency {p99 * 1000:.0f} ms while LoadPrior ran ({t1 - t0:.1f} s)"
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)
