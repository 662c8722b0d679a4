"""Adapter read, header attested by live endpoints, verification; every tampering fails."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from eth_hash.auto import keccak

from adapters.base import ChainUnavailable, InvalidAdapterRequest, RecordNotFound
from adapters.evm.adapter import EvmAdapter
from devnets.evm.fixtures import EvmDevnetFactory, RunningEvmDevnet
from devnets.process import free_port
from hub.errors import ChainUnreachable, ProofRejected
from hub.oracles.evm_headers import attest_header
from tests.integration.evm.conftest import Chain
from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.verify.evm import verify_evm_record
from tonglian_proof.verify.evm_attested import header_from_attestations

pytestmark = pytest.mark.integration


def quorum_anchor(devnet: RunningEvmDevnet, extra: list[str], k: int) -> chains_pb2.EvmTrustAnchor:
    """The devnet's anchor with its node listed twice (127.0.0.1 and localhost) plus `extra`."""
    anchor = devnet.chain().trust_anchor.evm
    del anchor.rpc_endpoints[:]
    anchor.rpc_endpoints.extend(
        [devnet.rpc_url, devnet.rpc_url.replace("127.0.0.1", "localhost"), *extra]
    )
    anchor.endpoint_quorum = k
    return anchor


async def test_put_read_attest_verify(
    evm_devnet: RunningEvmDevnet, chain: Chain, adapter: EvmAdapter
) -> None:
    value = b'{"holder":"Tonglian Tea Co.","licence":"BL-1"}'
    written_at = await chain.put("bl-1", value)
    await chain.mine(2)
    response = await adapter.read(evm_devnet.registry, "bl-1")
    record, proof = response.record, response.proof.evm
    assert (record.value, record.version, record.block_height) == (value, 1, written_at)
    assert record.ref.namespace == evm_devnet.registry and record.tx_id.startswith("0x")
    assert proof.block_number == written_at  # the highest final block

    down = f"http://127.0.0.1:{free_port()}"
    anchor = quorum_anchor(evm_devnet, [down], k=2)
    trusted = await attest_header(anchor, proof.block_number, timeout=3)
    assert len(trusted.attestations) == 2 and trusted.head_number == written_at + 2
    checks = verify_evm_record(record, proof, anchor, trusted)
    assert any("version 1" in c for c in checks)

    # The bundle re-verifies offline from the recorded attestations.
    proof.attestations.extend(trusted.attestations)
    offline = header_from_attestations(proof, anchor)
    verify_evm_record(record, proof, anchor, offline)


async def test_quorum_not_reached_when_too_few_endpoints_answer(
    evm_devnet: RunningEvmDevnet, chain: Chain
) -> None:
    head = await chain.head()
    anchor = quorum_anchor(evm_devnet, [f"http://127.0.0.1:{free_port()}"], k=3)
    with pytest.raises(ChainUnreachable, match="only 2 of 3"):
        await attest_header(anchor, head, timeout=3)


async def test_endpoint_of_another_chain_history_is_named(
    evm_devnet: RunningEvmDevnet, chain: Chain, evm_devnet_factory: EvmDevnetFactory
) -> None:
    other = Chain(evm_devnet_factory())  # same chain id, another history
    try:
        await other.rpc("evm_setNextBlockTimestamp", [4_000_000_000])
        await other.mine(1)
        height = await other.head()
        while await chain.head() < height:
            await chain.mine(1)
        anchor = quorum_anchor(evm_devnet, [other.devnet.rpc_url], k=2)
        with pytest.raises(ProofRejected, match="disagree") as info:
            await attest_header(anchor, height, timeout=3)
        assert other.devnet.rpc_url in info.value.reason
    finally:
        await other.close()


Tamper = Callable[[records_pb2.Record, records_pb2.EvmStorageProof], None]


def _set_value(r: records_pb2.Record, p: records_pb2.EvmStorageProof) -> None:
    r.value = b'{"holder":"Mallory"}'


def _set_version(r: records_pb2.Record, p: records_pb2.EvmStorageProof) -> None:
    r.version += 1


def _set_key(r: records_pb2.Record, p: records_pb2.EvmStorageProof) -> None:
    r.ref.key = "bl-other"


