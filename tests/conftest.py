"""Fixtures shared by every test package."""

import os
import shutil

import pytest

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared")


def require_tool(name: str, package: str = "prometheus") -> str:
    """Path of an external tool; skip when missing, but fail under CI (whose .ci/run installs it)."""
    path = shutil.which(name)
    if path is None:
        msg = f"{name} not on PATH (Debian package '{package}'; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture
def promtool() -> str:
    return require_tool("promtool")


@pytest.fixture
def node_exporter() -> str:
    return require_tool("prometheus-node-exporter", "prometheus-node-exporter")
