"""Block headers and the exact bytes validators sign.

header  = canonical JSON {ledger_id, height, previous_hash, merkle_root, time,
          record_count}; hashes are lowercase hex, `time` is integer Unix
          milliseconds (UTC), previous_hash of genesis (height 0) is 64 zeros.
hash    = H(header bytes), H = SHA-256 or SM3 (the ledger's digest); the next header's
          previous_hash is its hex.
signed  = b"tonglian/signed-merkle/header/v1\\n" ‖ header bytes, Ed25519 or SM2.
"""

from __future__ import annotations

from dataclasses import dataclass

from devnets.custom.ledger.merkle import Hash, sha256
from tonglian_proof.canonical import canonical_json

SIGNING_DOMAIN = b"tonglian/signed-merkle/header/v1\n"
GENESIS_PARENT = "00" * 32


@dataclass(frozen=True)
class Header:
    ledger_id: str
    height: int
    previous_hash: str
    merkle_root: str
    time: int
    record_count: int

    def to_bytes(self) -> bytes:
        return canonical_json(
            {
                "ledger_id": self.ledger_id,
                "height": self.height,
                "previous_hash": self.previous_hash,
                "merkle_root": self.merkle_root,
                "time": self.time,
                "record_count": self.record_count,
            }
        )


def block_hash(header_bytes: bytes, h: Hash = sha256) -> bytes:
    return h(header_bytes)


def signing_message(header_bytes: bytes) -> bytes:
    return SIGNING_DOMAIN + header_bytes
