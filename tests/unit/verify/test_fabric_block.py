"""Block parsing, hashes and orderer signatures (tonglian_proof/verify/fabric/block.py)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file
import fabric_forge as ff

from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.fabric import protos
from tonglian_proof.verify.fabric.block import (
    check_data_hash,
    check_orderer_signatures,
    data_hash,
    header_hash,
    parse_block,
    validation_flags,
)
from tonglian_proof.verify.fabric.config import load_config
from tonglian_proof.verify.fabric.policy import parse_signature_policy

MANIFEST = json.loads(ff.read("manifest.json"))
AT = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize("entry", MANIFEST["blocks"], ids=lambda b: f"block-{b['number']}")
def test_hashes_match_manifest(entry: dict[str, Any]) -> None:
    blk = parse_block(ff.block_bytes(entry["number"]))
    assert header_hash(blk).hex() == entry["header_hash"]
    assert data_hash(blk).hex() == entry["data_hash"]
    check_data_hash(blk)
    flags = validation_flags(blk)
    assert flags is not None
    assert [protos.validation_code_name(f) for f in flags] == entry["transactions_filter"]
    if entry["number"] > 0:
        signers, _ = check_orderer_signatures(blk, load_config(ff.read("config-block.pb")), AT)
        assert [s.msp_id for s in signers] == entry["signers"]


def test_genesis_block_is_unsigned() -> None:
    with pytest.raises(ProofRejected, match="block 0 carries no orderer signature"):
        check_orderer_signatures(
            parse_block(ff.block_bytes(0)), load_config(ff.read("config-block.pb")), AT
        )


def test_data_no_longer_matching_data_hash() -> None:
    blk = ff.parse(ff.block_bytes(16))
    blk.data.data[1], blk.data.data[2] = blk.data.data[2], blk.data.data[1]  # reordered txs
    with pytest.raises(
        ProofRejected, match="block 16: data no longer matches the header's data hash"
    ):
        check_data_hash(parse_block(blk.SerializeToString()))


def test_orderer_signature_that_does_not_verify() -> None:
    blk = ff.parse(ff.block_bytes(7))
    md = protos.common.Metadata.FromString(blk.metadata.metadata[0])
    md.value = md.value + b"\x00"  # the signed metadata value changed
    blk.metadata.metadata[0] = md.SerializeToString()
    with pytest.raises(
        ProofRejected,
        match="block 7: orderer signature 0 does not verify: "
        "ECDSA signature does not verify for OrdererMSP orderer CN=orderer",
    ):
        check_orderer_signatures(
            parse_block(blk.SerializeToString()), load_config(ff.read("config-block.pb")), AT
        )


def test_forged_orderer_signature_in_full_proof() -> None:
    w = ff.world()
    forged = ff.resign_block(ff.parse(ff.block_bytes(7)), [w.orderer], corrupt=True)
    with pytest.raises(ProofRejected, match="orderer signature 0 does not verify"):
        check_orderer_signatures(parse_block(forged), load_config(w.config), AT)


def test_block_signed_by_a_peer_does_not_satisfy_block_validation() -> None:
    w = ff.world()
    forged = ff.resign_block(ff.parse(ff.block_bytes(7)), [w.org1_peer])
    with pytest.raises(
        ProofRejected,
        match="do not satisfy /Channel/Orderer/BlockValidation: ImplicitMeta ANY Writers",
    ):
        check_orderer_signatures(parse_block(forged), load_config(w.config), AT)


def _two_orderer_config() -> bytes:
    def edit(config: Any) -> None:
        sp = protos.policies.SignaturePolicyEnvelope()
        role = protos.msp_principal.MSPRole(
            msp_identifier="OrdererMSP", role=protos.msp_principal.MSPRole.ORDERER
        )
        for _ in range(2):
            sp.identities.add(principal_classification=0, principal=role.SerializeToString())
        sp.rule.n_out_of.n = 2
        for i in range(2):
            sp.rule.n_out_of.rules.add(signed_by=i)
        pol = config.channel_group.groups["Orderer"].policies["BlockValidation"].policy
        pol.type = protos.policies.Policy.SIGNATURE
        pol.value = sp.SerializeToString()

    w = ff.world()
    return ff.config_with(roots={"OrdererMSP": [w.orderer_ca.cert]}, edit=edit)


def test_several_orderers_signing_a_block() -> None:
    w = ff.world()
    config = load_config(_two_orderer_config())
    policy = config.policies.find("/Channel/Orderer/BlockValidation")
    assert policy is not None and policy[1] == parse_signature_policy(
        "AND('OrdererMSP.orderer','OrdererMSP.orderer')"
    )
    two = ff.resign_block(ff.parse(ff.block_bytes(7)), [w.orderer, w.orderer2])
    signers, _ = check_orderer_signatures(parse_block(two), config, AT)
    assert len(signers) == 2
    one = ff.resign_block(ff.parse(ff.block_bytes(7)), [w.orderer, w.orderer])
    with pytest.raises(ProofRejected, match="not satisfied"):
        check_orderer_signatures(parse_block(one), config, AT)


def test_unparsable_block() -> None:
    with pytest.raises(ProofRejected, match="block does not parse"):
        parse_block(b"\xff\xff\xff")
