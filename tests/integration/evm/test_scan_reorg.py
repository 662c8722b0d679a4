"""Scan reports final blocks only, parent-linked; a reorganised record is never reported."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import pytest

from adapters.base import InvalidAdapterRequest, RecordNotFound
from adapters.evm.adapter import EvmAdapter
from adapters.evm.scanner import ReorgBelowFinality
from devnets.evm.fixtures import EvmDevnetFactory, RunningEvmDevnet
from tests.integration.evm.conftest import Chain, make_adapter
from tonglian.v1 import adapter_pb2

pytestmark = pytest.mark.integration


async def collect(adapter: EvmAdapter, from_height: int) -> list[adapter_pb2.ScanResponse]:
    return [item async for item in adapter.scan("", from_height)]


def record_keys(items: list[adapter_pb2.ScanResponse]) -> list[str]:
    return [i.record.record.ref.key for i in items if i.HasField("record")]


def assert_linked(items: list[adapter_pb2.ScanResponse]) -> None:
    marks = [i.block for i in items if i.HasField("block")]
    for before, after in itertools.pairwise(marks):
        assert after.height == before.height + 1
        assert after.parent_hash == before.block_hash


class Follower:
    """Runs `scan(follow=True)` in the background, keeping what it reported and how it ended."""

    def __init__(self, adapter: EvmAdapter) -> None:
        self.seen: list[adapter_pb2.ScanResponse] = []
        self.task = asyncio.create_task(self._run(adapter))

    async def _run(self, adapter: EvmAdapter) -> None:
        async for item in adapter.scan("", 0, follow=True):
            self.seen.append(item)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ReorgBelowFinality):
            await self.task


async def test_scan_reports_each_final_block_with_its_records(
    evm_devnet: RunningEvmDevnet, chain: Chain, adapter: EvmAdapter
) -> None:
    start = await chain.head() + 1
    a = await chain.put("scan-a", b'{"v":1}')
    await chain.put("scan-b", b'{"v":1}')
    not_final = await chain.put("scan-c", b'{"v":1}')
    await chain.mine(1)  # head = not_final + 1: final height is not_final - 1
    items = await collect(adapter, start)
    assert_linked(items)
    assert record_keys(items) == ["scan-a", "scan-b"]  # scan-c's block is not final yet
    assert items[-1].block.height == not_final - 1
    first = next(i.record for i in items if i.HasField("record"))
    assert first.record.block_height == a and first.proof.evm.block_number == a
    with pytest.raises(InvalidAdapterRequest, match="registry"):
        [x async for x in adapter.scan(evm_devnet.inbox, start)]


async def test_reorganised_record_is_never_reported(evm_devnet_factory: EvmDevnetFactory) -> None:
    devnet = evm_devnet_factory()
    chain, adapter = Chain(devnet), make_adapter(devnet)
    follower = Follower(adapter)
    try:
        doomed = await chain.put("doomed", b'{"v":1}')
        await asyncio.sleep(0.5)  # the scan reaches the final height, doomed - 2
        assert record_keys(follower.seen) == []
        # Replace the record's block and the one before it with empty blocks.
        await chain.rpc("anvil_reorg", [2, []])
        await chain.put("survivor", b'{"v":1}')
        await chain.mine(3)
        await asyncio.sleep(1.0)
        with pytest.raises(RecordNotFound):
            await adapter.read(devnet.registry, "doomed")
    finally:
        await follower.stop()
        await adapter.close()
        await chain.close()
    assert record_keys(follower.seen) == ["survivor"]
    assert_linked(follower.seen)
    assert doomed in [i.block.height for i in follower.seen if i.HasField("block")]


async def test_reorg_deeper_than_finality_stops_the_scan(
    evm_devnet_factory: EvmDevnetFactory,
) -> None:
    devnet = evm_devnet_factory()
    chain, adapter = Chain(devnet), make_adapter(devnet)
    follower = Follower(adapter)
    try:
        snapshot = await chain.rpc("evm_snapshot", [])
        await chain.put("deep", b'{"v":1}')
        await chain.mine(3)
        await asyncio.sleep(0.5)
        assert record_keys(follower.seen) == ["deep"]
        reported = len(follower.seen)
        # Roll back below blocks already reported final, then grow another chain.
        await chain.rpc("evm_revert", [snapshot])
        await chain.mine(8)
        with pytest.raises(ReorgBelowFinality, match="reported final"):
            await asyncio.wait_for(follower.task, timeout=5)
        assert len(follower.seen) == reported  # nothing from the other chain was reported
    finally:
        await follower.stop()
        await adapter.close()
        await chain.close()
