"""promlite: the application (CLI, config, wiring, web UI)."""

__version__ = "0.1.0"
