"""The verified-header cache of tonglian_proof.verify.signed_merkle: a block's k-of-n
signatures are checked once, and the cached entry never vouches for another header,
another signature set, another anchor or another record."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helpers of the neighbouring test
from test_signed_merkle import KEYS, anchor, block, rejected

from tonglian.v1 import records_pb2
from tonglian_proof.verify import signed_merkle
from tonglian_proof.verify.signed_merkle import verify_signed_merkle_record
from tonglian_proof.verify.verified_cache import clear_verified_caches


@pytest.fixture(autouse=True)
def _fresh() -> None:
    clear_verified_caches()


def test_second_record_of_a_block_checks_no_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[int] = []
    real = signed_merkle.check_signatures

    def counting(header: bytes, height: int, *rest: Any) -> list[str]:
        checked.append(height)
        return real(header, height, *rest)

    monkeypatch.setattr(signed_merkle, "check_signatures", counting)
    b = block(4)
    verify_signed_merkle_record(b.records[0], b.proof(0), anchor())
    assert checked == [7]
    checks = verify_signed_merkle_record(b.records[1], b.proof(1), anchor())
    assert checked == [7]
    assert checks[1] == "3 of 4 validators signed block 7 (threshold 3): v1, v2, v3"


def test_cached_signatures_do_not_vouch_for_another_header() -> None:
    b = block(2)
    verify_signed_merkle_record(b.records[0], b.proof(0), anchor())
    other = block(2, previous_hash="cd" * 32)
    proof = other.proof(0)
    # The signatures that verified over the first header, carried onto the second.
    del proof.signatures[:]
    proof.signatures.extend(b.proof(0).signatures)
    assert rejected(other.records[0], proof) == (
        "Ed25519 signature of validator 'v1' does not verify over the header of block 7"
    )


def test_cached_header_does_not_vouch_for_a_forged_extra_signature() -> None:
    b = block(2)
    verify_signed_merkle_record(b.records[0], b.proof(0), anchor())
    proof = b.proof(1)
    proof.signatures.append(
        records_pb2.ValidatorSignature(validator_id="v4", signature=b"\x00" * 64)
    )
    assert rejected(b.records[1], proof) == (
        "Ed25519 signature of validator 'v4' does not verify over the header of block 7"
    )


def test_cached_header_does_not_vouch_under_another_anchor() -> None:
    b = block(2)
    verify_signed_merkle_record(b.records[0], b.proof(0), anchor(threshold=3))
    assert rejected(b.records[0], b.proof(0), anchor(threshold=4)) == (
        "block 7 has valid signatures of 3/4 required validators (v1, v2, v3)"
    )
    stranger = anchor(threshold=2, ids=("v1", "v4"))
    stranger.validators[1].ed25519_public_key = KEYS["v2"].public_key().public_bytes_raw()
    stranger.validators[1].id = "v9"
    assert rejected(b.records[0], b.proof(0), stranger) == (
        "block 7 has valid signatures of 1/2 required validators (v1); ignored signatures "
        "by validators not in the anchor: v2, v3"
    )


def test_cached_header_does_not_vouch_for_another_record() -> None:
    b = block(4)
    verify_signed_merkle_record(b.records[0], b.proof(0), anchor())
    forged = records_pb2.Record()
    forged.CopyFrom(b.records[1])
    forged.value = b'{"holder":"mallory","n":1}'
    assert rejected(forged, b.proof(1)).startswith("Merkle path from leaf 1 ends at")
