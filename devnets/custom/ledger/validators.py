"""Validator keys: the JSON file the ledger is started with, and header signing.

The file is {"ledger_id": str, "crypto": "ed25519" | "sm2", "validators": [{"id",
"public_key", "private_key", "user_id"?}]}, keys in hex. "crypto" (absent: ed25519)
sets the ledger's mode: ed25519 signs with raw 32-byte Ed25519 keys and hashes with
SHA-256; sm2 (national cryptography) signs with SM2 over SM3 (public key 65-byte
04 ‖ x ‖ y, signature raw r ‖ s, each validator's user id, default 1234567812345678)
and hashes blocks and Merkle trees with SM3. A real deployment runs each validator
apart; this stand-in holds the keys of all and signs every header with the first k by id.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from gmalglib.sm2 import SM2

from devnets.custom.ledger.header import signing_message
from devnets.custom.ledger.merkle import Hash, sha256
from tonglian_proof.crypto.sm2 import DEFAULT_USER_ID
from tonglian_proof.crypto.sm3 import sm3

LEDGER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
VALIDATOR_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CRYPTO_MODES = ("ed25519", "sm2")


class ValidatorFileError(Exception):
    """The validators file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class ValidatorKey:
    id: str
    algorithm: str  # "ed25519" or "sm2"
    private_key: bytes
    user_id: str = ""

    @property
    def public_key(self) -> bytes:
        if self.algorithm == "sm2":
            pk: bytes = SM2.get_pk(self.private_key)
            return pk
        ed = Ed25519PrivateKey.from_private_bytes(self.private_key)
        return ed.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sign(self, header_bytes: bytes) -> bytes:
        message = signing_message(header_bytes)
        if self.algorithm == "sm2":
            sig: bytes = SM2(sk=self.private_key, uid=self.user_id.encode()).sign(message)
            return sig
        return Ed25519PrivateKey.from_private_bytes(self.private_key).sign(message)


@dataclass(frozen=True)
class ValidatorSet:
    ledger_id: str
    keys: tuple[ValidatorKey, ...]
    crypto: str = "ed25519"

    @property
    def hash(self) -> Hash:
        """The ledger's digest: SM3 in sm2 mode, else SHA-256."""
        return sm3 if self.crypto == "sm2" else sha256

    def signers(self, threshold: int) -> tuple[ValidatorKey, ...]:
        return tuple(sorted(self.keys, key=lambda v: v.id))[:threshold]


def generate(ledger_id: str, n: int, crypto: str = "ed25519") -> dict[str, Any]:
    """A fresh validators file body with ids v1..vn, all keys of the `crypto` mode."""
    if crypto not in CRYPTO_MODES:
        raise ValueError(f"crypto {crypto!r} must be one of {', '.join(CRYPTO_MODES)}")
    out = []
    for i in range(1, n + 1):
        if crypto == "sm2":
            sk, pk = SM2().generate_keypair()
            out.append(
                {
                    "id": f"v{i}",
                    "public_key": pk.hex(),
                    "private_key": sk.hex(),
                    "user_id": DEFAULT_USER_ID,
                }
            )
        else:
            ed = Ed25519PrivateKey.generate()
            key = ValidatorKey(f"v{i}", "ed25519", ed.private_bytes_raw())
            out.append(
                {
                    "id": key.id,
                    "public_key": key.public_key.hex(),
                    "private_key": key.private_key.hex(),
                }
            )
    return {"ledger_id": ledger_id, "crypto": crypto, "validators": out}


def load(path: Path) -> ValidatorSet:
    try:
        return load_doc(json.loads(path.read_text()), str(path))
    except ValidatorFileError:
        raise
    except (OSError, ValueError) as exc:
        raise ValidatorFileError(f"cannot read validators file {path}: {exc}") from exc


def load_doc(doc: Any, where: str = "validators") -> ValidatorSet:
    """The validator set of a parsed validators file body."""
    path = where
    try:
        ledger_id = doc["ledger_id"]
        crypto = doc.get("crypto", "ed25519")
        entries = doc["validators"]
        if not isinstance(ledger_id, str) or not LEDGER_ID_RE.match(ledger_id):
            raise ValidatorFileError(f"ledger_id {ledger_id!r} must match {LEDGER_ID_RE.pattern}")
        if crypto not in CRYPTO_MODES:
            raise ValidatorFileError(f"crypto {crypto!r} must be one of {', '.join(CRYPTO_MODES)}")
        keys = []
        for e in entries:
            if not VALIDATOR_ID_RE.match(e["id"]):
                raise ValidatorFileError(f"validator id {e['id']!r} is not allowed")
            user_id = e.get("user_id", DEFAULT_USER_ID) if crypto == "sm2" else ""
            key = ValidatorKey(e["id"], crypto, bytes.fromhex(e["private_key"]), user_id)
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
    return ValidatorSet(ledger_id, tuple(keys), crypto)
