"""promlite's HTTP server: Prometheus's ``/api/v1`` over a tsdb, the PromQL engine and the scraper.

``create_app(ServerState(db, engine, ...))`` builds the aiohttp application
(see ``app.py``); ``serve.py`` is the ``promlite serve`` runtime around it.

Both names are loaded on first use (PEP 562): importing a light submodule
such as ``promlite.server.check_config`` (``promlite check``) must not pull
in aiohttp, the PromQL engine and the storage through ``app.py``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .state import ServerState

__all__ = ["create_app", "ServerState"]

_LAZY = {"create_app": ".app", "ServerState": ".state"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
