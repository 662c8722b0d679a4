"""Printing for people (aligned tables, progress lines) and for scripts (JSON)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.protobuf.message import Message


def to_json(message: Message) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(message, preserving_proto_field_name=True)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line.rstrip(), *[b.rstrip() for b in body]])


def error(message: str) -> None:
    print(f"tonglian: {message}", file=sys.stderr)


class Progress:
    """Prints each step of a slow operation with the time since it began (to stderr)."""

    def __init__(self, quiet: bool = False) -> None:
        self._start = time.monotonic()
        self._quiet = quiet

    def __call__(self, step: str) -> None:
        if not self._quiet:
            print(f"[{time.monotonic() - self._start:6.1f}s] {step}", file=sys.stderr, flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self._start
