"""How Annals seals a block: transaction hashes, their Merkle root, the signed header.

tx hash = SHA-256(0x00 ‖ canonical JSON {collection: space, deleted: tombstone, key,
          ledger_id: network, schema: kind, tx_id: txid, value: doc text, version: rev})
root    = RFC 6962 tree of the block's tx hashes, nodes SHA-256(0x01 ‖ l ‖ r),
          SHA-256("") when empty
header  = canonical JSON {height, ledger_id, merkle_root, previous_hash, record_count,
          time}: Annals keeps these exact bytes ("sealed_header") beside its own metadata
seal    = Ed25519 over b"tonglian/signed-merkle/header/v1\\n" ‖ header
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tonglian_proof.canonical import canonical_json

SEAL_DOMAIN = b"tonglian/signed-merkle/header/v1\n"


def tx_hash(network: str, tx: dict[str, Any]) -> bytes:
    body = canonical_json(
        {
            "collection": tx["space"],
            "deleted": tx["tombstone"],
            "key": tx["key"],
            "ledger_id": network,
            "schema": tx["kind"],
            "tx_id": tx["txid"],
            "value": tx["doc"],
            "version": tx["rev"],
        }
    )
    return hashlib.sha256(b"\x00" + body).digest()


def merkle_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:])).digest()


def sealed_header(
    network: str, number: int, parent: bytes, root: bytes, time_ms: int, count: int
) -> bytes:
    return canonical_json(
        {
            "height": number,
            "ledger_id": network,
            "merkle_root": root.hex(),
            "previous_hash": parent.hex(),
            "record_count": count,
            "time": time_ms,
        }
    )


def seal(key: Ed25519PrivateKey, header: bytes) -> bytes:
    return key.sign(SEAL_DOMAIN + header)
