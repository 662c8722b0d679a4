"""Registration checks of EvmTrustAnchor."""

from __future__ import annotations

import pytest

from tonglian.v1 import chains_pb2
from tonglian_proof.errors import MalformedInput
from tonglian_proof.verify.evm_anchor import anchor_problems, validate_evm_anchor


def quorum_anchor(**changes: object) -> chains_pb2.EvmTrustAnchor:
    anchor = chains_pb2.EvmTrustAnchor(
        chain_id=31337,
        registry_address=b"\x11" * 20,
        finality_depth=2,
        consensus=chains_pb2.EVM_CONSENSUS_ENDPOINT_QUORUM,
        rpc_endpoints=["http://127.0.0.1:8545", "https://rpc.example.org"],
        endpoint_quorum=2,
    )
    for name, value in changes.items():
        if isinstance(value, list):
            field = getattr(anchor, name)
            del field[:]
            field.extend(value)
        else:
            setattr(anchor, name, value)
    return anchor


def test_good_anchors_pass() -> None:
    validate_evm_anchor(quorum_anchor())
    qbft = chains_pb2.EvmTrustAnchor(
        chain_id=1337,
        registry_address=b"\x11" * 20,
        consensus=chains_pb2.EVM_CONSENSUS_QBFT,
        validators=[bytes([i]) * 20 for i in range(1, 5)],
    )
    validate_evm_anchor(qbft)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"chain_id": 0}, "chain_id"),
        ({"registry_address": b"\x11" * 19}, "registry_address must be 20 bytes"),
        ({"inbox_address": b"\x11" * 3}, "inbox_address"),
        ({"consensus": chains_pb2.EVM_CONSENSUS_UNSPECIFIED}, "consensus"),
        ({"rpc_endpoints": []}, "at least one rpc_endpoint"),
        ({"rpc_endpoints": ["ftp://x", "http://a"]}, "not an http(s) URL"),
        ({"rpc_endpoints": ["http://a", "http://a"]}, "distinct"),
        ({"endpoint_quorum": 3}, "endpoint_quorum"),
        ({"endpoint_quorum": 0}, "endpoint_quorum"),
        ({"finality_depth": 0}, "finality_depth >= 1"),
    ],
)
def test_each_problem_is_named(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(MalformedInput, match="invalid EVM trust anchor") as info:
        validate_evm_anchor(quorum_anchor(**changes))
    assert fragment in str(info.value)


def test_qbft_needs_validators_and_zero_depth() -> None:
    anchor = chains_pb2.EvmTrustAnchor(
        chain_id=1337,
        registry_address=b"\x11" * 20,
        consensus=chains_pb2.EVM_CONSENSUS_QBFT,
        finality_depth=3,
        validators=[b"\x01" * 20, b"\x01" * 20, b"\x02" * 19],
    )
    problems = " | ".join(anchor_problems(anchor))
    assert "finality_depth to 0" in problems
    assert "distinct" in problems
    assert "20-byte" in problems
