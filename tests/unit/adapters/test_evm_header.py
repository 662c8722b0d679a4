"""Header RLP rebuilt from a JSON block hashes to its block hash (a recorded anvil Prague block)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from adapters.evm.header import HeaderShapeError, header_rlp

VECTOR = Path(__file__).parents[1] / "verify" / "test_evm_vector.json"
BLOCK = json.loads(VECTOR.read_text())["block_json"]


def test_prague_block_header_hashes_to_its_hash() -> None:
    assert "requestsHash" in BLOCK  # the recorded block has every fork field up to Prague
    assert "0x" + keccak(header_rlp(BLOCK)).hex() == BLOCK["hash"]


def test_pre_prague_block_omits_the_later_fields() -> None:
    older = {k: v for k, v in BLOCK.items() if k != "requestsHash"}
    assert len(header_rlp(older)) < len(header_rlp(BLOCK))


def test_a_gap_in_fork_fields_is_an_error_not_a_wrong_hash() -> None:
    gappy = {k: v for k, v in BLOCK.items() if k != "withdrawalsRoot"}
    with pytest.raises(HeaderShapeError, match="withdrawalsRoot"):
        header_rlp(gappy)


def test_missing_legacy_field_is_an_error() -> None:
    with pytest.raises(HeaderShapeError, match="stateRoot"):
        header_rlp({k: v for k, v in BLOCK.items() if k != "stateRoot"})