def _set_account(r: records_pb2.Record, p: records_pb2.EvmStorageProof) -> None:
    p.account = b"\x42" * 20


def _drop_node(r: records_pb2.Record, p: records_pb2.EvmStorageProof) -> None:
    del p.storage_proof[-1]


def _flip_header(r: records_pb2.Record, p: records_pb2.EvmStorageProof) -> None:
    p.block_header_rlp = p.block_header_rlp[:-1] + bytes([p.block_header_rlp[-1] ^ 1])


@pytest.mark.parametrize(
    "tamper", [_set_value, _set_version, _set_key, _set_account, _drop_node, _flip_header]
)
async def test_every_tampering_is_rejected(
    evm_devnet: RunningEvmDevnet, chain: Chain, adapter: EvmAdapter, tamper: Tamper
) -> None:
    await chain.put("bl-2", b'{"holder":"A"}')
    await chain.put("bl-other", b'{"holder":"B"}')
    await chain.mine(2)
    response = await adapter.read(evm_devnet.registry, "bl-2")
    anchor = evm_devnet.chain().trust_anchor.evm
    trusted = await attest_header(anchor, response.proof.evm.block_number, timeout=3)
    record, proof = response.record, response.proof.evm
    tamper(record, proof)
    with pytest.raises(ProofRejected):
        verify_evm_record(record, proof, anchor, trusted)


async def test_proof_of_another_block_and_not_final_block_are_rejected(
    evm_devnet: RunningEvmDevnet, chain: Chain, adapter: EvmAdapter
) -> None:
    await chain.put("bl-3", b'{"v":1}')
    await chain.mine(2)
    response = await adapter.read(evm_devnet.registry, "bl-3")
    anchor = evm_devnet.chain().trust_anchor.evm
    proof = response.proof.evm
    other = await attest_header(anchor, proof.block_number - 1, timeout=3)
    with pytest.raises(ProofRejected, match="trusted block"):
        verify_evm_record(
            response.record, proof, anchor, dataclasses.replace(other, block_hash=other.block_hash)
        )
    trusted = await attest_header(anchor, proof.block_number, timeout=3)
    with pytest.raises(ProofRejected, match="not final"):
        verify_evm_record(
            response.record,
            proof,
            anchor,
            dataclasses.replace(trusted, head_number=proof.block_number),
        )
    assert keccak(proof.block_header_rlp) == trusted.block_hash


async def test_versions_and_reads_at_a_height(
    evm_devnet: RunningEvmDevnet, chain: Chain, adapter: EvmAdapter
) -> None:
    first = await chain.put("bl-4", b'{"v":1}')
    await chain.put("bl-4", b'{"v":2}')
    await chain.mine(2)
    latest = await adapter.read(evm_devnet.registry, "bl-4")
    assert (latest.record.version, latest.record.value) == (2, b'{"v":2}')
    old = await adapter.read(evm_devnet.registry, "bl-4", at_height=first)
    assert (old.record.version, old.proof.evm.block_number) == (1, first)
    anchor = evm_devnet.chain().trust_anchor.evm
    trusted = await attest_header(anchor, first, timeout=3)
    verify_evm_record(old.record, old.proof.evm, anchor, trusted)


async def test_unknown_key_not_final_height_and_foreign_namespace(
    evm_devnet: RunningEvmDevnet, chain: Chain, adapter: EvmAdapter
) -> None:
    with pytest.raises(RecordNotFound):
        await adapter.read(evm_devnet.registry, "no-such-key")
    with pytest.raises(ChainUnavailable, match="is not final on http://127\\.0\\.0\\.1"):
        await adapter.read(evm_devnet.registry, "bl-1", at_height=await chain.head())
    with pytest.raises(InvalidAdapterRequest, match="registry"):
        await adapter.read(evm_devnet.inbox, "bl-1")


async def test_namespace_must_be_the_checksummed_registry(
    evm_devnet: RunningEvmDevnet, adapter: EvmAdapter
) -> None:
    with pytest.raises(InvalidAdapterRequest, match="EIP-55"):
        await adapter.read(evm_devnet.registry.lower(), "bl-1")
