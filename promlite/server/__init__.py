"""promlite's HTTP server: Prometheus's ``/api/v1`` over a tsdb, the PromQL engine and the scraper.

``create_app(ServerState(db, engine, ...))`` builds the aiohttp application
(see ``app.py``); ``serve.py`` is the ``promlite serve`` runtime around it.
"""

from .app import create_app
from .state import ServerState

__all__ = ["create_app", "ServerState"]
