"""What a test needs from outside the repo: skip where it is missing, fail under CI.

CI's ``.ci/run`` installs every Debian package the tests use and runs with
``../shared`` beside the checkout, so there a missing part is a broken setup,
not a reason to skip. (The root ``conftest.py`` puts ``tests/_support`` on
``sys.path``: pytest runs with ``--import-mode=importlib``.)
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Skip the test with ``reason``; under CI (env ``CI`` set) fail it instead."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def require_tool(name: str, package: str = "prometheus") -> str:
    """Path of an external tool, or :func:`missing` naming its Debian package."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} not on PATH (Debian package '{package}'; .ci/run installs it)")
    return path
