"""The hub's cache of attested EVM block hashes (hub/verification.py): a final block's hash
is asked of the endpoints once per anchor; the cached hash never lets a proof of another
block, another hash or another anchor through."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from google.protobuf import json_format

from hub import verification
from hub.errors import ProofRejected
from hub.oracles import evm_headers
from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.verify.evm import TrustedEvmHeader

VECTOR = json.loads((Path(__file__).parents[1] / "verify" / "test_evm_vector.json").read_text())


def _case() -> tuple[records_pb2.Record, records_pb2.Proof, chains_pb2.Chain]:
    record = json_format.ParseDict(VECTOR["record"], records_pb2.Record())
    proof = records_pb2.Proof()
    json_format.ParseDict(VECTOR["proof"], proof.evm)
    chain = chains_pb2.Chain(chain_id="evm-1", kind=chains_pb2.CHAIN_KIND_EVM)
    json_format.ParseDict(VECTOR["anchor"], chain.trust_anchor.evm)
    return record, proof, chain


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Stands in for the endpoints: they attest the vector's block hash at a head."""
    calls: list[tuple[str, int]] = []
    HEAD["number"] = VECTOR["head_number"]

    async def attest(
        anchor: chains_pb2.EvmTrustAnchor, block_number: int, timeout: float, **_: object
    ) -> TrustedEvmHeader:
        calls.append((anchor.rpc_endpoints[0], block_number))
        _, proof, _ = _case()
        return TrustedEvmHeader(
            block_number=block_number,
            block_hash=proof.evm.block_hash,
            head_number=HEAD["number"],
            source="test endpoints",
        )

    monkeypatch.setattr(evm_headers, "attest_header", attest)
    return calls


# The head the stand-in endpoints report.
HEAD = {"number": 0}


async def test_final_block_is_attested_once(asked: list[tuple[str, int]]) -> None:
    verifier = verification.Verifier(0)
    try:
        for _ in range(3):
            record, proof, chain = _case()
            v = await verifier.verify(chain, record, proof)
            assert v.verified
        assert asked == [("http://127.0.0.1:8545", 10)]
    finally:
        verifier.close()


async def test_block_not_yet_final_is_asked_again(asked: list[tuple[str, int]]) -> None:
    HEAD["number"] = 11  # block 10 with finality depth 2: not final at head 11
    verifier = verification.Verifier(0)
    try:
        for _ in range(2):
            record, proof, chain = _case()
            with pytest.raises(
                ProofRejected, match=re.escape("block 10 is not final: 1 block(s) on top of it")
            ):
                await verifier.verify(chain, record, proof)
        assert asked == [("http://127.0.0.1:8545", 10)] * 2
    finally:
        verifier.close()


async def test_cached_hash_does_not_vouch_under_another_anchor(
    asked: list[tuple[str, int]],
) -> None:
    verifier = verification.Verifier(0)
    try:
        record, proof, chain = _case()
        await verifier.verify(chain, record, proof)
        record, proof, chain = _case()
        chain.trust_anchor.evm.rpc_endpoints[0] = "http://127.0.0.1:9545"
        await verifier.verify(chain, record, proof)
        assert asked == [("http://127.0.0.1:8545", 10), ("http://127.0.0.1:9545", 10)]
    finally:
        verifier.close()


async def test_cached_hash_does_not_vouch_for_another_block_hash(
    asked: list[tuple[str, int]],
) -> None:
    verifier = verification.Verifier(0)
    try:
        record, proof, chain = _case()
        await verifier.verify(chain, record, proof)
        record, proof, chain = _case()
        proof.evm.block_hash = b"\x11" * 32  # a proof claiming another block at height 10
        with pytest.raises(ProofRejected, match=f"the proof claims 0x{'11' * 32}"):
            await verifier.verify(chain, record, proof)
        assert asked == [("http://127.0.0.1:8545", 10)]
    finally:
        verifier.close()
