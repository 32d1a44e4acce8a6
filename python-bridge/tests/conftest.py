"""Shared fixtures: a real in-process bridge server on a free loopback port and a stub for it."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator

import grpc
import pytest

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from rql4j_bridge.env_server import EnvServicer, serve, serve_aio  # noqa: E402
from rql4j_bridge.proto.rql4j.v1 import env_pb2_grpc as pb_grpc  # noqa: E402


@pytest.fixture(scope="session", params=["threads", "aio"])
def server_port(request: pytest.FixtureRequest) -> Iterator[int]:
    """Every server test runs against both server kinds: the thread pool and grpc.aio."""
    servicer = EnvServicer()
    if request.param == "threads":
        server, port = serve("127.0.0.1", 0, max_workers=16, servicer=servicer)
        yield port
        server.stop(grace=None).wait()
    else:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="aio-server", daemon=True)
        thread.start()
        aio_server, port = asyncio.run_coroutine_threadsafe(serve_aio("127.0.0.1", 0, servicer), loop).result(10)
        yield port
        asyncio.run_coroutine_threadsafe(aio_server.stop(None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    servicer.close_all()


@pytest.fixture(scope="session")
def stub(server_port: int) -> Iterator[pb_grpc.EnvServiceStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{server_port}")
    grpc.channel_ready_future(channel).result(timeout=10)
    yield pb_grpc.EnvServiceStub(channel)
    channel.close()
