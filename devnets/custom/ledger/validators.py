"""Validator keys: the JSON file the ledger is started with, and header signing.

The file is {"ledger_id": str, "validators": [{"id", "public_key", "private_key"}]}
with raw 32-byte Ed25519 keys in hex. A real deployment runs each validator apart;
this stand-in holds the keys of all and signs every header with the first k by id.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from devnets.custom.ledger.header import signing_message

LEDGER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
VALIDATOR_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ValidatorFileError(Exception):
    """The validators file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class ValidatorKey:
    id: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sign(self, header_bytes: bytes) -> bytes:
        return self.private_key.sign(signing_message(header_bytes))


@dataclass(frozen=True)
class ValidatorSet:
    ledger_id: str
    keys: tuple[ValidatorKey, ...]

    def signers(self, threshold: int) -> tuple[ValidatorKey, ...]:
        return tuple(sorted(self.keys, key=lambda v: v.id))[:threshold]


def generate(ledger_id: str, n: int) -> dict[str, Any]:
    """A fresh validators file body with ids v1..vn."""
    out = []
    for i in range(1, n + 1):
        sk = Ed25519PrivateKey.generate()
        key = ValidatorKey(f"v{i}", sk)
        out.append(
            {
                "id": key.id,
                "public_key": key.public_key.hex(),
                "private_key": sk.private_bytes_raw().hex(),
            }
        )
    return {"ledger_id": ledger_id, "validators": out}


def load(path: Path) -> ValidatorSet:
    try:
        doc = json.loads(path.read_text())
        ledger_id = doc["ledger_id"]
        entries = doc["validators"]
        if not isinstance(ledger_id, str) or not LEDGER_ID_RE.match(ledger_id):
            raise ValidatorFileError(f"ledger_id {ledger_id!r} must match {LEDGER_ID_RE.pattern}")
        keys = []
        for e in entries:
            if not VALIDATOR_ID_RE.match(e["id"]):
                raise ValidatorFileError(f"validator id {e['id']!r} is not allowed")
            sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(e["private_key"]))
            key = ValidatorKey(e["id"], sk)
            if "public_key" in e and bytes.fromhex(e["public_key"]) != key.public_key:
                raise ValidatorFileError(f"validator {key.id}: public_key does not match")
            keys.append(key)
    except ValidatorFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValidatorFileError(f"cannot read validators file {path}: {exc}") from exc
    if not keys:
        raise ValidatorFileError(f"{path} lists no validators")
    if len({k.id for k in keys}) != len(keys):
        raise ValidatorFileError(f"{path} repeats a validator id")
    return ValidatorSet(ledger_id, tuple(keys))
