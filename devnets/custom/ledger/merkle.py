"""Leaf and tree hashing of a block's entries (the spec the hub verifier implements).

leaf  = SHA-256(0x00 ‖ canonical JSON of {collection, deleted, key, ledger_id, schema,
        tx_id, value, version}) where `value` is the record's canonical JSON text
        (a string; "" for a deletion).
node  = SHA-256(0x01 ‖ left ‖ right)
tree  = RFC 6962 §2.1: for n > 1 leaves split at k, the largest power of two < n;
        the left subtree holds leaves [0, k), the right [k, n). An odd node is thus
        never duplicated: it is carried up unchanged until it is paired.
empty = SHA-256(b"") (a block with no entries, such as genesis).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tonglian_proof.canonical import canonical_json

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


@dataclass(frozen=True)
class LeafFields:
    """What a leaf binds: everything of a record that the chain itself decides."""

    ledger_id: str
    collection: str
    key: str
    schema: str
    value: str
    version: int
    deleted: bool
    tx_id: str


@dataclass(frozen=True)
class PathStep:
    sibling: bytes
    sibling_on_left: bool


def leaf_hash(fields: LeafFields) -> bytes:
    body = canonical_json(
        {
            "collection": fields.collection,
            "deleted": fields.deleted,
            "key": fields.key,
            "ledger_id": fields.ledger_id,
            "schema": fields.schema,
            "tx_id": fields.tx_id,
            "value": fields.value,
            "version": fields.version,
        }
    )
    return hashlib.sha256(LEAF_PREFIX + body).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def merkle_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def merkle_paths(leaves: list[bytes]) -> tuple[bytes, list[list[PathStep]]]:
    """The root and every leaf's audit path (siblings from the leaf up), in O(n log n)."""
    if not leaves:
        return hashlib.sha256(b"").digest(), []
    if len(leaves) == 1:
        return leaves[0], [[]]
    k = _split(len(leaves))
    left_root, left_paths = merkle_paths(leaves[:k])
    right_root, right_paths = merkle_paths(leaves[k:])
    paths = [[*p, PathStep(right_root, False)] for p in left_paths]
    paths += [[*p, PathStep(left_root, True)] for p in right_paths]
    return node_hash(left_root, right_root), paths
