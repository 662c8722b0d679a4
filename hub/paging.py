"""Page sizes and page tokens, checked the same way by every listing the hub serves.

A token that carries a position the hub cannot check against the store (a record
listing's block height and records to skip) is sealed with an HMAC under the hub's
token key: any byte changed, or a token made up, is refused as not issued before a
field of it is read. The key is derived from the hub's signing key, so replicas that
sign as one hub accept each other's tokens, and a restart keeps them valid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hub.errors import InvalidInput

T = TypeVar("T")

NOT_ISSUED = "page_token is not one this hub issued"
# Ids (chain, route) are at most 63 characters; a longer token is not one of ours.
MAX_ID_TOKEN = 64
# Sequence tokens are SQLite integers.
MAX_SEQUENCE = 2**63 - 1


# Bytes of HMAC-SHA256 kept in a sealed token (128 bits: no forgery by guessing).
SEAL_BYTES = 16
# A sealed token longer than this is not one of ours (a payload is a few dozen bytes).
MAX_SEALED_TOKEN = 512
_KEY_CONTEXT = b"tonglian page tokens v1\x00"


class TokenSeal:
    """Seals a token's payload with an HMAC, and opens only tokens sealed with its key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_signing_key(cls, key: ec.EllipticCurvePrivateKey) -> TokenSeal:
        """The seal of a hub whose statements `key` signs (its own domain of the key)."""
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cls(hashlib.sha256(_KEY_CONTEXT + der).digest())

    def seal(self, payload: bytes) -> str:
        mac = hmac.new(self._key, payload, hashlib.sha256).digest()[:SEAL_BYTES]
        return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")

    def open(self, token: str) -> bytes:
        """The payload of a token this seal made; InvalidInput(NOT_ISSUED) for any other."""
        if not token or len(token) > MAX_SEALED_TOKEN or not token.isascii():
            raise InvalidInput(NOT_ISSUED)
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise InvalidInput(NOT_ISSUED) from None
        payload, mac = raw[:-SEAL_BYTES], raw[-SEAL_BYTES:]
        expected = hmac.new(self._key, payload, hashlib.sha256).digest()[:SEAL_BYTES]
        if len(raw) <= SEAL_BYTES or not hmac.compare_digest(mac, expected):
            raise InvalidInput(NOT_ISSUED)
        return payload


class _Seals:
    """The seal in use: a random key until the hub names its own (`use_token_key`)."""

    current = TokenSeal(os.urandom(32))


def use_token_key(key: ec.EllipticCurvePrivateKey) -> None:
    """Seals page tokens with a key derived from the hub's signing key (at hub start)."""
    _Seals.current = TokenSeal.from_signing_key(key)


def token_seal() -> TokenSeal:
    return _Seals.current


def page_size(requested: int, default: int, maximum: int) -> int:
    """The page size to use: `default` for 0, refused above `maximum`."""
    if requested > maximum:
        raise InvalidInput(f"page_size {requested} is above the limit of {maximum}")
    return requested or default


def id_token(token: str) -> str:
    """A token that is the last id of the previous page."""
    if len(token) > MAX_ID_TOKEN:
        raise InvalidInput(NOT_ISSUED)
    return token


def sequence_token(token: str) -> int:
    """A token that is the last sequence number of the previous page; 0 when empty."""
    if not token:
        return 0
    if not token.isdigit() or len(token) > 19 or int(token) > MAX_SEQUENCE:
        raise InvalidInput(NOT_ISSUED)
    return int(token)


def split_page(items: Sequence[T], size: int) -> tuple[list[T], bool]:
    """The first `size` items of a fetch of `size + 1`, and whether there are more."""
    return list(items[:size]), len(items) > size


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the token of the next ("" on the last page)."""

    items: list[T]
    next_page_token: str = ""
