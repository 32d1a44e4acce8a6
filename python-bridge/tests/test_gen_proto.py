"""The checked-in generated code matches a fresh generation from proto/rql4j/v1/env.proto."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

BRIDGE = Path(__file__).resolve().parents[1]
SCRIPT = BRIDGE / "scripts" / "gen_proto.py"
GRPC_FILE = BRIDGE / "src" / "rql4j_bridge" / "proto" / "rql4j" / "v1" / "env_pb2_grpc.py"


def test_generated_code_is_up_to_date() -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpcio-tools is not installed (pip install -e 'python-bridge[dev]')")
    from importlib.metadata import version

    generated_with = re.search(r"GRPC_GENERATED_VERSION = '([^']+)'", GRPC_FILE.read_text())
    assert generated_with is not None
    if version("grpcio-tools") != generated_with.group(1):
        pytest.skip(
            f"checked-in code comes from grpcio-tools {generated_with.group(1)}, installed {version('grpcio-tools')}"
        )
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
