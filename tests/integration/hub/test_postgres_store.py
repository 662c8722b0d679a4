"""What only the PostgreSQL store has to do, because only it has several replicas: migrate
once when they start together, hand a delivery to one replica at a time, fence a
claim taken over, tell every replica what another changed, and say UNAVAILABLE
(then recover by itself) while the database is away. Real PostgreSQL devnet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from devnets.postgres.network import PostgresDevnet
from hub.errors import LeaseLost, StoreUnavailable
from hub.store.base import DeliveryUpdate
from hub.store.migrations import MIGRATIONS
from hub.store.postgres import PostgresStore
from tests.integration.hub.test_store_contract import delivery, route, wait_expired
from tonglian.v1 import relay_pb2

Opener = Callable[[str], Awaitable[PostgresStore]]


@pytest.fixture
async def replicas(postgres_url: str) -> AsyncIterator[Opener]:
    opened: list[PostgresStore] = []

    async def open_replica(replica_id: str) -> PostgresStore:
        store = PostgresStore(postgres_url, replica_id)
        await store.open()
        opened.append(store)
        return store

    yield open_replica
    for store in opened:
        await store.close()


async def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    stores = [PostgresStore(postgres_url, f"r{i}") for i in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        conn = await asyncpg.connect(postgres_url)
        try:
            versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")]
        finally:
            await conn.close()
        assert sorted(versions) == [m[0] for m in MIGRATIONS]
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_a_delivery_is_claimed_by_one_replica_and_a_lost_claim_cannot_commit(
    replicas: Opener,
) -> None:
    a, b = await replicas("a"), await replicas("b")
    await a.add_route(route())
    assert await a.acquire_lease("r", 0.6) == 1
    ds = [delivery(f"k{i}") for i in range(5)]
    assert await a.commit_block("r", ds, 1, b"h1", lease_epoch=1)
    # Both ask at once: only the lease holder is handed them, each once.
    got_a, got_b = await asyncio.gather(a.due_deliveries(10, set()), b.due_deliveries(10, set()))
    assert [d.record.ref.key for d in got_a] == [f"k{i}" for i in range(5)]
    assert got_b == []

    await wait_expired(b, "r")  # A is paused past its lease; B takes the route over
    assert await b.acquire_lease("r", 30) == 2

    async def a_confirms() -> None:
        await a.update_deliveries([DeliveryUpdate(
            ds[0].delivery_id, state=relay_pb2.DELIVERY_STATE_CONFIRMED, attempts=1,
            next_attempt_at=0, claimed=True,
        )])  # fmt: skip

    with pytest.raises(LeaseLost, match="claimed under lease epoch 1 of route r, now at epoch 2"):
        await a_confirms()  # A wakes up: the fence refuses its commit
    claimed_by_b = await b.due_deliveries(10, set())
    assert len(claimed_by_b) == 5
    with pytest.raises(
        LeaseLost, match=r"taken over by another replica \(route r at lease epoch 2"
    ):
        await a_confirms()
    still = await b.get_delivery(ds[0].delivery_id)
    assert still is not None and still.state == relay_pb2.DELIVERY_STATE_PENDING
    await b.update_deliveries([DeliveryUpdate(
        ds[0].delivery_id, state=relay_pb2.DELIVERY_STATE_CONFIRMED, attempts=1,
        next_attempt_at=0, claimed=True,
    )])  # fmt: skip


async def test_a_group_of_updates_with_one_lost_claim_stores_none(replicas: Opener) -> None:
    a, b = await replicas("a"), await replicas("b")
    for rid in ("r", "s"):
        await a.add_route(route(rid))
        assert await a.acquire_lease(rid, 0.6) == 1
    kept, lost = delivery("k"), delivery("l")
    assert await a.commit_block("r", [kept], 1, b"h1", lease_epoch=1)
    assert await a.commit_block("s", [lost], 1, b"h1", lease_epoch=1)
    assert len(await a.due_deliveries(10, set())) == 2
    await wait_expired(b, "s")
    assert await a.acquire_lease("r", 30) == 1
    assert await b.acquire_lease("s", 30) == 2  # B takes route s over; A keeps r
    confirm = [
        DeliveryUpdate(d.delivery_id, relay_pb2.DELIVERY_STATE_CONFIRMED, 1, 0, claimed=True)
        for d in (kept, lost)
    ]
    with pytest.raises(LeaseLost, match="claimed under lease epoch 1 of route s, now at epoch 2"):
        await a.update_deliveries(confirm)
    for d in (kept, lost):  # all or none: the one still A's is not stored either
        got = await b.get_delivery(d.delivery_id)
        assert got is not None and got.state == relay_pb2.DELIVERY_STATE_PENDING
    await a.update_deliveries(confirm[:1])
    got = await b.get_delivery(kept.delivery_id)
    assert got is not None and got.state == relay_pb2.DELIVERY_STATE_CONFIRMED


async def test_every_replica_hears_of_a_delivery_another_moved(replicas: Opener) -> None:
    a, b = await replicas("a"), await replicas("b")
    heard: asyncio.Queue[relay_pb2.Delivery] = asyncio.Queue()
    b.on_delivery_changed(heard.put_nowait)
    own: list[relay_pb2.Delivery] = []
    a.on_delivery_changed(own.append)
    await a.add_route(route())
    d = delivery("k")
    await a.commit_block("r", [d], 1, b"h1")
    await asyncio.sleep(0.3)  # b's LISTEN connection is up by now
    await a.update_deliveries([DeliveryUpdate(
        d.delivery_id, state=relay_pb2.DELIVERY_STATE_CONFIRMED, attempts=1, next_attempt_at=0,
        dest_tx_id="tx-1",
    )])  # fmt: skip
    moved = await asyncio.wait_for(heard.get(), 10)
    assert (moved.delivery_id, moved.state, moved.destination_tx_id) == (
        d.delivery_id,
        relay_pb2.DELIVERY_STATE_CONFIRMED,
        "tx-1",
    )
    assert own == []  # a replica publishes its own changes itself


async def test_unavailable_while_the_database_restarts_then_recovers(tmp_path: Path) -> None:
    devnet = PostgresDevnet(tmp_path / "pg", bind_to_parent=True)
    info = await devnet.up(lambda _line: None)
    store = PostgresStore(info.endpoints["url"], "a")
    heard: asyncio.Queue[relay_pb2.Delivery] = asyncio.Queue()
    store.on_delivery_changed(heard.put_nowait)
    try:
        await store.open()
        await store.add_route(route())
        await devnet.down()
        with pytest.raises(StoreUnavailable, match="the hub's PostgreSQL store cannot be reached"):
            await store.get_route("r")
        await devnet.start()
        for _ in range(100):  # the pool reconnects on the next calls
            try:
                got = await store.get_route("r")
                break
            except StoreUnavailable:
                await asyncio.sleep(0.1)
        assert got is not None and got.route_id == "r"
        # The LISTEN connection came back by itself: another replica is heard again.
        other = PostgresStore(info.endpoints["url"], "b")
        await other.open()
        try:
            d = delivery("k")
            await other.commit_block("r", [d], 1, b"h1")
            for _ in range(100):
                await other.update_deliveries([DeliveryUpdate(
                    d.delivery_id, state=relay_pb2.DELIVERY_STATE_PENDING, attempts=0,
                    next_attempt_at=0,
                )])  # fmt: skip
                try:
                    await asyncio.wait_for(heard.get(), 0.2)
                    break
                except TimeoutError:
                    continue
            else:
                raise AssertionError("the listener never reconnected")
        finally:
            await other.close()
    finally:
        await store.close()
        await devnet.destroy()
