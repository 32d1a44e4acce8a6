"""The PriorService over real gRPC (both server kinds): answers equal the in-process PriorPackage; error codes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from gymnasium import spaces  # noqa: E402
from torch import nn  # noqa: E402

from rql4j_bridge.env_server import serve, serve_aio  # noqa: E402
from rql4j_bridge.prior.package import PriorPackage, load_prior_package, save_prior_package  # noqa: E402
from rql4j_bridge.prior.service import PriorServicer  # noqa: E402
from rql4j_bridge.proto.rql4j.v1 import prior_pb2 as ppb  # noqa: E402
from rql4j_bridge.proto.rql4j.v1 import prior_pb2_grpc as ppb_grpc  # noqa: E402
from rql4j_bridge.tensors import from_tensor, to_tensor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

OBS = spaces.Box(-2, 2, (4,), np.float32)


class Logits(nn.Module):
    def __init__(self, n: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, n))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.net(obs), dim=-1)


class Gaussian(nn.Module):
    def __init__(self, d: int = 2) -> None:
        super().__init__()
        self.mu = nn.Linear(4, d)
        self.ls = nn.Linear(4, d)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mu(obs), torch.tanh(self.ls(obs)) - 0.5


class NanRows(nn.Module):
    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out = torch.log_softmax(obs[:, :3], dim=-1)
        return torch.where(obs[:, :1] > 0, torch.full_like(out, float("nan")), out)


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("priors")
    torch.manual_seed(0)
    box = spaces.Box(np.array([-1, 0], np.float32), np.array([1, 4], np.float32), dtype=np.float32)
    made = {
        "categorical": save_prior_package(
            root / "cat", Logits(), name="cat", distribution="categorical", observation_space=OBS,
            action_space=spaces.Discrete(3, start=1), source_kind="bc",
        ),
        "squashed_gaussian": save_prior_package(
            root / "sq", Gaussian(), name="sq", distribution="squashed_gaussian", observation_space=OBS,
            action_space=box, source_kind="torch-module",
        ),
        "diag_gaussian": save_prior_package(
            root / "diag", Gaussian(), name="diag", distribution="diag_gaussian", observation_space=OBS,
            action_space=box, source_kind="torch-module",
        ),
        "nan": save_prior_package(
            root / "nan", NanRows(), name="nan", distribution="categorical", observation_space=OBS,
            action_space=spaces.Discrete(3), source_kind="torch-module",
        ),
    }  # fmt: skip
    broken = root / "broken"
    broken.mkdir()
    sidecar = json.loads((made["categorical"] / "prior.json").read_text())
    sidecar["observation"]["dim"] = 7
    (broken / "prior.json").write_text(json.dumps(sidecar))
    (broken / "policy.pt").write_bytes((made["categorical"] / "policy.pt").read_bytes())
    made["broken"] = broken
    return made


@pytest.fixture(scope="module", params=["threads", "aio"])
def stub(request: pytest.FixtureRequest) -> Iterator[ppb_grpc.PriorServiceStub]:
    servicer = PriorServicer()
    if request.param == "threads":
        server, port = serve("127.0.0.1", 0, max_workers=8, prior_servicer=servicer)
        stop = lambda: server.stop(grace=None).wait()  # noqa: E731
    else:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        aio_server, port = asyncio.run_coroutine_threadsafe(
            serve_aio("127.0.0.1", 0, prior_servicer=servicer), loop
        ).result(10)

        def stop() -> None:
            asyncio.run_coroutine_threadsafe(aio_server.stop(None), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)

    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=10)
    yield ppb_grpc.PriorServiceStub(channel)
    channel.close()
    stop()
    servicer.release_all()


def obs_batch(b: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2, 2, (b, 4)).astype(np.float32)


def query(
    handle: str, obs: np.ndarray, actions: Any = None, seed: int = 0, deterministic: bool = False
) -> ppb.PriorQuery:
    q = ppb.PriorQuery(prior_handle=handle, observations=to_tensor(obs), seed=seed, deterministic=deterministic)
    if actions is not None:
        q.actions.CopyFrom(to_tensor(actions))
    return q


def load(stub: ppb_grpc.PriorServiceStub, path: Path) -> tuple[str, PriorPackage]:
    response = stub.LoadPrior(ppb.LoadPriorRequest(path=str(path)))
    assert response.sidecar_json == (path / "prior.json").read_text()
    return response.prior_handle, load_prior_package(path)


def error_of(call: Any, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    return info.value


def assert_status(error: grpc.RpcError, code: grpc.StatusCode, *fragments: str) -> None:
    assert error.code() == code, f"{error.code()}: {error.details()}"
    for fragment in fragments:
        assert fragment in error.details(), f"{fragment!r} not in {error.details()!r}"


def test_categorical_answers_equal_in_process(stub: ppb_grpc.PriorServiceStub, packages: dict[str, Path]) -> None:
    handle, prior = load(stub, packages["categorical"])
    obs = obs_batch()
    lp = from_tensor(stub.LogProbsAll(query(handle, obs)).log_probs)
    assert lp.dtype == np.float32
    np.testing.assert_array_equal(lp, prior.log_probs_all(obs))
    actions = np.random.default_rng(1).integers(1, 4, 64).astype(np.int64)
    got = from_tensor(stub.LogProb(query(handle, obs, actions)).log_prob)
    assert got.dtype == np.float32 and got.shape == (64,)
    np.testing.assert_array_equal(got, prior.log_prob(obs, actions).astype(np.float32))
    sampled = from_tensor(stub.Sample(query(handle, obs, seed=42)).actions)
    assert sampled.dtype == np.int64
    np.testing.assert_array_equal(sampled, prior.sample(obs, generator=torch.Generator().manual_seed(42)))
    np.testing.assert_array_equal(from_tensor(stub.Sample(query(handle, obs, seed=42)).actions), sampled)
    mode = from_tensor(stub.Sample(query(handle, obs, deterministic=True)).actions)
    np.testing.assert_array_equal(mode, lp.argmax(1) + 1)
    unseeded = from_tensor(stub.Sample(query(handle, obs)).actions)
    assert set(unseeded.tolist()) <= {1, 2, 3}
    assert_status(error_of(stub.Distribution, query(handle, obs)), grpc.StatusCode.INVALID_ARGUMENT, "use LogProbsAll")
    assert_status(error_of(stub.LogProb, query(handle, obs, actions + 3)), grpc.StatusCode.INVALID_ARGUMENT, "outside")
    assert_status(
        error_of(stub.LogProb, query(handle, obs, actions.astype(np.float32))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INT64 [64]",
    )
    assert_status(error_of(stub.LogProb, query(handle, obs)), grpc.StatusCode.INVALID_ARGUMENT, "actions are missing")
    stub.ReleasePrior(ppb.ReleasePriorRequest(prior_handle=handle))


@pytest.mark.parametrize("distribution", ["squashed_gaussian", "diag_gaussian"])
def test_gaussian_answers_equal_in_process(
    stub: ppb_grpc.PriorServiceStub, packages: dict[str, Path], distribution: str
) -> None:
    handle, prior = load(stub, packages[distribution])
    obs = obs_batch(50, 2)
    response = stub.Distribution(query(handle, obs))
    mean, log_std = prior.distribution_params(obs)
    np.testing.assert_array_equal(from_tensor(response.mean), mean)
    np.testing.assert_array_equal(from_tensor(response.log_std), log_std)
    rng = np.random.default_rng(3)
    actions = rng.uniform(-0.99, 0.99, (50, 2)).astype(np.float32)
    got = from_tensor(stub.LogProb(query(handle, obs, actions)).log_prob)
    np.testing.assert_array_equal(got, prior.log_prob(obs, actions).astype(np.float32))
    sampled = from_tensor(stub.Sample(query(handle, obs, seed=7)).actions)
    assert sampled.dtype == np.float32 and sampled.shape == (50, 2)
    np.testing.assert_array_equal(sampled, prior.sample(obs, generator=torch.Generator().manual_seed(7)))
    mode = from_tensor(stub.Sample(query(handle, obs, deterministic=True)).actions)
    expected_mode = np.tanh(mean) if distribution == "squashed_gaussian" else mean
    np.testing.assert_allclose(mode, expected_mode, rtol=1e-6, atol=1e-7)
    assert_status(
        error_of(stub.LogProbsAll, query(handle, obs)), grpc.StatusCode.INVALID_ARGUMENT, "needs a categorical prior"
    )
    if distribution == "squashed_gaussian":
        assert_status(
            error_of(stub.LogProb, query(handle, obs, actions * 2)), grpc.StatusCode.INVALID_ARGUMENT, "[-1, 1]"
        )
    stub.ReleasePrior(ppb.ReleasePriorRequest(prior_handle=handle))


def test_observation_errors(stub: ppb_grpc.PriorServiceStub, packages: dict[str, Path]) -> None:
    handle, _ = load(stub, packages["categorical"])
    obs = obs_batch(5)
    cases = [
        (query(handle, obs.astype(np.float64)), "FLOAT32 [B, 4]"),
        (query(handle, obs[:, :3]), "got shape [5, 3]"),
        (query(handle, obs.reshape(-1)), "got shape [20]"),
        (ppb.PriorQuery(prior_handle=handle), "observations are missing"),
    ]
    for request, fragment in cases:
        assert_status(error_of(stub.LogProbsAll, request), grpc.StatusCode.INVALID_ARGUMENT, fragment)
    bad_bytes = query(handle, obs)
    bad_bytes.observations.data = b"\x00" * 7
    assert_status(error_of(stub.LogProbsAll, bad_bytes), grpc.StatusCode.INVALID_ARGUMENT, "needs 80 bytes")
    stub.ReleasePrior(ppb.ReleasePriorRequest(prior_handle=handle))


def test_handles_and_loading_errors(stub: ppb_grpc.PriorServiceStub, packages: dict[str, Path], tmp_path: Path) -> None:
    assert_status(
        error_of(stub.LoadPrior, ppb.LoadPriorRequest(path=str(tmp_path / "none"))),
        grpc.StatusCode.NOT_FOUND,
        "no prior package",
    )
    assert_status(
        error_of(stub.LoadPrior, ppb.LoadPriorRequest(path="")), grpc.StatusCode.INVALID_ARGUMENT, "path is empty"
    )
    assert_status(
        error_of(stub.LoadPrior, ppb.LoadPriorRequest(path=str(packages["broken"]))),
        grpc.StatusCode.FAILED_PRECONDITION,
        "prior.json",
        "observation.dim",
    )
    obs = obs_batch(3)
    assert_status(error_of(stub.LogProbsAll, query("nope", obs)), grpc.StatusCode.NOT_FOUND, "unknown prior handle")
    assert_status(error_of(stub.LogProbsAll, query("", obs)), grpc.StatusCode.NOT_FOUND, "prior_handle is empty")
    handle, _ = load(stub, packages["categorical"])
    stub.ReleasePrior(ppb.ReleasePriorRequest(prior_handle=handle))
    stub.ReleasePrior(ppb.ReleasePriorRequest(prior_handle=handle))  # idempotent
    assert_status(error_of(stub.LogProbsAll, query(handle, obs)), grpc.StatusCode.NOT_FOUND, "was released")
    assert_status(
        error_of(stub.ReleasePrior, ppb.ReleasePriorRequest(prior_handle="nope")), grpc.StatusCode.NOT_FOUND, "unknown"
    )


def test_nan_outputs_are_internal_errors_naming_the_rows(
    stub: ppb_grpc.PriorServiceStub, packages: dict[str, Path]
) -> None:
    handle, _ = load(stub, packages["nan"])
    obs = np.array([[-1, 0, 0, 0], [0.5, 0, 0, 0], [-0.5, 0, 0, 0], [2, 0, 0, 0]], np.float32)
    assert_status(error_of(stub.LogProbsAll, query(handle, obs)), grpc.StatusCode.INTERNAL, "NaN for rows [1, 3]")
    ok = from_tensor(stub.LogProbsAll(query(handle, obs[[0, 2]])).log_probs)
    assert np.isfinite(ok).all()
    stub.ReleasePrior(ppb.ReleasePriorRequest(prior_handle=handle))


def test_server_start_does_not_import_torch(packages: dict[str, Path]) -> None:
    script = f"""
import sys
import grpc
from rql4j_bridge.env_server import serve
from rql4j_bridge.proto.rql4j.v1 import prior_pb2 as ppb, prior_pb2_grpc as ppb_grpc
server, port = serve("127.0.0.1", 0)
assert "torch" not in sys.modules, "torch imported at start-up"
with grpc.insecure_channel(f"127.0.0.1:{{port}}") as channel:
    stub = ppb_grpc.PriorServiceStub(channel)
    stub.LoadPrior(ppb.LoadPriorRequest(path={str(packages["categorical"])!r}), timeout=60)
assert "torch" in sys.modules
server.stop(None)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
