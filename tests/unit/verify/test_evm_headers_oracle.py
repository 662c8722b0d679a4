"""The endpoint-quorum decision and offline attestations (hub/oracles/evm_headers.py)."""

from __future__ import annotations

import pytest

from hub.errors import ChainUnreachable, ProofRejected
from hub.oracles.evm_headers import (
    EndpointAnswer,
    decide,
    decide_head,
)
from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.verify.evm_attested import header_from_attestations

H1, H2 = b"\x01" * 32, b"\x02" * 32
A, B, C = "http://a:8545", "http://b:8545", "http://c:8545"


def anchor(k: int = 2) -> chains_pb2.EvmTrustAnchor:
    return chains_pb2.EvmTrustAnchor(
        chain_id=7, registry_address=b"\x11" * 20, finality_depth=2,
        consensus=chains_pb2.EVM_CONSENSUS_ENDPOINT_QUORUM, rpc_endpoints=[A, B, C],
        endpoint_quorum=k,
    )  # fmt: skip


def ok(url: str, head: int, h: bytes = H1, chain: int = 7) -> EndpointAnswer:
    return EndpointAnswer(url, chain, head, h)


def down(url: str) -> EndpointAnswer:
    return EndpointAnswer(url, failure="unreachable")


def test_k_agreeing_endpoints_give_the_lowest_head() -> None:
    trusted = decide(anchor(), 10, [ok(A, 20), ok(B, 18), down(C)])
    assert trusted.block_hash == H1
    assert trusted.head_number == 18
    assert [a.endpoint for a in trusted.attestations] == [A, B]


def test_an_endpoint_claiming_a_longer_chain_makes_nothing_final() -> None:
    # k = 1 of [liar, honest]: the liar's head + 2 must not make the honest head final.
    trusted = decide(anchor(k=1), 18, [ok(A, 20), ok(B, 18)])
    assert trusted.head_number == 18
    head = decide_head(anchor(k=1), [ok(A, 20), ok(B, 18)])
    assert (head.head_number, head.final_height) == (18, 16)


def test_heads_further_apart_than_the_finality_depth_are_a_contradiction() -> None:
    expected = (
        "RPC endpoints disagree on the chain's head: http://b:8545 reports block 17, "
        "http://a:8545 reports block 20, 3 apart, more than the finality depth 2: one of "
        "them lags or lies about the chain; repair it or remove it from the chain's trust anchor"
    )
    with pytest.raises(ProofRejected) as info:
        decide_head(anchor(k=1), [ok(A, 20), ok(B, 17)])
    assert info.value.reason == expected
    # Also when the low endpoint says it has no such block: its head still counts.
    lagging = EndpointAnswer(B, 7, 17, failure="has no block 18 (head 17)")
    with pytest.raises(ProofRejected) as info:
        decide(anchor(k=1), 18, [ok(A, 20), lagging])
    assert info.value.reason == expected


def test_too_few_heads_is_unreachable() -> None:
    with pytest.raises(ChainUnreachable, match="only 1 of 3 RPC endpoints reported their head"):
        decide_head(anchor(), [ok(A, 20), down(B), down(C)])


def test_disagreeing_endpoint_is_named_even_when_a_quorum_agrees() -> None:
    with pytest.raises(ProofRejected) as info:
        decide(anchor(), 10, [ok(A, 20), ok(B, 20), ok(C, 20, H2)])
    assert C in info.value.reason and "disagree" in info.value.reason


def test_endpoint_of_another_chain_is_rejected() -> None:
    with pytest.raises(ProofRejected, match="another chain"):
        decide(anchor(), 10, [ok(A, 20), ok(B, 20), ok(C, 20, chain=8)])


def test_fewer_than_k_answers_is_unreachable() -> None:
    with pytest.raises(ChainUnreachable, match="only 1 of 3"):
        decide(anchor(), 10, [ok(A, 20), down(B), down(C)])


def _proof(*atts: tuple[str, bytes, int]) -> records_pb2.EvmStorageProof:
    return records_pb2.EvmStorageProof(
        block_hash=H1,
        block_number=10,
        attestations=[
            records_pb2.EvmHeaderAttestation(endpoint=e, block_hash=h, head_number=n)
            for e, h, n in atts
        ],
    )


def test_recorded_attestations_reaching_the_quorum_are_trusted() -> None:
    trusted = header_from_attestations(_proof((A, H1, 30), (C, H1, 25)), anchor())
    assert trusted.head_number == 25 and trusted.block_hash == H1


@pytest.mark.parametrize(
    ("atts", "fragment"),
    [
        (((A, H1, 30),), "requires 2"),
        (((A, H1, 30), (A, H1, 30)), "two attestations"),
        (((A, H1, 30), ("http://evil", H1, 30)), "not an endpoint"),
        (((A, H1, 30), (B, H2, 30)), "attested 0x0202"),
    ],
)
def test_recorded_attestations_that_fall_short_are_rejected(
    atts: tuple[tuple[str, bytes, int], ...], fragment: str
) -> None:
    with pytest.raises(ProofRejected, match=fragment):
        header_from_attestations(_proof(*atts), anchor())
