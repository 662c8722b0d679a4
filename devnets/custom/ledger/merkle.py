"""Leaf and tree hashing of a block's entries (the spec the hub verifier implements).

H is the ledger's digest: SHA-256, or SM3 in national-cryptography mode (--crypto sm2).

leaf  = H(0x00 ‖ canonical JSON of {collection, deleted, key, ledger_id, schema,
        tx_id, value, version}) where `value` is the record's canonical JSON text
        (a string; "" for a deletion).
node  = H(0x01 ‖ left ‖ right)
tree  = RFC 6962 §2.1: for n > 1 leaves split at k, the largest power of two < n;
        the left subtree holds leaves [0, k), the right [k, n). An odd node is thus
        never duplicated: it is carried up unchanged until it is paired.
empty = H(b"") (a block with no entries, such as genesis).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from tonglian_proof.canonical import canonical_json

Hash = Callable[[bytes], bytes]
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


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(fields: LeafFields, h: Hash = sha256) -> bytes:
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
    return h(LEAF_PREFIX + body)


def node_hash(left: bytes, right: bytes, h: Hash = sha256) -> bytes:
    return h(NODE_PREFIX + left + right)


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def merkle_root(leaves: list[bytes], h: Hash = sha256) -> bytes:
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(merkle_root(leaves[:k], h), merkle_root(leaves[k:], h), h)


def merkle_paths(leaves: list[bytes], h: Hash = sha256) -> tuple[bytes, list[list[PathStep]]]:
    """The root and every leaf's audit path (siblings from the leaf up), in O(n log n)."""
    if not leaves:
        return h(b""), []
    if len(leaves) == 1:
        return leaves[0], [[]]
    k = _split(len(leaves))
    left_root, left_paths = merkle_paths(leaves[:k], h)
    right_root, right_paths = merkle_paths(leaves[k:], h)
    paths = [[*p, PathStep(right_root, False)] for p in left_paths]
    paths += [[*p, PathStep(left_root, True)] for p in right_paths]
    return node_hash(left_root, right_root, h), paths
