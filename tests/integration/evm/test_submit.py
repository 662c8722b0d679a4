"""Inbox deliveries: confirmed at finality, the same id twice is DUPLICATE with one effect."""

from __future__ import annotations

import asyncio

import pytest

from adapters.base import SubmissionRejected
from adapters.evm import contracts
from adapters.evm.adapter import EvmAdapter
from devnets.evm.accounts import dev_account
from devnets.evm.fixtures import RunningEvmDevnet
from tests.integration.evm.conftest import Chain, make_adapter
from tonglian.v1 import adapter_pb2, records_pb2, relay_pb2

pytestmark = pytest.mark.integration

DELIVERED = contracts.event_topic("Inbox", "Delivered")


def delivery(delivery_id: str, key: str = "bl-9", version: int = 3) -> relay_pb2.Delivery:
    record = records_pb2.Record(
        ref=records_pb2.RecordRef(chain_id="custom-1", namespace="licences", key=key),
        schema="gov.license.business/v1",
        value=b'{"holder":"A"}',
        version=version,
    )
    return relay_pb2.Delivery(delivery_id=delivery_id, record=record, proof_digest=b"\x07" * 32)


async def effects(chain: Chain, delivery_id: str) -> int:
    logs = await chain.rpc(
        "eth_getLogs",
        [
            {
                "address": chain.devnet.inbox,
                "topics": [DELIVERED, "0x" + contracts.key_id(delivery_id).hex()],
                "fromBlock": "0x0",
                "toBlock": "latest",
            }
        ],
    )
    return len(logs)


async def test_same_delivery_twice_has_one_effect(chain: Chain, adapter: EvmAdapter) -> None:
    assert (await adapter.submission("d-1")).state == adapter_pb2.SUBMISSION_STATE_UNKNOWN
    async with chain.miner():
        first = await adapter.submit(delivery("d-1"))
        second = await adapter.submit(delivery("d-1"))
        status = await adapter.submission("d-1")
    assert first.state == adapter_pb2.SUBMISSION_STATE_CONFIRMED, first
    assert second.state == adapter_pb2.SUBMISSION_STATE_DUPLICATE
    assert second.tx_id == first.tx_id and second.block_height == first.block_height
    assert status.state == adapter_pb2.SUBMISSION_STATE_CONFIRMED
    assert await effects(chain, "d-1") == 1


async def test_older_version_of_a_key_is_stale_and_applies_nothing(
    chain: Chain, adapter: EvmAdapter
) -> None:
    async with chain.miner():
        newer = await adapter.submit(delivery("v-5", key="bl-order", version=5))
        older = await adapter.submit(delivery("v-4", key="bl-order", version=4))
        again = await adapter.submit(delivery("v-5b", key="bl-order", version=5))
    assert newer.state == adapter_pb2.SUBMISSION_STATE_CONFIRMED, newer
    assert older.state == adapter_pb2.SUBMISSION_STATE_STALE, older
    assert older.detail == "the inbox holds version 5 of the key; version 4 is older"
    assert await effects(chain, "v-4") == 0
    assert again.state == adapter_pb2.SUBMISSION_STATE_CONFIRMED  # same version: not older


async def test_concurrent_submits_share_the_nonce_and_dedupe(
    evm_devnet: RunningEvmDevnet, chain: Chain, adapter: EvmAdapter
) -> None:
    ids = ["d-2", "d-3", "d-4", "d-2"]
    async with chain.miner():
        results = await asyncio.gather(*(adapter.submit(delivery(i)) for i in ids))
    states = sorted(adapter_pb2.SubmissionState.Name(r.state) for r in results)
    assert states.count("SUBMISSION_STATE_CONFIRMED") == 3
    assert states.count("SUBMISSION_STATE_DUPLICATE") == 1
    for delivery_id in set(ids):
        assert await effects(chain, delivery_id) == 1


async def test_nonce_resyncs_after_another_sender_used_the_key(
    evm_devnet: RunningEvmDevnet, chain: Chain
) -> None:
    other = make_adapter(evm_devnet)  # same key, its own local nonce
    adapter = make_adapter(evm_devnet)
    try:
        async with chain.miner():
            assert (await adapter.submit(delivery("d-5"))).state == (
                adapter_pb2.SUBMISSION_STATE_CONFIRMED
            )
            assert (await other.submit(delivery("d-6"))).state == (
                adapter_pb2.SUBMISSION_STATE_CONFIRMED
            )
            # `adapter`'s local nonce is now stale: the node says so, it resyncs and resends.
            retried = await adapter.submit(delivery("d-7"))
        assert retried.state == adapter_pb2.SUBMISSION_STATE_CONFIRMED
    finally:
        await other.close()
        await adapter.close()


async def test_unauthorised_submitter_is_rejected(evm_devnet: RunningEvmDevnet) -> None:
    stranger = dev_account(2)
    adapter = make_adapter(evm_devnet, private_key=stranger.private_key)
    try:
        with pytest.raises(SubmissionRejected, match="does not authorise"):
            await adapter.submit(delivery("d-8"))
    finally:
        await adapter.close()


async def test_submit_answers_pending_when_no_block_makes_it_final(
    evm_devnet: RunningEvmDevnet, chain: Chain
) -> None:
    adapter = make_adapter(evm_devnet, receipt_timeout=0.5)
    try:
        pending = await adapter.submit(delivery("d-9"))
        assert pending.state == adapter_pb2.SUBMISSION_STATE_PENDING and pending.tx_id
        assert (await adapter.submission("d-9")).state == adapter_pb2.SUBMISSION_STATE_PENDING
        await chain.mine(2)
        assert (await adapter.submission("d-9")).state == adapter_pb2.SUBMISSION_STATE_CONFIRMED
    finally:
        await adapter.close()
