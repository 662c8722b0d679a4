"""Validation of what clients send: limits and shapes, each failure a LedgerError."""

from __future__ import annotations

import json
import re
from typing import Any

from devnets.custom.ledger.chain import LedgerError
from tonglian_proof.canonical import canonical_text
from tonglian_proof.errors import MalformedInput

MAX_BODY_BYTES = 1 << 20
MAX_VALUE_BYTES = 256 << 10
MAX_KEY_BYTES = 256
MAX_HEIGHT = 2**53

COLLECTION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
SCHEMA_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
DELIVERY_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
TX_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def bad(detail: str) -> LedgerError:
    return LedgerError(400, "bad_request", detail)


def parse_object(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise LedgerError(400, "malformed_json", f"body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise bad("body must be a JSON object")
    return doc


def reject_unknown(doc: dict[str, Any], allowed: set[str], where: str = "body") -> None:
    extra = sorted(set(doc) - allowed)
    if extra:
        raise bad(f"{where} has unknown fields: {', '.join(extra)}")


def string(doc: dict[str, Any], name: str, *, max_bytes: int = 256) -> str:
    v = doc.get(name)
    if not isinstance(v, str) or not v:
        raise bad(f"{name} must be a non-empty string")
    if len(v.encode("utf-8")) > max_bytes:
        raise LedgerError(413, "too_large", f"{name} is longer than {max_bytes} bytes")
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise bad(f"{name} contains control characters")
    return v


def matching(doc: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    v = string(doc, name)
    if not pattern.match(v):
        raise bad(f"{name} {v!r} must match {pattern.pattern}")
    return v


def collection(doc: dict[str, Any], name: str = "collection") -> str:
    return matching(doc, name, COLLECTION_RE)


def key(doc: dict[str, Any], name: str = "key") -> str:
    return string(doc, name, max_bytes=MAX_KEY_BYTES)


def value_and_deleted(doc: dict[str, Any]) -> tuple[str, bool]:
    """The canonical value text and the deletion flag (a deletion has no value)."""
    deleted = doc.get("deleted", False)
    if not isinstance(deleted, bool):
        raise bad("deleted must be true or false")
    if deleted:
        if doc.get("value") is not None:
            raise bad("a deletion carries no value")
        return "", True
    if "value" not in doc:
        raise bad("value is required (any JSON value) unless deleted is true")
    try:
        text = canonical_text(doc["value"])
    except MalformedInput as exc:
        raise bad(f"value cannot be canonical JSON: {exc}") from None
    if len(text.encode("utf-8")) > MAX_VALUE_BYTES:
        raise LedgerError(413, "too_large", f"value is larger than {MAX_VALUE_BYTES} bytes")
    return text, False


def source(doc: dict[str, Any]) -> dict[str, Any]:
    src = doc.get("source")
    if not isinstance(src, dict):
        raise bad("source must be an object {chain_id, namespace, key, tx_id, version}")
    reject_unknown(src, {"chain_id", "namespace", "key", "tx_id", "version"}, "source")
    version = src.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version < 2**63:
        raise bad("source.version must be a non-negative integer")
    return {
        "chain_id": string(src, "chain_id", max_bytes=128),
        "namespace": string(src, "namespace"),
        "key": string(src, "key", max_bytes=MAX_KEY_BYTES),
        "tx_id": string(src, "tx_id"),
        "version": version,
    }


def height(raw: str | None, name: str, *, default: int | None = None) -> int | None:
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"[0-9]{1,16}", raw) or int(raw) > MAX_HEIGHT:
        raise bad(f"{name} must be a non-negative integer, got {raw[:40]!r}")
    return int(raw)
