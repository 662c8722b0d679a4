"""verify_fabric_record on the real captured blocks (tonglian_proof/verify/fabric/verifier.py).

The vectors have no qscc answers; answers are signed by peers we generate, whose CAs
`fabric_forge.config_with` adds to Org1MSP and Org2MSP of the real config block
(see fabric_forge's docstring). The real roots stay, so the real signatures verify.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tonglian.v1 import records_pb2

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file
import fabric_forge as ff

from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.fabric import protos, verify_fabric_record

MANIFEST = json.loads(ff.read("manifest.json"))
USER_TXS = [
    (b["number"], t["index"], t["validation_code"])
    for b in MANIFEST["blocks"]
    for t in b["transactions"]
    if t.get("chaincode") in ("records", "records_default")
]
CODES = {
    name: int(protos.transaction.TxValidationCode.Value(name))
    for name in ("VALID", "MVCC_READ_CONFLICT")
}


def proof(block: bytes, index: int, answers: list[Any]) -> records_pb2.FabricTxProof:
    p = records_pb2.FabricTxProof(block=block, tx_index=index)
    p.qscc_answers.extend(answers)
    return p


def verify(
    block: bytes, index: int, *, record: Any = None, answers: list[Any] | None = None, **kw: Any
) -> list[str]:
    w = ff.world()
    rec = record if record is not None else ff.record_for(block, index)
    ans = answers if answers is not None else w.answers(block, index)
    return verify_fabric_record(rec, proof(block, index, ans), w.anchor(**kw))


def test_user_transaction_count() -> None:
    assert len(USER_TXS) == 19


@pytest.mark.parametrize(("number", "index", "code"), USER_TXS)
def test_every_user_transaction_gets_its_verdict(number: int, index: int, code: str) -> None:
    w = ff.world()
    block = ff.block_bytes(number)
    # Peers attest what they committed; for the policy failures even a VALID attestation
    # must not help: the endorsement policy is evaluated here, not taken from anyone.
    attested = CODES.get(code, 0)
    answers = w.answers(block, index, code=attested)
    if code == "VALID":
        checks = verify(block, index, answers=answers)
        assert checks[-1].endswith(
            "validation code VALID attested by signed qscc answers of Org1MSP, Org2MSP"
        )
        assert any("endorsement policy" in c and "satisfied" in c for c in checks)
    elif code == "MVCC_READ_CONFLICT":
        with pytest.raises(ProofRejected, match="peers attest validation code MVCC_READ_CONFLICT"):
            verify(block, index, answers=answers)
    else:
        assert code == "ENDORSEMENT_POLICY_FAILURE"
        with pytest.raises(ProofRejected, match=r"endorsement policy .* not satisfied"):
            verify(block, index, answers=answers)


@pytest.mark.parametrize("number", [19, 20])
def test_policy_failure_with_flag_flipped_to_valid(number: int) -> None:
    block = ff.with_flag(ff.block_bytes(number), 0, 0)
    with pytest.raises(ProofRejected, match=r"endorsement policy .* not satisfied"):
        verify(block, 0)


def test_mvcc_tx_flagged_invalid_even_if_block_flag_says_valid() -> None:
    w = ff.world()
    block = ff.with_flag(ff.block_bytes(18), 1, 0)
    answers = w.answers(block, 1, code=CODES["MVCC_READ_CONFLICT"])
    with pytest.raises(ProofRejected, match="MVCC_READ_CONFLICT"):
        verify(block, 1, answers=answers)


def test_block_flag_alone_is_not_enough() -> None:
    with pytest.raises(ProofRejected, match="qscc answers from 0 organisation"):
        verify(ff.block_bytes(7), 0, answers=[])


def test_delete_record() -> None:
    checks = verify(ff.block_bytes(13), 0)
    assert any("delete of records/license:91310000MA1K000003" in c for c in checks)


def test_multi_tx_block_and_non_ascii_value() -> None:
    for index in range(4):
        verify(ff.block_bytes(16), index)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda r: setattr(r, "value", r.value + b" "),
            "record value of 'license:91310000MA1K000001' differs",
        ),
        (
            lambda r: setattr(r.ref, "key", "license:91310000MA1K000002"),
            "does not write key 'license:91310000MA1K000002'",
        ),
        (lambda r: (setattr(r, "deleted", True), setattr(r, "value", b"")), "record says a delete"),
        (lambda r: setattr(r.ref, "namespace", "govchannel:records_default"), "does not write key"),
        (
            lambda r: setattr(r.ref, "namespace", "otherchannel:records"),
            "is not 'govchannel:<chaincode>'",
        ),
        (lambda r: setattr(r, "schema", "gov.other/v1"), "record schema 'gov.other/v1'"),
        (lambda r: setattr(r, "version", 1), "record version 1 is not"),
        (lambda r: setattr(r, "block_height", 8), "record block_height 8"),
        (lambda r: setattr(r, "tx_id", "00"), "record tx_id '00'"),
        (lambda r: setattr(r.commit_time, "nanos", 0), "record commit_time"),
    ],
)
def test_record_must_match_write_set(change: Any, reason: str) -> None:
    block = ff.block_bytes(7)
    rec = ff.record_for(block, 0)
    change(rec)
    with pytest.raises(ProofRejected, match=reason.replace("(", r"\(").replace(")", r"\)")):
        verify(block, 0, record=rec)


def test_put_record_against_delete_tx() -> None:
    block = ff.block_bytes(13)
    rec = ff.record_for(block, 0)
    rec.deleted = False
    with pytest.raises(
        ProofRejected,
        match=r"record says a put of 'license:91310000MA1K000003' but tx 13:0 .* deletes it",
    ):
        verify(block, 0, record=rec)


def test_future_transaction_refused() -> None:
    with pytest.raises(ProofRejected, match="in the future"):
        verify_fabric_record(
            ff.record_for(ff.block_bytes(7), 0),
            proof(ff.block_bytes(7), 0, []),
            ff.world().anchor(),
            now=datetime(2026, 1, 1, tzinfo=UTC),
        )


def test_wrong_channel_anchor_and_bad_policy_text() -> None:
    w = ff.world()
    anchor = w.anchor()
    anchor.channel = "otherchannel"
    block = ff.block_bytes(7)
    with pytest.raises(ProofRejected, match="trust anchor is for channel 'otherchannel'"):
        verify_fabric_record(ff.record_for(block, 0), proof(block, 0, []), anchor)
    with pytest.raises(
        ProofRejected, match="trust anchor unusable: endorsement policy of chaincode records"
    ):
        verify(block, 0, policies={"records": "AND('Org1MSP.peer'"})


def test_explicit_policy_override_is_enforced() -> None:
    # records_default with an explicit 3-of-... policy that two orgs cannot meet.
    block = ff.block_bytes(14)
    with pytest.raises(ProofRejected, match="OutOf"):
        verify(
            block,
            0,
            policies={"records_default": "OutOf(2,'Org1MSP.peer','Org3MSP.peer','Org4MSP.peer')"},
        )


def test_tx_index_out_of_range() -> None:
    with pytest.raises(ProofRejected, match="no index 3"):
        verify_fabric_record(
            records_pb2.Record(), proof(ff.block_bytes(18), 3, []), ff.world().anchor()
        )


def _envelope_span(block: bytes, index: int) -> tuple[int, int]:
    env = ff.tx_envelope(block, index)
    start = block.find(env)
    assert start >= 0 and block.find(env, start + 1) < 0
    return start, len(env)


BLOCK7 = ff.block_bytes(7)
SPAN7 = _envelope_span(BLOCK7, 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    offset=st.integers(min_value=0, max_value=SPAN7[1] - 1),
    mask=st.integers(min_value=1, max_value=255),
)
def test_flipping_any_envelope_byte_fails(offset: int, mask: int) -> None:
    w = ff.world()
    data = bytearray(BLOCK7)
    data[SPAN7[0] + offset] ^= mask
    rec = ff.record_for(BLOCK7, 0)
    answers = w.answers(BLOCK7, 0)
    with pytest.raises(ProofRejected):
        verify_fabric_record(rec, proof(bytes(data), 0, answers), w.anchor())
