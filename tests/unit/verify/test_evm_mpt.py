"""Merkle-Patricia proof walking against tries built here (branches, extensions, embedded nodes)."""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.verify.mpt_reference import Trie
from tonglian_proof.verify.mpt import EMPTY_TRIE_ROOT, MptError, walk_proof

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
