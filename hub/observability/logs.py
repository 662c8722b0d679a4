"""Hub log lines as text or JSON, each carrying the gRPC call it belongs to.

The observing interceptor opens a `CallFields` per call; a filter copies it onto
every record logged while the call runs (request id, method, agency, outcome,
trace id), so a line about an adapter failure can be joined to the call that
caused it. JSON lines are one object per line, for log shippers.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.observability.tracing import trace_id

FORMATS = ("text", "json")
FIELDS = ("request_id", "method", "agency", "outcome", "trace_id")


@dataclass
class CallFields:
    request_id: str
    method: str
    agency: str = "-"
    # "-" while the call runs; the status name (OK, NOT_FOUND, …) once it is answered.
    outcome: str = "-"


_call: ContextVar[CallFields | None] = ContextVar("tonglian_log_call", default=None)


def enter(fields: CallFields) -> None:
    _call.set(fields)


def current() -> CallFields | None:
    return _call.get()


class CallFilter(logging.Filter):
    """Adds the current call's fields to each record (empty outside a call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _call.get()
        record.request_id = fields.request_id if fields else ""
        record.method = fields.method if fields else ""
        record.agency = fields.agency if fields else ""
        record.outcome = fields.outcome if fields else ""
        record.trace_id = trace_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, "")
            if value:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(
            f"{name}={getattr(record, name)}" for name in FIELDS if getattr(record, name, "")
        )
        return f"{text} [{extra}]" if extra else text


def configure(level: str, fmt: str) -> None:
    """Sends every log record to stderr in `fmt` ("text" or "json") at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(CallFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
