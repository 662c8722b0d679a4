"""The `records` contract: keyed JSON records plus an inbox that applies each delivery once.

Functions (arguments are UTF-8 strings, as Fabric passes them):

- `put(key, schema, value)`: `value` is a JSON object; the stored bytes are its
  canonical JSON with a top-level `"schema"` member equal to `schema`, so a
  reader derives Record.schema from the value alone.
- `get(key)`: the stored bytes, or an empty payload when the key is absent.
- `history(key)`: JSON list, newest first, of `{tx_id, timestamp, is_delete}`.
- `deliver(delivery_id, key, schema, value, source_json, proof_digest)`: like
  `put`, but at most once per delivery id. A repeated id writes nothing and
  answers the original transaction id with `"duplicate": true`. A version older
  than the newest one delivered for the same source key writes nothing and
  answers `"stale": true` with `held_version` (per-key order, a typed outcome).
- `delivery(delivery_id)`: the inbox entry of one delivery, or an empty payload.

The contract talks to the ledger only through `Ledger`, so it can be tested
without a peer and so the shim's error handling lives in one place.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tonglian_proof.canonical import canonical_json
from tonglian_proof.errors import MalformedInput

INBOX_OBJECT_TYPE = "delivery"
VERSION_OBJECT_TYPE = "version"
# Composite keys start with U+0000: Fabric keeps them out of plain range
# queries, and the adapter skips them when it turns writes into records.
COMPOSITE_NS = "\x00"

# Bounds on a value, checked before parsing: deep nesting would exhaust the stack.
MAX_VALUE_CHARS = 1 << 20
MAX_DEPTH = 64

PUT_EVENT = "records.put"
DELIVER_EVENT = "records.deliver"


class ContractError(Exception):
    """A caller error (bad arguments); answered as a chaincode error response."""


@dataclass(frozen=True)
class KeyModification:
    tx_id: str
    timestamp_seconds: int
    timestamp_nanos: int
    is_delete: bool


class Ledger(Protocol):
    """World-state access of one transaction."""

    tx_id: str

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes) -> None: ...

    async def history(self, key: str) -> list[KeyModification]: ...


@dataclass(frozen=True)
class Event:
    name: str
    payload: bytes


@dataclass(frozen=True)
class Outcome:
    """What a function answers: the response payload and at most one chaincode event."""

    payload: bytes
    event: Event | None = None


def nesting_depth(text: str) -> int:
    """Deepest [ / { nesting outside strings (a cheap scan, before json.loads)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def record_bytes(schema: str, value: str) -> bytes:
    """The stored form of a record: `value` with its `"schema"` member set."""
    if not schema:
        raise ContractError("schema must not be empty")
    if len(value) > MAX_VALUE_CHARS:
        raise ContractError(f"value longer than {MAX_VALUE_CHARS} characters")
    if nesting_depth(value) > MAX_DEPTH:
        raise ContractError(f"value nests deeper than {MAX_DEPTH} levels")
    try:
        obj = json.loads(value)
    except ValueError as exc:
        raise ContractError(f"value is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ContractError("value must be a JSON object")
    if obj.get("schema", schema) != schema:
        raise ContractError(f"value names schema {obj['schema']!r}, argument says {schema!r}")
    obj["schema"] = schema
    try:
        return canonical_json(obj)
    except MalformedInput as exc:
        raise ContractError(str(exc)) from exc


def inbox_key(delivery_id: str) -> str:
    """Composite key `\\x00delivery\\x00<id>\\x00`, as Fabric's shims build it."""
    return f"{COMPOSITE_NS}{INBOX_OBJECT_TYPE}{COMPOSITE_NS}{delivery_id}{COMPOSITE_NS}"


def _check_key(key: str) -> None:
    if not key:
        raise ContractError("key must not be empty")
    if key.startswith(COMPOSITE_NS):
        raise ContractError("key must not start with U+0000 (reserved for composite keys)")


async def put(ledger: Ledger, key: str, schema: str, value: str) -> Outcome:
    _check_key(key)
    data = record_bytes(schema, value)
    await ledger.put(key, data)
    event = Event(PUT_EVENT, canonical_json({"key": key, "schema": schema}))
    return Outcome(canonical_json({"key": key, "tx_id": ledger.tx_id}), event)


async def get(ledger: Ledger, key: str) -> Outcome:
    _check_key(key)
    return Outcome(await ledger.get(key) or b"")


async def history(ledger: Ledger, key: str) -> Outcome:
    _check_key(key)
    entries = [
        {
            "tx_id": m.tx_id,
            "seconds": m.timestamp_seconds,
            "nanos": m.timestamp_nanos,
            "is_delete": m.is_delete,
        }
        for m in await ledger.history(key)
    ]
    return Outcome(canonical_json(entries))


def version_key(source: dict[str, Any]) -> str:
    """Composite key of the newest version delivered for one source key."""
    parts = (
        VERSION_OBJECT_TYPE,
        str(source["chain_id"]),
        str(source["namespace"]),
        str(source["key"]),
    )
    return COMPOSITE_NS + COMPOSITE_NS.join(parts) + COMPOSITE_NS


async def deliver(
    ledger: Ledger,
    delivery_id: str,
    key: str,
    schema: str,
    value: str,
    source_json: str,
    proof_digest: str,
) -> Outcome:
    if not delivery_id:
        raise ContractError("delivery_id must not be empty")
    _check_key(key)
    existing = await ledger.get(inbox_key(delivery_id))
    if existing:
        original = json.loads(existing)
        return Outcome(
            canonical_json(
                {"delivery_id": delivery_id, "duplicate": True, "tx_id": original["tx_id"]}
            )
        )
    try:
        source = json.loads(source_json)
    except ValueError as exc:
        raise ContractError(f"source_json is not JSON: {exc}") from exc
    if not isinstance(source, dict):
        raise ContractError("source_json must be a JSON object")
    version = source.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ContractError("source_json.version must be a non-negative integer")
    for field in ("chain_id", "namespace", "key"):
        if not isinstance(source.get(field), str):
            raise ContractError(f"source_json.{field} must be a string")
    held_raw = await ledger.get(version_key(source))
    held = int(held_raw) if held_raw else 0
    if held > version:
        answer = {"delivery_id": delivery_id, "stale": True, "held_version": held}
        return Outcome(canonical_json(answer))
    data = record_bytes(schema, value)
    await ledger.put(version_key(source), str(version).encode())
    await ledger.put(key, data)
    entry = {
        "delivery_id": delivery_id,
        "key": key,
        "proof_digest": proof_digest,
        "schema": schema,
        "source": source,
        "tx_id": ledger.tx_id,
    }
    await ledger.put(inbox_key(delivery_id), canonical_json(entry))
    event = Event(DELIVER_EVENT, canonical_json({"delivery_id": delivery_id, "key": key}))
    return Outcome(
        canonical_json({"delivery_id": delivery_id, "duplicate": False, "tx_id": ledger.tx_id}),
        event,
    )


async def delivery(ledger: Ledger, delivery_id: str) -> Outcome:
    if not delivery_id:
        raise ContractError("delivery_id must not be empty")
    return Outcome(await ledger.get(inbox_key(delivery_id)) or b"")


Function = Callable[..., Awaitable[Outcome]]

FUNCTIONS: dict[str, tuple[Function, int]] = {
    "put": (put, 3),
    "get": (get, 1),
    "history": (history, 1),
    "deliver": (deliver, 6),
    "delivery": (delivery, 1),
}


async def invoke(ledger: Ledger, function: str, args: list[str]) -> Outcome:
    """Runs one function; ContractError for unknown functions or a wrong argument count."""
    try:
        fn, arity = FUNCTIONS[function]
    except KeyError:
        raise ContractError(
            f"unknown function {function!r}; known: {', '.join(FUNCTIONS)}"
        ) from None
    if len(args) != arity:
        raise ContractError(f"{function} takes {arity} arguments, got {len(args)}")
    return await fn(ledger, *args)
