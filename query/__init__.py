"""query: the PromQL grammar, AST, engine and HTTP API."""
