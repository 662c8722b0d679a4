"""Decoding real Fabric v3.1.5 blocks (tests/data/fabric) into Records, hashes, flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.fabric import blocks
from adapters.fabric.registration import (
    InvalidConfigBlock,
    config_block_channel,
    fabric_chain,
    fabric_trust_anchor,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "fabric"
if not DATA.is_dir():
    DATA = Path("/work/shared/fabric/vectors")
MANIFEST = json.loads((DATA / "manifest.json").read_text())


def _block(n: int) -> bytes:
    return (DATA / f"block-{n}.pb").read_bytes()


def _manifest_block(n: int) -> dict:  # type: ignore[type-arg]
    for b in MANIFEST["blocks"]:
        if int(b["number"]) == n:
            return b  # type: ignore[no-any-return]
    raise KeyError(n)


@pytest.mark.parametrize("n", range(22))
def test_header_hash_matches_manifest(n: int) -> None:
    block = blocks.parse_block(_block(n))
    assert blocks.header_hash(block.header).hex() == _manifest_block(n)["header_hash"]


def test_put_block_becomes_a_record() -> None:
    block = blocks.parse_block(_block(7))
    found = blocks.records_of_block("fabric-1", "govchannel", block, {"records"})
    assert len(found) == 1
    _, record = found[0]
    expected = _manifest_block(7)["transactions"][0]
    assert record.ref.namespace == "govchannel:records"
    assert record.ref.key == "license:91310000MA1K000001"
    assert record.tx_id == expected["tx_id"]
    assert record.version == (7 << 32) | 0
    assert record.block_height == 7
    write = next(w for w in expected["writes"] if w["key"] == record.ref.key)
    assert record.value == write["value"].encode()
    assert not record.deleted
    assert record.commit_time.seconds > 0


def test_delete_becomes_a_deleted_record() -> None:
    found = blocks.records_of_block("c", "govchannel", blocks.parse_block(_block(13)), None)
    assert [(r.ref.key, r.deleted, r.value) for _, r in found] == [
        ("license:91310000MA1K000003", True, b"")
    ]


def test_invalid_transactions_yield_no_records() -> None:
    # Block 18: tx 0 VALID, tx 1 MVCC_READ_CONFLICT; 19 and 20: endorsement policy failures.
    b18 = blocks.parse_block(_block(18))
    txs = blocks.transactions(b18)
    assert [t.validation_name for t in txs] == ["VALID", "MVCC_READ_CONFLICT"]
    assert [t.index for t, _ in blocks.records_of_block("c", "g", b18, None)] == [0]
    for n in (19, 20):
        txs = blocks.transactions(blocks.parse_block(_block(n)))
        assert txs[0].validation_name == "ENDORSEMENT_POLICY_FAILURE"
        assert blocks.records_of_block("c", "g", blocks.parse_block(_block(n)), None) == []


def test_multi_transaction_block_versions_follow_tx_index() -> None:
    found = blocks.records_of_block("c", "govchannel", blocks.parse_block(_block(16)), None)
    assert len(found) == 4
    assert [r.version & 0xFFFFFFFF for _, r in found] == [0, 1, 2, 3]
    assert {r.ref.namespace for _, r in found} == {
        "govchannel:records",
        "govchannel:records_default",
    }


def test_lifecycle_and_config_blocks_have_no_user_records() -> None:
    for n in range(7):
        assert blocks.records_of_block("c", "g", blocks.parse_block(_block(n)), None) == []


def test_schema_of() -> None:
    assert blocks.schema_of(b'{"schema":"gov.x/v1","a":1}') == "gov.x/v1"
    assert blocks.schema_of(b"0") == ""
    assert blocks.schema_of(b"not json") == ""


def test_trust_anchor_from_config_block() -> None:
    data = (DATA / "config-block.pb").read_bytes()
    assert config_block_channel(data) == "govchannel"
    anchor = fabric_trust_anchor(
        data, channel="govchannel", endorsement_policies={"records": "AND('A.peer','B.peer')"}
    )
    assert anchor.fabric.channel == "govchannel"
    assert anchor.fabric.config_block == data
    with pytest.raises(InvalidConfigBlock):
        fabric_trust_anchor(data, channel="other")
    with pytest.raises(InvalidConfigBlock):
        config_block_channel(_block(7))
    with pytest.raises(InvalidConfigBlock):
        config_block_channel(b"\xff\xff garbage")


def test_fabric_chain(tmp_path: Path) -> None:
    from adapters.fabric.options import FabricAdapterOptions

    ca = (DATA / "certs" / "Org1MSP" / "ca.pem").read_text()
    options = FabricAdapterOptions.model_validate(
        {
            "channel": "govchannel",
            "chaincode": "records",
            "peers": [{"endpoint": "127.0.0.1:7051", "msp_id": "Org1MSP", "tls_root_cert_pem": ca}],
            "identity": {"msp_id": "Org1MSP", "cert_pem": ca},
        }
    )
    chain = fabric_chain("fabric-1", options, DATA / "config-block.pb")
    assert chain.adapter.adapter == "fabric"
    assert chain.adapter.options["channel"] == "govchannel"
    assert chain.trust_anchor.fabric.channel == "govchannel"
