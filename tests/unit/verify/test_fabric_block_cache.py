"""The verified-block cache (tonglian_proof/verify/fabric/block.py): a block whose orderer
signatures were verified once is not re-verified, and the entry never answers for a
different header, different signatures or a different trust anchor."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file
import fabric_forge as ff

from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.fabric.block import check_orderer_signatures, parse_block
from tonglian_proof.verify.fabric.config import load_config
from tonglian_proof.verify.fabric.msp import MspManager
from tonglian_proof.verify.verified_cache import clear_verified_caches

AT = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh() -> None:
    clear_verified_caches()


def _count_signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    original = MspManager.verify

    def counting(self: MspManager, *a: object, **k: object) -> object:
        calls[0] += 1
        return original(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(MspManager, "verify", counting)
    return calls


def test_second_read_of_a_block_checks_no_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_signature_checks(monkeypatch)
    config = load_config(ff.read("config-block.pb"))
    blk = parse_block(ff.block_bytes(7))
    first = check_orderer_signatures(blk, config, AT)
    assert calls[0] == 1
    second = check_orderer_signatures(blk, config, AT)
    assert calls[0] == 1
    assert [s.msp_id for s in second[0]] == [s.msp_id for s in first[0]] == ["OrdererMSP"]
    assert second[1] == first[1]


def test_cached_block_does_not_vouch_for_a_different_header() -> None:
    config = load_config(ff.read("config-block.pb"))
    good = ff.parse(ff.block_bytes(7))
    check_orderer_signatures(parse_block(good.SerializeToString()), config, AT)
    good.header.previous_hash = b"\x01" * 32  # same signatures, another header
    with pytest.raises(
        ProofRejected, match="block 7: orderer signature 0 does not verify: ECDSA signature"
    ):
        check_orderer_signatures(parse_block(good.SerializeToString()), config, AT)


def test_cached_block_does_not_vouch_for_different_signatures() -> None:
    w = ff.world()
    config = load_config(w.config)
    signed = ff.resign_block(ff.parse(ff.block_bytes(7)), [w.orderer])
    check_orderer_signatures(parse_block(signed), config, AT)
    # Same header, a signature over other bytes by the same orderer.
    forged = ff.resign_block(ff.parse(ff.block_bytes(7)), [w.orderer], corrupt=True)
    with pytest.raises(ProofRejected, match="block 7: orderer signature 0 does not verify"):
        check_orderer_signatures(parse_block(forged), config, AT)


def test_cached_block_does_not_vouch_under_another_anchor() -> None:
    w = ff.world()
    signed = parse_block(ff.resign_block(ff.parse(ff.block_bytes(7)), [w.orderer]))
    check_orderer_signatures(signed, load_config(w.config), AT)
    # The real channel config does not know the test orderer CA: same block, refused.
    with pytest.raises(ProofRejected, match="block 7: orderer signature 0 does not verify"):
        check_orderer_signatures(signed, load_config(ff.read("config-block.pb")), AT)


def test_cached_block_still_checks_certificate_validity_at_the_time_asked() -> None:
    config = load_config(ff.read("config-block.pb"))
    blk = parse_block(ff.block_bytes(7))
    check_orderer_signatures(blk, config, AT)
    with pytest.raises(ProofRejected, match="block 7: an orderer signer is not valid: certificate"):
        check_orderer_signatures(blk, config, datetime(2000, 1, 1, tzinfo=UTC))
