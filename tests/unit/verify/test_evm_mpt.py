"""Merkle-Patricia proof walking against tries built here (branches, extensions, embedded nodes)."""

from __future__ import annotations

import pytest
import rlp
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from tonglian_proof.verify.mpt import EMPTY_TRIE_ROOT, MptError, nibbles, walk_proof

Node = list  # decoded trie node


def _hex_prefix(path: list[int], leaf: bool) -> bytes:
    flag = (2 if leaf else 0) + len(path) % 2
    nibs = [flag] + ([] if len(path) % 2 else [0]) + path
    return bytes(nibs[i] << 4 | nibs[i + 1] for i in range(0, len(nibs), 2))


class Trie:
    """A reference trie (keys of equal length), built the way Ethereum clients build them."""

    def __init__(self, items: dict[bytes, bytes]) -> None:
        self.db: dict[bytes, bytes] = {}
        node = self._node([(nibbles(k), v) for k, v in sorted(items.items())])
        encoded = rlp.encode(node)
        self.root = keccak(encoded)
        self.db[self.root] = encoded

    def _ref(self, node: Node) -> bytes | Node:
        encoded = rlp.encode(node)
        if len(encoded) < 32:
            return node
        self.db[keccak(encoded)] = encoded
        return keccak(encoded)

    def _node(self, pairs: list[tuple[list[int], bytes]]) -> Node:
        if len(pairs) == 1:
            path, value = pairs[0]
            return [_hex_prefix(path, True), value]
        common = 0
        while all(len(p) > common and p[common] == pairs[0][0][common] for p, _ in pairs):
            common += 1
        if common:
            rest = [(p[common:], v) for p, v in pairs]
            return [_hex_prefix(pairs[0][0][:common], False), self._ref(self._node(rest))]
        branch: list[bytes | Node] = [b""] * 17
        for nib in range(16):
            group = [(p[1:], v) for p, v in pairs if p[0] == nib]
            if group:
                branch[nib] = self._ref(self._node(group))
        return branch

    def proof(self, key: bytes) -> list[bytes]:
        out = [self.db[self.root]]
        node = rlp.decode(self.db[self.root])
        path = nibbles(key)
        while True:
            if len(node) == 17:
                if not path:
                    return out
                child = node[path[0]]
                path = path[1:]
            else:
                flag = node[0][0] >> 4
                node_path = nibbles(node[0])[1 if flag & 1 else 2 :]
                if flag >= 2 or path[: len(node_path)] != node_path:
                    return out
                path = path[len(node_path) :]
                child = node[1]
            if isinstance(child, list):
                node = child
            elif child == b"":
                return out
            else:
                out.append(self.db[child])
                node = rlp.decode(self.db[child])


ITEMS = {bytes([a, b, 0]): bytes([a + 1]) * (1 + b) for a in range(3) for b in range(0, 40, 7)}


def test_every_key_is_found_and_absent_keys_are_proven_absent() -> None:
    trie = Trie(ITEMS)
    for key, value in ITEMS.items():
        assert walk_proof(trie.root, key, trie.proof(key)) == value
    for absent in (bytes([9, 9, 9]), bytes([0, 1, 0]), bytes([1, 7, 1])):
        assert walk_proof(trie.root, absent, trie.proof(absent)) is None


def test_small_values_make_embedded_nodes_that_are_walked_inline() -> None:
    trie = Trie({b"\x01\x02\x03": b"a", b"\x01\x02\x04": b"b"})
    proof = trie.proof(b"\x01\x02\x03")
    assert len(proof) == 1  # the leaves live inside their branch
    assert walk_proof(trie.root, b"\x01\x02\x03", proof) == b"a"


def test_tampered_node_breaks_the_hash_chain() -> None:
    trie = Trie(ITEMS)
    key = bytes([1, 14, 0])
    proof = trie.proof(key)
    assert len(proof) >= 2
    bad = list(proof)
    bad[-1] = bad[-1].replace(ITEMS[key], b"\xff" * len(ITEMS[key]))
    with pytest.raises(MptError, match="hashes to"):
        walk_proof(trie.root, key, bad)


def test_truncated_and_padded_proofs_are_rejected() -> None:
    trie = Trie(ITEMS)
    key = bytes([2, 21, 0])
    proof = trie.proof(key)
    with pytest.raises(MptError, match="ends early"):
        walk_proof(trie.root, key, proof[:-1])
    with pytest.raises(MptError, match="left over"):
        walk_proof(trie.root, key, [*proof, proof[-1]])


def test_proof_of_another_key_does_not_prove_this_one() -> None:
    trie = Trie(ITEMS)
    other = bytes([0, 7, 0])
    with pytest.raises(MptError):
        walk_proof(trie.root, bytes([2, 35, 0]), trie.proof(other))


def test_wrong_root_is_rejected() -> None:
    trie = Trie(ITEMS)
    key = bytes([0, 0, 0])
    with pytest.raises(MptError):
        walk_proof(keccak(b"another root"), key, trie.proof(key))


def test_empty_trie_proves_every_key_absent() -> None:
    assert walk_proof(EMPTY_TRIE_ROOT, b"\x00" * 32, []) is None
    with pytest.raises(MptError):
        walk_proof(EMPTY_TRIE_ROOT, b"\x00" * 32, [b"\xc2\x01\x02"])


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.binary(min_size=4, max_size=4),
        st.binary(min_size=1, max_size=40),
        min_size=1,
        max_size=24,
    ),
    st.binary(min_size=4, max_size=4),
)
def test_random_tries_agree_with_the_reference(items: dict[bytes, bytes], probe: bytes) -> None:
    trie = Trie(items)
    for key, value in items.items():
        assert walk_proof(trie.root, key, trie.proof(key)) == value
    assert walk_proof(trie.root, probe, trie.proof(probe)) == items.get(probe)
