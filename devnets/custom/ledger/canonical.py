"""Canonical JSON: the one byte form of a JSON value that the ledger stores and hashes."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> str:
    """UTF-8 text with sorted keys, no spaces, non-ASCII kept; NaN and Infinity refused."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def canonical_bytes(value: Any) -> bytes:
    return canonical_json(value).encode("utf-8")
