"""Transaction checks on real and re-signed transactions (verify/fabric/transaction.py).

Forged variants are the real block-7 transaction re-signed by `fabric_forge.forge_tx`
with identities from CAs added to the real config, so that only one thing is wrong.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tonglian.v1 import records_pb2

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file
import fabric_forge as ff

from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.fabric import verify_fabric_record
from tonglian_proof.verify.fabric.block import parse_block
from tonglian_proof.verify.fabric.config import load_config
from tonglian_proof.verify.fabric.transaction import (
    check_structure,
    parse_endorser_tx,
    parse_header,
    verify_endorser_tx,
)
from tonglian_proof.verify.fabric.verifier import parse_policies

MANIFEST = json.loads(ff.read("manifest.json"))
ALL_ENDORSER_TXS = [
    (b["number"], t["index"], t["validation_code"], t["chaincode"])
    for b in MANIFEST["blocks"]
    for t in b["transactions"]
    if t["type"] == "ENDORSER_TRANSACTION"
]
POLICIES = parse_policies({"records": "AND('Org1MSP.peer','Org2MSP.peer')"})


def tx_of(block: bytes, index: int) -> Any:
    blk = parse_block(block)
    return parse_endorser_tx(parse_header(blk.number, index, blk.envelopes[index]))


@pytest.mark.parametrize(("number", "index", "code", "chaincode"), ALL_ENDORSER_TXS)
def test_manifest_verdicts_from_own_policy_evaluation(
    number: int, index: int, code: str, chaincode: str
) -> None:
    """23 VALID (including the 6 _lifecycle txs) and the MVCC conflict pass every
    signature and policy check; the two ENDORSEMENT_POLICY_FAILUREs are caught here."""
    config = load_config(ff.read("config-block.pb"))
    tx = tx_of(ff.block_bytes(number), index)
    assert tx.chaincode == chaincode
    if code == "ENDORSEMENT_POLICY_FAILURE":
        with pytest.raises(ProofRejected, match=r"endorsement policy .* not satisfied"):
            verify_endorser_tx(tx, config, POLICIES)
    else:
        checks = verify_endorser_tx(tx, config, POLICIES).checks
        assert any("satisfied" in c for c in checks)


def test_counts() -> None:
    codes = [c for _, _, c, _ in ALL_ENDORSER_TXS]
    assert codes.count("VALID") == 22 and len(codes) == 25  # + the CONFIG tx = 23 VALID


def check(block: bytes, index: int = 0) -> list[str]:
    w = ff.world()
    p = records_pb2.FabricTxProof(block=block, tx_index=index)
    p.qscc_answers.extend(w.answers(block, index))
    return verify_fabric_record(ff.record_for(block, index), p, w.anchor())


def test_resigned_baseline_verifies() -> None:
    w = ff.world()
    checks = check(w.forge(ff.block_bytes(7), 0))
    assert any("CN=peer1.org2.test" in c for c in checks)  # issued by an intermediate CA


def rejects(reason: str, **kw: Any) -> None:
    w = ff.world()
    with pytest.raises(ProofRejected) as err:
        check(w.forge(ff.block_bytes(7), 0, **kw))
    assert reason in err.value.reason, err.value.reason


def test_endorser_from_unknown_ca() -> None:
    w = ff.world()
    rejects(
        "endorsement 1: certificate CN=rogue.peer.org2,OU=peer,C=US "
        "does not chain to the root CAs of Org2MSP",
        endorsers=[w.org1_peer, w.rogue_peer],
    )


def test_one_org_endorsement_missing() -> None:
    w = ff.world()
    rejects(
        "endorsement policy AND('Org1MSP.peer','Org2MSP.peer') for namespace records not satisfied",
        endorsers=[w.org1_peer],
    )


def test_duplicated_endorsement_counts_once() -> None:
    w = ff.world()
    rejects("not satisfied", endorsers=[w.org1_peer, w.org1_peer])


def test_signature_over_other_bytes() -> None:
    rejects(
        "endorsement 0: ECDSA signature does not verify for Org1MSP peer CN=peer1.org1.test",
        sign_endorsement=lambda e, m: e.sign(m[:-1]),
    )


def test_high_s_endorsement_refused() -> None:
    rejects(
        "endorsement 0: ECDSA signature is not low-S",
        sign_endorsement=lambda e, m: ff.high_s(e.sign(m)),
    )


def test_expired_endorser_certificate() -> None:
    w = ff.world()
    rejects(
        "endorsement 1: certificate CN=expired.peer.org2,OU=peer,C=US of Org2MSP "
        "is not valid at 2026-11-27T00:47:31",
        endorsers=[w.org1_peer, w.expired_peer],
    )


def test_revoked_endorser_certificate() -> None:
    w = ff.world()
    serial = f"{w.revoked_peer.cert.serial_number:x}"
    rejects(
        f"endorsement 1: certificate CN=revoked.peer.org2,OU=peer,C=US (serial {serial}) "
        "is revoked by a CRL of Org2MSP",
        endorsers=[w.org1_peer, w.revoked_peer],
    )


def test_client_certificate_where_peer_required() -> None:
    w = ff.world()
    rejects(
        "not satisfied: AND('Org1MSP.peer','Org2MSP.peer') not satisfied by "
        "Org1MSP peer CN=peer1.org1.test,"
        "OU=peer,C=US, Org2MSP client CN=user.org2.test",
        endorsers=[w.org1_peer, w.org2_client],
    )


def test_creator_from_unknown_ca() -> None:
    w = ff.world()
    rogue_client = w.rogue_ca.issue("rogue.user", "client", msp_id="Org1MSP")
    rejects(
        "creator signature: certificate CN=rogue.user,OU=client,C=US does not chain",
        creator=rogue_client,
    )


def test_write_set_edited_after_endorsement_breaks_signature() -> None:
    """Editing the write set and re-signing only the envelope: endorsements no longer match."""
    w = ff.world()

    def swap_value(txrw: Any) -> None:
        from tonglian_proof.verify.fabric import protos

        ns = next(n for n in txrw.ns_rwset if n.namespace == "records")
        kv = protos.kv_rwset.KVRWSet.FromString(ns.rwset)
        kv.writes[0].value = b'{"schema":"gov.license.business/v1","status":"forged"}'
        ns.rwset = kv.SerializeToString()

    forged = w.forge(ff.block_bytes(7), 0, edit_rwset=swap_value)
    # Endorsers re-signed the edited payload here, so the tx is "valid" but the record is not.
    with pytest.raises(ProofRejected, match="record value of 'license:91310000MA1K000001' differs"):
        check_record_only(forged)


def check_record_only(block: bytes) -> None:
    w = ff.world()
    rec = ff.record_for(ff.block_bytes(7), 0)
    fresh = ff.record_for(block, 0)
    rec.tx_id = fresh.tx_id
    p = records_pb2.FabricTxProof(block=block, tx_index=0)
    p.qscc_answers.extend(w.answers(block, 0))
    verify_fabric_record(rec, p, w.anchor())


def test_envelope_moved_to_other_tx_id_breaks_binding() -> None:
    """A real endorsement pasted into a tx with another creator: proposal hash mismatch."""
    from tonglian_proof.verify.fabric import protos

    w = ff.world()
    blk = ff.parse(ff.block_bytes(7))
    env = protos.common.Envelope.FromString(blk.data.data[0])
    payload = protos.common.Payload.FromString(env.payload)
    chdr = protos.common.ChannelHeader.FromString(payload.header.channel_header)
    shdr = protos.common.SignatureHeader.FromString(payload.header.signature_header)
    shdr.creator = w.org1_client.serialized()
    tx = protos.transaction.Transaction.FromString(payload.data)
    tx.actions[0].header = shdr.SerializeToString()
    import hashlib

    chdr.tx_id = hashlib.sha256(shdr.nonce + shdr.creator).hexdigest()
    payload.header.channel_header = chdr.SerializeToString()
    payload.header.signature_header = shdr.SerializeToString()
    payload.data = tx.SerializeToString()
    pb = payload.SerializeToString()
    blk.data.data[0] = protos.common.Envelope(
        payload=pb, signature=w.org1_client.sign(pb)
    ).SerializeToString()
    forged = ff.resign_block(blk, [w.orderer])
    with pytest.raises(
        ProofRejected, match="proposal hash in the endorsed response does not match"
    ):
        check(forged)


def _with_action_header(edit: Any) -> Any:
    """Block 7's transaction, parsed, with its action's signature header edited."""
    from tonglian_proof.verify.fabric import protos

    env = protos.common.Envelope.FromString(parse_block(ff.block_bytes(7)).envelopes[0])
    payload = protos.common.Payload.FromString(env.payload)
    tx = protos.transaction.Transaction.FromString(payload.data)
    shdr = protos.common.SignatureHeader.FromString(tx.actions[0].header)
    edit(shdr)
    tx.actions[0].header = shdr.SerializeToString()
    payload.data = tx.SerializeToString()
    env.payload = payload.SerializeToString()
    return parse_endorser_tx(parse_header(7, 0, env.SerializeToString()))


def test_action_header_of_another_creator_is_refused() -> None:
    """The action's own signature header is read, not assumed to be the envelope's."""
    w = ff.world()
    config = load_config(ff.read("config-block.pb"))
    tx = _with_action_header(lambda h: setattr(h, "creator", w.org1_client.serialized()))
    with pytest.raises(ProofRejected, match="the action's creator differs from the envelope's"):
        check_structure(tx, config)
    # Another nonce, the same creator: the creators agree, the proposal hash does not.
    tx = _with_action_header(lambda h: setattr(h, "nonce", b"\x00" * 24))
    with pytest.raises(ProofRejected, match="proposal hash in the endorsed response does not"):
        check_structure(tx, config)
