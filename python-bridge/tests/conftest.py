"""Shared fixtures: a real in-process bridge server on a free loopback port and a stub for it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import grpc
import pytest

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from rql4j_bridge.env_server import EnvServicer, serve  # noqa: E402
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc  # noqa: E402


@pytest.fixture(scope="session")
def servicer() -> EnvServicer:
    return EnvServicer()


@pytest.fixture(scope="session")
def server_port(servicer: EnvServicer) -> Iterator[int]:
    server, port = serve("127.0.0.1", 0, max_workers=16, servicer=servicer)
    yield port
    server.stop(grace=None).wait()
    servicer.close_all()


@pytest.fixture(scope="session")
def stub(server_port: int) -> Iterator[pb_grpc.EnvServiceStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{server_port}")
    grpc.channel_ready_future(channel).result(timeout=10)
    yield pb_grpc.EnvServiceStub(channel)
    channel.close()
