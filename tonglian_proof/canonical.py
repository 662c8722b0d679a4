"""Canonical JSON (RFC 8785, JCS): the one byte form of a JSON value that is hashed or signed.

Every hash or signature over JSON in Tonglian (audit events, predicate statements,
ledger headers and leaves, record values) goes through `canonical_json`, so any
language with a JCS implementation recomputes the same bytes. Built on the
maintained `rfc8785` package rather than a hand-rolled `json.dumps` variant: JCS
orders keys by UTF-16 code units and formats numbers the ECMAScript way, which
`sort_keys=True` does not.
"""

from __future__ import annotations

from typing import Any

import rfc8785

from tonglian_proof.errors import MalformedInput


def canonical_json(value: Any) -> bytes:
    """The JCS bytes of `value`; NaN, Infinity and integers beyond ±2^53 are refused."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise MalformedInput(f"value has no canonical JSON form: {exc}") from exc


def canonical_text(value: Any) -> str:
    return canonical_json(value).decode("utf-8")
