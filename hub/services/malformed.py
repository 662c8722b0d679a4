"""Requests the hub refuses before any use case sees them: answered INVALID_ARGUMENT.

grpc deserializes a request before any handler runs and answers a parse failure
with UNKNOWN, which tells the caller nothing. Deserializing leniently hands the
failure to the handler as a value, so it gets a precise status and an audit entry.

Two kinds: bytes that are not a message of the type (protobuf also refuses a string
field that is not UTF-8, lone surrogates included), and a message with a NUL byte in
a string field. PostgreSQL cannot store a NUL in text, so such a request, refused
anywhere later, would fail on its own audit insert: answered INTERNAL, never logged,
a way to probe unseen. It is refused here, and what the audit log keeps of it is
escaped (`escaped`), so the refusal itself is always logged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

# What a store's text column cannot hold: NUL, and lone surrogates (not in valid UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class MalformedRequest:
    """Stands in for a request the hub refuses unread: `text` says why, `target` is
    what the audit event names (already escaped)."""

    type_name: str
    text: str
    target: str = ""
    # Refused for its size (RESOURCE_EXHAUSTED), not its content (INVALID_ARGUMENT).
    too_large: bool = False

    def message(self) -> str:
        return self.text


def escaped(text: str) -> str:
    """`text` with NUL and lone surrogates written as `\\x00` / `\\udXXX`: storable."""
    return _UNSTORABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code == 0 else f"\\u{code:04x}"


def unstorable_field(message: Message, prefix: str = "") -> str | None:
    """The path of the first string field (at any depth, map keys and values included)
    that holds a NUL byte; None when there is none."""
    for path, value in _strings(message, prefix):
        if "\x00" in value:
            return path
    return None


def _strings(message: Message, prefix: str) -> Iterator[tuple[str, str]]:
    for fd, value in message.ListFields():
        path = f"{prefix}{fd.name}"
        if fd.type == FieldDescriptor.TYPE_MESSAGE and fd.message_type.GetOptions().map_entry:
            value_fd = fd.message_type.fields_by_name["value"]
            for key, item in value.items():
                item_path = f"{path}[{key!r}]"
                if isinstance(key, str):
                    yield f"{path} (a key)", key
                if value_fd.type == FieldDescriptor.TYPE_MESSAGE:
                    yield from _strings(item, f"{item_path}.")
                elif isinstance(item, str):
                    yield item_path, item
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            items = value if _repeated(fd) else [value]
            for i, item in enumerate(items):
                yield from _strings(item, f"{path}[{i}]." if _repeated(fd) else f"{path}.")
        elif fd.type == FieldDescriptor.TYPE_STRING:
            if _repeated(fd):
                for i, item in enumerate(value):
                    yield f"{path}[{i}]", item
            else:
                yield path, value


def _repeated(fd: FieldDescriptor) -> bool:
    return bool(fd.label == FieldDescriptor.LABEL_REPEATED)


def lenient(
    deserializer: Callable[[bytes], Any] | None,
    target_of: Callable[[Message], str] | None = None,
    max_bytes: int | None = None,
) -> Callable[[bytes], Any] | None:
    """Wraps a message's FromString so a request above `max_bytes`, a parse failure, or
    a NUL in a string field becomes a MalformedRequest; `target_of` names the audit
    target of a parsed one."""
    if deserializer is None:
        return None
    owner = getattr(deserializer, "__self__", None)
    type_name = getattr(getattr(owner, "DESCRIPTOR", None), "full_name", "request")

    def parse(data: bytes) -> Any:
        if max_bytes is not None and len(data) > max_bytes:
            return MalformedRequest(
                type_name,
                f"the request is {len(data)} bytes, above the limit of {max_bytes} "
                "(max_message_bytes); send less or raise it in the hub's config",
                too_large=True,
            )
        try:
            request = deserializer(data)
        except (DecodeError, RuntimeError, ValueError) as exc:
            return MalformedRequest(
                type_name,
                f"the request is not a valid {type_name} message: "
                f"{str(exc) or type(exc).__name__} (a string field must be valid UTF-8, "
                "without lone surrogates)",
            )
        if isinstance(request, Message):
            field = unstorable_field(request)
            if field is not None:
                target = escaped(target_of(request)) if target_of is not None else ""
                return MalformedRequest(
                    type_name,
                    f"{field} contains a NUL byte (U+0000), which the hub neither stores "
                    "nor looks up; remove it",
                    target,
                )
        return request

    return parse
