"""query: the PromQL grammar, AST, engine and HTTP API."""


def __getattr__(name: str):
    """``query.Engine`` without importing the engine (compiled kernels, numpy) for parser-only users."""
    if name in ("Engine", "QueryError", "QueryTimeoutError", "SampleLimitError"):
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'query' has no attribute {name!r}")
