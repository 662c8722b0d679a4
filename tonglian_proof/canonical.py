"""Canonical JSON (RFC 8785, JCS): the one byte form of a JSON value that is hashed or signed.

Every hash or signature over JSON in Tonglian (audit events, predicate statements,
ledger headers and leaves, record values) goes through `canonical_json`, so any
language with a JCS implementation recomputes the same bytes. Built on the
maintained `rfc8785` package rather than a hand-rolled `json.dumps` variant: JCS
orders keys by UTF-16 code units and formats numbers the ECMAScript way, which
`sort_keys=True` does not.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from tonglian_proof.errors import MalformedInput

# Integers JCS writes exactly (ECMAScript numbers): |n| <= 2^53 - 1.
_MAX_EXACT = 2**53 - 1


def _plain(value: Any) -> bool:
    """Whether `json.dumps(sort_keys=True)` writes `value` exactly as JCS does: no floats
    (JCS formats numbers the ECMAScript way), integers within ±(2^53 - 1), and keys
    without characters from U+E000 up (below it, code-point order is UTF-16 order).
    Strings are escaped alike: `"`, `\\`, the short forms of \\b \\f \\n \\r \\t and
    lowercase \\u00xx for other control characters, everything else as is."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_MAX_EXACT <= value <= _MAX_EXACT)
    if kind is dict:
        for k, v in value.items():
            # isascii() is O(1) in CPython; max() only for keys beyond ASCII.
            if type(k) is not str or not (k.isascii() or max(k) < "\ue000"):
                return False
            # Scalars inline (most members are): a call per member was half the walk.
            t = type(v)
            if t is str or t is bool or v is None:
                continue
            if t is int:
                if not -_MAX_EXACT <= v <= _MAX_EXACT:
                    return False
                continue
            if not _plain(v):
                return False
        return True
    if kind is list:
        for v in value:
            if not _plain(v):
                return False
        return True
    return False


# json's C encoder with JCS's separators, built once: json.dumps builds a JSONEncoder and
# JSONEncoder.encode a C encoder per call, a third of the cost of a small value. No
# circular check (`_plain` has walked the value) and no default (`_plain` admits only
# JSON types).
_PLAIN_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _no_default(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_c_encode_basestring: Any = getattr(json.encoder, "c_encode_basestring", None)
_C_ENCODER: Any = (
    _c_make_encoder(None, _no_default, _c_encode_basestring, None, ":", ",", True, False, True)
    if _c_make_encoder is not None and _c_encode_basestring is not None
    else None
)


def _encode_plain(value: Any) -> str:
    if _C_ENCODER is None:
        return _PLAIN_ENCODER.encode(value)
    return "".join(_C_ENCODER(value, 0))


def canonical_json(value: Any) -> bytes:
    """The JCS bytes of `value`; NaN, Infinity and integers beyond ±2^53 are refused.

    Plain values (see `_plain`: every header, leaf and audit event, and most record
    values) take json's C encoder, which writes the same bytes many times faster
    (the JCS package was a tenth of a signed-Merkle verification); the rest, and
    any string with a lone surrogate, take the JCS package."""
    if _plain(value):
        try:
            return _encode_plain(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: JCS escapes it, utf-8 cannot encode it
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise MalformedInput(f"value has no canonical JSON form: {exc}") from exc


def canonical_text(value: Any) -> str:
    return canonical_json(value).decode("utf-8")
