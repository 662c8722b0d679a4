"""Merkle-Patricia trie proof walking (Ethereum's state and storage tries, EIP-1186 proofs).

`walk_proof` follows a key's path from a trusted root through the proof's nodes
and returns the value stored under the key, or None when the proof shows the
key is absent. Every node is bound to its parent by keccak256 (or embedded in
it when shorter than 32 bytes), so a node that does not belong is rejected.
Pure functions; errors are MptError with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import rlp

from tonglian_proof.crypto.keccak import keccak256 as keccak

# keccak256(rlp(b"")): the root of an empty trie.
EMPTY_TRIE_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")

RlpItem = bytes | list["RlpItem"]
_NIBBLE = {c: i for i, c in enumerate("0123456789abcdef")}


class MptError(ValueError):
    """The proof does not lead from the root to the key."""


def nibbles(key: bytes) -> list[int]:
    out: list[int] = []
    for byte in key:
        out += (byte >> 4, byte & 0x0F)
    return out


def _decode_compact(encoded: bytes) -> tuple[str, bool]:
    """Hex-prefix decoding: (path as lowercase hex nibbles, is_leaf)."""
    if not encoded:
        raise MptError("empty hex-prefix path in a leaf or extension node")
    path = encoded.hex()
    flag = encoded[0] >> 4
    if flag > 3:
        raise MptError(f"bad hex-prefix flag {flag}")
    # Odd paths keep the first nibble after the flag; even paths have a zero pad.
    if flag & 1:
        return path[1:], flag >= 2
    if path[1] != "0":
        raise MptError("non-zero padding nibble in an even hex-prefix path")
    return path[2:], flag >= 2


def _decode_node(raw: bytes) -> list[RlpItem]:
    try:
        node = rlp.decode(raw, strict=True)
    except rlp.exceptions.DecodingError as exc:
        raise MptError(f"proof node is not valid RLP: {exc}") from exc
    if not isinstance(node, list) or len(node) not in (2, 17):
        raise MptError("proof node is neither a branch (17 items) nor a leaf/extension (2 items)")
    return node


def walk_proof(root: bytes, key: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The value under keccak256-hashed `key` in the trie with `root`, or None when absent.

    `key` is the raw trie key (already hashed, as Ethereum's secure tries use
    keccak256(address) and keccak256(slot)). Every proof node must be used.
    """
    # Nibble paths as hex strings: slicing and comparing them is C work, not a list per step.
    path = key.hex()
    if root == EMPTY_TRIE_ROOT:
        if any(node != b"\x80" for node in proof):
            raise MptError("nodes given for an empty trie")
        return None
    index = 0
    expected: RlpItem = root
    while True:
        # Resolve the reference to the next node: a 32-byte hash or an embedded node.
        if isinstance(expected, list):
            node = expected
        elif expected == b"":
            return _absent(index, proof)
        elif len(expected) == 32:
            if index >= len(proof):
                raise MptError(f"proof ends early: node {expected.hex()} is missing")
            raw = proof[index]
            if keccak(raw) != expected:
                raise MptError(
                    f"proof node {index} hashes to {keccak(raw).hex()}, "
                    f"its parent expects {expected.hex()}"
                )
            node = _decode_node(raw)
            index += 1
        else:
            raise MptError(f"bad node reference of {len(expected)} bytes")
        if len(node) == 17:
            if not path:
                value = node[16]
                if not isinstance(value, bytes):
                    raise MptError("branch value is not a byte string")
                return _found(value, index, proof)
            expected = node[_NIBBLE[path[0]]]
            path = path[1:]
            continue
        encoded, child = node
        if not isinstance(encoded, bytes):
            raise MptError("leaf/extension path is not a byte string")
        node_path, is_leaf = _decode_compact(encoded)
        if is_leaf:
            if node_path != path:
                return _absent(index, proof)
            if not isinstance(child, bytes):
                raise MptError("leaf value is not a byte string")
            return _found(child, index, proof)
        if not path.startswith(node_path):
            return _absent(index, proof)
        path = path[len(node_path) :]
        expected = child


def _found(value: bytes, used: int, proof: Sequence[bytes]) -> bytes | None:
    _all_used(used, proof, "leaf")
    return value if value else None


def _absent(used: int, proof: Sequence[bytes], what: str = "absence") -> bytes | None:
    _all_used(used, proof, what)
    return None


def _all_used(used: int, proof: Sequence[bytes], what: str) -> None:
    if used != len(proof):
        raise MptError(f"{len(proof) - used} proof node(s) left over after the key's {what}")
