"""Back-pressure in a source scan: a route whose destination confirms nothing stops taking
blocks at its high mark (the store and memory do not grow without bound), the other
routes of the source go on, and it takes up the rest once its backlog is below the low
mark. Real SQLite store; the source is an in-memory chain."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hub.audit.log import AuditLog
from hub.relay import worker
from hub.relay.retry import RetryPolicy
from hub.relay.worker import BackPressure, SourceScan
from hub.store.base import DeliveryUpdate
from hub.store.sqlite import SqliteStore
from tonglian.v1 import adapter_pb2, chains_pb2, records_pb2, relay_pb2

BLOCKS = 30
A_PER_BLOCK = 4
HIGH, LOW = 10, 5


def block_hash(height: int) -> bytes:
    return bytes([height]) * 32


class Source:
    """Blocks 1..BLOCKS of one namespace: A_PER_BLOCK records for route a in each, one
    for route b in every fifth; then no more (a source that follows, idle)."""

    async def scan(
        self, namespace: str, from_height: int, to_height: int = 0, follow: bool = False
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        for height in range(max(from_height, 1), BLOCKS + 1):
            await asyncio.sleep(0.01)
            keys = [f"a-{height}-{i}" for i in range(A_PER_BLOCK)]
            keys += [f"b-{height}"] if height % 5 == 0 else []
            for key in keys:
                record = records_pb2.Record(
                    ref=records_pb2.RecordRef(chain_id="src", namespace=namespace, key=key),
                    value=b"{}",
                    version=1,
                    block_height=height,
                    tx_id=f"tx-{key}",
                )
                yield adapter_pb2.ScanResponse(
                    record=adapter_pb2.ReadRecordResponse(record=record, proof=records_pb2.Proof())
                )
            yield adapter_pb2.ScanResponse(
                block=adapter_pb2.BlockMark(
                    height=height,
                    block_hash=block_hash(height),
                    parent_hash=block_hash(height - 1),
                )
            )
        await asyncio.Event().wait()


class Chains:
    async def get(self, chain_id: str) -> chains_pb2.Chain:
        return chains_pb2.Chain(chain_id=chain_id)

    def is_current(self, chain: chains_pb2.Chain) -> bool:
        return True

    async def adapter_for(self, chain: chains_pb2.Chain) -> Source:
        return Source()


class AllValid:
    async def verify_batch(self, source: chains_pb2.Chain, pairs: list[Any]) -> list[None]:
        return [None] * len(pairs)


class AnySchema:
    def check(self, record: records_pb2.Record) -> None:
        return None


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_route_over_its_high_mark_waits_and_the_others_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(worker, "BACK_PRESSURE_POLL", 0.001)  # counted at every block
    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    for route_id in ("a", "b"):
        await store.add_route(
            relay_pb2.Route(
                route_id=route_id, source_chain_id="src", source_namespace="ns",
                key_prefix=f"{route_id}-", destination_chain_id="dst",
                destination_namespace="in", state=relay_pb2.ROUTE_STATE_ACTIVE, start_height=1,
            )
        )  # fmt: skip
    chains: Any = Chains()
    scan = SourceScan(
        ("src", "ns"), store, chains, chains, AllValid(), AnySchema(),  # type: ignore[arg-type]
        AuditLog(store), asyncio.Event(), BackPressure(high=HIGH, low=LOW), RetryPolicy(),
    )  # fmt: skip
    scan.add("a")
    scan.add("b")

    async def checkpoint(route_id: str) -> int:
        route = await store.get_route(route_id)
        assert route is not None
        return route.checkpoint_height

    async def unconfirmed() -> int:
        return (await store.unconfirmed_by_route(["a"]))["a"]

    async def b_scanned_all() -> bool:
        return await checkpoint("b") == BLOCKS

    caplog.set_level(logging.INFO, logger="tonglian.relay")
    task = asyncio.create_task(scan.run())
    try:
        await until(b_scanned_all)
        # Counted before each block is stored: 0, 4, 8 go on, 12 stops it.
        assert await unconfirmed() == 12
        assert await checkpoint("a") == 3
        assert "route a: 12 unconfirmed deliveries; it stops taking blocks" in caplog.messages
        assert await store.unconfirmed_by_route(["b", "none"]) == {"b": BLOCKS // 5, "none": 0}

        # Its destination confirms them: below the low mark it takes blocks again, and
        # stops again at the high mark, until every record is stored once.
        while await checkpoint("a") < BLOCKS:
            pending = await store.list_deliveries("a", relay_pb2.DELIVERY_STATE_PENDING, 0, 100)
            confirm = relay_pb2.DELIVERY_STATE_CONFIRMED
            await store.update_deliveries(
                [DeliveryUpdate(d.delivery_id, confirm, 0, 0) for _, d in pending]
            )
            assert await unconfirmed() <= HIGH + A_PER_BLOCK
            await asyncio.sleep(0.05)
        confirmed = await store.list_deliveries("a", relay_pb2.DELIVERY_STATE_CONFIRMED, 0, 1000)
        pending = await store.list_deliveries("a", relay_pb2.DELIVERY_STATE_PENDING, 0, 1000)
        assert len(confirmed) + len(pending) == BLOCKS * A_PER_BLOCK
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()
