"""Fixtures shared by every test package."""

import os
import sys

import pytest
from hypothesis import HealthCheck, settings

# No wall-time limits from hypothesis (issue 11: tests do not race the machine): its default 200 ms
# deadline per example and its too_slow health check both fail a busy machine, not the code.
settings.register_profile("promlite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("promlite")

HERE = os.path.dirname(os.path.abspath(__file__))
# --import-mode=importlib puts no test folder on sys.path. Only _support/ goes there: tests/ itself
# holds folders named like the packages (tests/tsdb, tests/promlite) that would shadow them.
SUPPORT = os.path.join(HERE, "_support")
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)

from _requirements import require_tool  # noqa: E402

SHARED = os.path.join(os.path.dirname(HERE), "..", "shared")


@pytest.fixture
def promtool() -> str:
    return require_tool("promtool")


@pytest.fixture
def node_exporter() -> str:
    return require_tool("prometheus-node-exporter", "prometheus-node-exporter")
