"""Signed qscc answers (tonglian_proof/verify/fabric/qscc.py).

Answers are built by `fabric_forge.qscc_answer` exactly as a Fabric peer's endorser
builds them, signed by peers whose CAs the test config adds to Org1MSP and Org2MSP.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file
import fabric_forge as ff

from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.fabric.block import parse_block
from tonglian_proof.verify.fabric.config import load_config
from tonglian_proof.verify.fabric.qscc import check_qscc
from tonglian_proof.verify.fabric.transaction import Header, parse_header

NOW = datetime(2026, 11, 27, 1, 5, tzinfo=UTC)
BLOCK = ff.block_bytes(7)
ENV = ff.tx_envelope(BLOCK, 0)
TX_ID = ff.tx_id_of(BLOCK, 0)


def header() -> Header:
    return parse_header(7, 0, parse_block(BLOCK).envelopes[0])


def run(answers: list[Any], min_orgs: int = 0) -> tuple[int, list[str]]:
    return check_qscc(answers, load_config(ff.world().config), header(), min_orgs, NOW)


def answer(peer: ff.Party, **kw: Any) -> Any:
    kw.setdefault("envelope", ENV)
    kw.setdefault("tx_id", TX_ID)
    return ff.qscc_answer(peer=peer, client=ff.world().org1_client, **kw)


def test_two_orgs_agree_on_valid() -> None:
    w = ff.world()
    code, checks = run([answer(w.org1_peer), answer(w.org2_peer)])
    assert code == 0
    assert "validation code VALID attested by signed qscc answers of Org1MSP, Org2MSP" in checks[0]


def test_answers_that_disagree() -> None:
    w = ff.world()
    with pytest.raises(
        ProofRejected,
        match="qscc answers disagree: Org1MSP says VALID, Org2MSP says MVCC_READ_CONFLICT",
    ):
        run([answer(w.org1_peer), answer(w.org2_peer, code=11)])


def test_too_few_orgs() -> None:
    w = ff.world()
    with pytest.raises(
        ProofRejected, match=r"qscc answers from 1 organisation\(s\) \(Org1MSP\); 2 required"
    ):
        run([answer(w.org1_peer), answer(w.org1_peer)])
    assert run([answer(w.org1_peer)], min_orgs=1)[0] == 0
    with pytest.raises(
        ProofRejected, match="wants qscc answers from 3 organisations; the channel has 2"
    ):
        run([answer(w.org1_peer)], min_orgs=3)


def test_signed_by_a_non_peer() -> None:
    w = ff.world()
    with pytest.raises(
        ProofRejected,
        match=r"qscc answer 1 \(Org2MSP\) is signed by Org2MSP client CN=user.org2.test"
        r".*which is not a peer",
    ):
        run([answer(w.org1_peer), answer(w.org2_client)])


def test_signed_by_orderer_org() -> None:
    w = ff.world()
    with pytest.raises(ProofRejected, match="which is not a peer"):
        run([answer(w.org1_peer), answer(w.orderer)])


def test_peer_of_unknown_ca() -> None:
    w = ff.world()
    with pytest.raises(
        ProofRejected, match=r"qscc answer 1 .* does not chain to the root CAs of Org2MSP"
    ):
        run([answer(w.org1_peer), answer(w.rogue_peer)])


def test_answer_about_another_transaction() -> None:
    w = ff.world()
    with pytest.raises(
        ProofRejected, match=r"query is qscc .* not qscc GetTransactionByID govchannel"
    ):
        run([answer(w.org1_peer), answer(w.org2_peer, query_tx_id="ab" * 32)])
    other = ff.tx_envelope(ff.block_bytes(8), 0)
    with pytest.raises(
        ProofRejected, match="describes a transaction envelope other than the block's"
    ):
        run([answer(w.org1_peer), answer(w.org2_peer, envelope=other)])


def test_label_must_match_signer() -> None:
    w = ff.world()
    with pytest.raises(ProofRejected, match="is labelled Org2MSP but signed by Org1MSP peer"):
        run([answer(w.org1_peer), answer(w.org1_peer, msp_id="Org2MSP")])


def test_signature_tampered() -> None:
    from tonglian_proof.verify.fabric import protos

    w = ff.world()
    bad = answer(w.org2_peer)
    resp = protos.proposal_response.ProposalResponse.FromString(bad.proposal_response)
    resp.endorsement.signature = w.org2_peer.sign(b"something else")
    bad.proposal_response = resp.SerializeToString()
    with pytest.raises(ProofRejected, match=r"qscc answer 1 .* ECDSA signature does not verify"):
        run([answer(w.org1_peer), bad])


def test_query_from_the_future() -> None:
    w = ff.world()
    with pytest.raises(ProofRejected, match="in the future"):
        run([answer(w.org1_peer, when=datetime(2027, 1, 1, tzinfo=UTC))])
