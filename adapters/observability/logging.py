"""Structured JSON logs. Only whitelisted, non-clinical fields are ever emitted."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# Fields that may appear besides the message. Patient data never goes into log records;
# this list keeps an accidental ``extra={...}`` from leaking it anyway.
SAFE_FIELDS = (
    "request_id", "method", "route", "status", "duration_ms", "subject", "outbox_id",
    "destination", "attempt", "dead_letter", "error_type", "error_code", "surface",
    "host", "port", "database", "count", "graphql_operation", "query_hash",
    "worker", "workers", "pid", "exitcode", "lived_seconds",
)

CHATTY_LIBRARIES = ("aiosqlite", "httpx", "httpcore", "sqlalchemy.engine", "sqlalchemy.pool",
                    "asyncpg", "hpack")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in SAFE_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The type and the stack, not the message: exception texts can carry values.
            entry["exception"] = record.exc_info[0].__name__
            entry["stack"] = self.formatStack(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)

    def formatStack(self, stack_info: str) -> str:
        lines = stack_info.splitlines()
        return "\n".join(line for line in lines if line.startswith("  File ") or
                         line.startswith("Traceback"))


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's access log prints raw paths and query strings, which can hold identifiers;
    # our own access log records the route template instead.
    logging.getLogger("uvicorn.access").disabled = True
    # Libraries that log what passes through them, whatever our level: aiosqlite (DEBUG) each
    # statement with its parameters, httpx (INFO) every outbound URL with its query string,
    # httpcore (DEBUG) headers. Their warnings and errors still come through.
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def tag_worker(index: int) -> None:
    """Every line of this process names its worker (``serve --workers N``), so an operator
    can tell the processes' lines apart in one stream."""
    def add_worker(record: logging.LogRecord) -> bool:
        record.worker = index
        return True
    for handler in logging.getLogger().handlers:
        handler.addFilter(add_worker)
