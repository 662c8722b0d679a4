"""Merkle audit paths over a block's transaction hashes (RFC 6962 §2.1 split, 0x01 node prefix).

Annals lists every transaction hash of a block but serves no paths, so the
adapter derives them; the hub recomputes the root from the path on its own.
"""

from __future__ import annotations

import hashlib


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(root(leaves[:k]), root(leaves[k:]))


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def path(leaves: list[bytes], index: int) -> list[tuple[bytes, bool]]:
    """(sibling, sibling_on_left) from the leaf up to the root."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*path(leaves[:k], index), (root(leaves[k:]), False)]
    return [*path(leaves[k:], index - k), (root(leaves[:k]), True)]
