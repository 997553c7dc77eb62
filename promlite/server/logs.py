"""Log formats of ``promlite serve``: ``--log.format=logfmt`` (default) or ``json``.

Lines look like Prometheus's (go-kit/slog) logs so the same log pipelines
parse them::

    time=2026-11-27T14:40:00.123Z level=INFO source=serve msg="Server is ready to receive web requests."
    {"time":"2026-11-27T14:40:00.123Z","level":"INFO","source":"serve","msg":"Server is ready ..."}
"""

from __future__ import annotations

import datetime as dt
import json
import logging

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def _ts(record: logging.LogRecord) -> str:
    return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _level(record: logging.LogRecord) -> str:
    return "WARN" if record.levelno == logging.WARNING else record.levelname


def _logfmt_value(s: str) -> str:
    if s and all(c.isalnum() or c in "._-:/@+" for c in s):
        return s
    return json.dumps(s, ensure_ascii=False)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.exc_info:
            msg += "\n" + self.formatException(record.exc_info)
        return (f"time={_ts(record)} level={_level(record)} source={_logfmt_value(record.name)} "
                f"msg={_logfmt_value(msg)}")


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        d = {"time": _ts(record), "level": _level(record), "source": record.name, "msg": record.getMessage()}
        if record.exc_info:
            d["exception"] = self.formatException(record.exc_info)
        return json.dumps(d, ensure_ascii=False)


class ClientErrorFilter(logging.Filter):
    """Turns aiohttp's ERROR-with-traceback for a malformed request into one debug line.

    aiohttp's server logs "Error handling request" with a full traceback at
    ERROR level whenever a client sends something that is not HTTP (a bad
    request line, an oversized header, invalid characters): a port scanner
    or a confused client could fill the log with tracebacks. Nothing is wrong
    with the server then; Prometheus (Go's net/http) logs nothing at all. Such
    records become one line at DEBUG level -- and are dropped unless debug
    logging is on (a filter runs after the logger's own level check, so it
    must apply the threshold itself). Other records pass unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not _is_client_error(exc):
            return True
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            return False
        record.msg = f"{record.getMessage()}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def _is_client_error(exc: BaseException | None) -> bool:
    if exc is None:
        return False
    if isinstance(exc, ConnectionError):
        return True
    try:
        from aiohttp.http_exceptions import HttpProcessingError
    except ImportError:  # pragma: no cover - aiohttp is a dependency of the server
        return False
    return isinstance(exc, HttpProcessingError)


def setup_logging(level: str = "info", fmt: str = "logfmt") -> None:
    """Replace the root logger's handlers with one stderr handler in ``fmt``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(level, logging.INFO))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientErrorFilter) for f in server.filters):
        server.addFilter(ClientErrorFilter())
