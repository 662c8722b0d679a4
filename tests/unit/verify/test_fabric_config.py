"""Channel config parsing (tonglian_proof/verify/fabric/config.py) against the manifest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file
import fabric_forge as ff

from tonglian_proof.errors import MalformedInput
from tonglian_proof.verify.fabric.config import parse_config_block

MANIFEST = json.loads(ff.read("manifest.json"))


def test_config_matches_manifest() -> None:
    cfg = parse_config_block(ff.read("config-block.pb"))
    assert cfg.channel == "govchannel" and cfg.block_number == 0 and cfg.sequence == 0
    assert cfg.application_orgs == {"Org1MSP": "Org1MSP", "Org2MSP": "Org2MSP"}
    assert cfg.orderer_orgs == {"OrdererMSP": "OrdererMSP"}
    texts = {path: p.text() for path, p in cfg.policies.all_policies().items()}
    assert texts == MANIFEST["channel_config"]["policies"]
    for org in MANIFEST["orgs"] + MANIFEST["orderer_orgs"]:
        msp = cfg.msps.msps[org["msp_id"]]
        assert msp.node_ous and len(msp.roots) == 1 and not msp.intermediates


def test_not_a_config_block() -> None:
    with pytest.raises(MalformedInput, match="block 7 is not a config block"):
        parse_config_block(ff.block_bytes(7))
    with pytest.raises(MalformedInput, match="config block does not parse"):
        parse_config_block(b"\x0a\x03abc\xff")
