"""Requests whose bytes do not parse: answered INVALID_ARGUMENT, not grpc's bare UNKNOWN.

grpc deserializes a request before any handler runs and answers a parse failure
with UNKNOWN, which tells the caller nothing. Deserializing leniently hands the
failure to the handler as a value, so it gets a precise status and an audit entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError


@dataclass(frozen=True)
class MalformedRequest:
    """Stands in for a request whose bytes are not a valid message of its type."""

    type_name: str
    error: str

    def message(self) -> str:
        return f"the request is not a valid {self.type_name} message: {self.error}"


def lenient(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """Wraps a message's FromString so a parse failure becomes a MalformedRequest."""
    if deserializer is None:
        return None
    owner = getattr(deserializer, "__self__", None)
    type_name = getattr(getattr(owner, "DESCRIPTOR", None), "full_name", "request")

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except (DecodeError, RuntimeError, ValueError) as exc:
            return MalformedRequest(type_name, str(exc) or type(exc).__name__)

    return parse
