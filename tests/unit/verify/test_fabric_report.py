"""Raw-block verdicts for operators (tonglian_proof/verify/fabric/report.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file
import fabric_forge as ff

from tonglian_proof.errors import MalformedInput
from tonglian_proof.verify.fabric.report import verify_blocks

MANIFEST = json.loads(ff.read("manifest.json"))
RECORDS = {"records": "AND('Org1MSP.peer','Org2MSP.peer')"}


def all_blocks() -> list[bytes]:
    return [ff.block_bytes(b["number"]) for b in MANIFEST["blocks"]]


def test_verdicts_match_manifest() -> None:
    verdicts = verify_blocks(ff.read("config-block.pb"), all_blocks(), RECORDS)
    expected = {(b["number"], t["index"]): t for b in MANIFEST["blocks"] for t in b["transactions"]}
    assert len(verdicts) == 26
    for v in verdicts:
        t = expected[(v.block, v.index)]
        assert v.tx_id == t["tx_id"] and v.flag == t["validation_code"]
        if t["type"] == "CONFIG" or t["chaincode"] == "_lifecycle":
            assert v.valid is None and v.reasons
        else:
            assert v.chaincode == t["chaincode"]
            assert v.valid is (t["validation_code"] == "VALID"), v
    counted = [v for v in verdicts if v.valid is not None]
    assert len(counted) == 19 and sum(v.valid is True for v in counted) == 16


@pytest.mark.parametrize("number", [19, 20])
def test_policy_failure_found_even_with_flag_flipped(number: int) -> None:
    block = ff.with_flag(ff.block_bytes(number), 0, 0)
    (v,) = verify_blocks(ff.read("config-block.pb"), [block], RECORDS)
    assert v.flag == "VALID" and v.valid is False
    assert any("endorsement policy" in r and "not satisfied" in r for r in v.reasons)


def test_mvcc_reason_is_the_flag() -> None:
    verdicts = verify_blocks(ff.read("config-block.pb"), [ff.block_bytes(18)], RECORDS)
    assert [v.valid for v in verdicts] == [True, False]
    assert verdicts[1].reasons == (
        "tx 18:1 (e542752928d4…): the block's validation flag is MVCC_READ_CONFLICT",
    )


def test_default_policy_when_none_given() -> None:
    # Without an explicit policy records falls back to ImplicitMeta MAJORITY Endorsement,
    # which two-org endorsements satisfy and block 19's single endorsement does not.
    verdicts = verify_blocks(ff.read("config-block.pb"), [ff.block_bytes(7), ff.block_bytes(19)])
    assert [v.valid for v in verdicts] == [True, False]
    assert "ImplicitMeta MAJORITY Endorsement" in verdicts[1].reasons[0]


def test_block_level_failure_marks_every_tx() -> None:
    blk = ff.parse(ff.block_bytes(16))
    blk.data.data[0], blk.data.data[3] = blk.data.data[3], blk.data.data[0]
    verdicts = verify_blocks(ff.read("config-block.pb"), [blk.SerializeToString()], RECORDS)
    assert all(v.valid is False for v in verdicts)
    assert all(any("data no longer matches" in r for r in v.reasons) for v in verdicts)


def test_resigned_three_signature_blocks_in_modified_config() -> None:
    w = ff.world()
    forged = w.forge(ff.block_bytes(7), 0, orderers=[w.orderer, w.orderer2])
    (v,) = verify_blocks(w.config, [forged], RECORDS)
    assert v.valid is True, v.reasons


def test_unusable_input() -> None:
    with pytest.raises(MalformedInput, match="block file 1"):
        verify_blocks(ff.read("config-block.pb"), [b"\xff\x00garbage"])
    with pytest.raises(MalformedInput, match="not a config block"):
        verify_blocks(ff.block_bytes(7), [ff.block_bytes(7)])
    with pytest.raises(MalformedInput, match="policy syntax error at position"):
        verify_blocks(ff.read("config-block.pb"), [ff.block_bytes(7)], {"records": "AND("})
