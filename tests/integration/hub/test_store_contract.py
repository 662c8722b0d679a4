"""The store contract, run against both stores: embedded SQLite and a real PostgreSQL
server (the `postgres_url` devnet fixture, one fresh database per test).

Each test opens two stores on the same database, as two replicas would, and
checks what the relay, the audit log and the predicate budget rely on."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from hub.audit.chain_check import check_chain
from hub.audit.log import AuditLog
from hub.errors import AlreadyExists, LeaseLost, PermissionDenied
from hub.policy import PredicateLimits, RuleLimits
from hub.predicate_budget import PredicateBudget, Question
from hub.relay.delivery_id import delivery_id
from hub.store.base import AuditAppend, BlockCommit, DeliveryUpdate, Store
from hub.store.factory import store_for
from hub.store.migrations import MIGRATIONS
from tonglian.v1 import chains_pb2, records_pb2, relay_pb2

Opener = Callable[[str], Awaitable[Store]]


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Empty for SQLite (in the test's folder), else a fresh PostgreSQL database."""
    return str(request.getfixturevalue("postgres_url")) if request.param == "postgres" else ""


@pytest.fixture
async def replicas(store_url: str, tmp_path: Path) -> AsyncIterator[Opener]:
    """Opens stores on one shared database, each as the replica named."""
    url = store_url
    opened: list[Store] = []

    async def open_replica(replica_id: str) -> Store:
        store = store_for(url, tmp_path, replica_id)
        await store.open()
        opened.append(store)
        return store

    yield open_replica
    for store in opened:
        await store.close()


def route(route_id: str = "r") -> relay_pb2.Route:
    return relay_pb2.Route(
        route_id=route_id, source_chain_id="src", destination_chain_id="dst",
        destination_namespace="in", state=relay_pb2.ROUTE_STATE_ACTIVE,
    )  # fmt: skip


def delivery(key: str, version: int = 1, dest: str = "dst") -> relay_pb2.Delivery:
    ref = records_pb2.RecordRef(chain_id="src", namespace="ns", key=key)
    record = records_pb2.Record(ref=ref, tx_id=f"{key}{version}", version=version)
    return relay_pb2.Delivery(
        delivery_id=delivery_id(record, dest, "in"), route_id="r", record=record,
        destination_chain_id=dest, destination_namespace="in",
        state=relay_pb2.DELIVERY_STATE_PENDING,
    )  # fmt: skip


async def wait_expired(store: Store, route_id: str) -> None:
    for _ in range(200):
        got = await store.get_route(route_id)
        if got is not None and not got.lease_holder:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"lease on {route_id} never expired")


async def test_schema_and_chains(replicas: Opener) -> None:
    a, b = await replicas("a"), await replicas("b")  # the second open applies nothing
    assert await a.schema_version() == await b.schema_version() == MIGRATIONS[-1][0]
    for cid in ("y", "x", "z"):
        await a.add_chain(chains_pb2.Chain(chain_id=cid, kind=chains_pb2.CHAIN_KIND_EVM))
    with pytest.raises(AlreadyExists, match="chain 'x' is already registered"):
        await b.add_chain(chains_pb2.Chain(chain_id="x"))
    assert [c.chain_id for c in await b.list_chains("", 10)] == ["x", "y", "z"]
    assert [c.chain_id for c in await b.list_chains("x", 1)] == ["y"]
    got = await b.get_chain("y")
    assert got is not None and got.kind == chains_pb2.CHAIN_KIND_EVM
    assert await b.remove_chain("y") and not await a.remove_chain("y")
    assert await a.get_chain("y") is None


async def test_a_lease_is_held_by_one_replica_and_its_epoch_fences_commits(
    replicas: Opener,
) -> None:
    a, b = await replicas("replica-a"), await replicas("replica-b")
    await a.add_route(route())
    assert await a.acquire_lease("r", 0.6) == 1
    assert await b.acquire_lease("r", 0.6) is None  # A's lease is live
    assert await a.acquire_lease("r", 0.6) == 1  # renewal keeps the epoch
    shown = await b.get_route("r")
    assert shown is not None and (shown.lease_holder, shown.lease_epoch) == ("replica-a", 1)
    assert await a.commit_block("r", [delivery("k0")], 1, b"h1", lease_epoch=1)

    await wait_expired(b, "r")  # A stops renewing (paused, killed): B takes over
    assert await b.acquire_lease("r", 30) == 2
    with pytest.raises(LeaseLost, match="lease epoch 1 was superseded by 2"):
        await a.commit_block("r", [delivery("k1")], 2, b"h2", lease_epoch=1)
    assert await b.get_delivery(delivery("k1").delivery_id) is None  # nothing stored
    assert await b.commit_block("r", [delivery("k1")], 2, b"h2", lease_epoch=2)
    got = await a.get_route("r")
    assert got is not None
    assert (got.lease_holder, got.lease_epoch, got.checkpoint_height) == ("replica-b", 2, 2)

    await b.release_lease("r")  # a clean stop hands the route on at once
    released = await a.get_route("r")
    assert released is not None and released.lease_holder == ""
    assert await a.acquire_lease("r", 30) == 3
    assert await a.delete_route("r")
    assert await a.acquire_lease("r", 30) is None  # no route, no lease


async def test_a_block_commits_every_routes_part_in_one_transaction_each_fenced(
    replicas: Opener,
) -> None:
    a, b = await replicas("replica-a"), await replicas("replica-b")
    audit = AuditLog(a)
    for rid in ("r1", "r2"):
        await a.add_route(route(rid))
        assert await a.acquire_lease(rid, 0.6) == 1
    await wait_expired(b, "r2")  # A loses r2 to B; it still holds r1 (renewed)
    assert await a.acquire_lease("r1", 30) == 1
    assert await b.acquire_lease("r2", 30) == 2
    k1, k2, k3 = delivery("k1"), delivery("k2"), delivery("k3")

    def event(target: str) -> AuditAppend:
        return audit.step(principal="hub", action="relay.reject", target=target)

    got = await a.commit_blocks(
        [
            BlockCommit("r1", [k1], 5, b"h5", [event("t1")], lease_epoch=1),
            BlockCommit("r2", [k2], 5, b"h5", [event("t2")], lease_epoch=1),  # fenced
            BlockCommit("gone", [k3], 5, b"h5", [event("t3")]),  # no such route
        ]
    )
    assert got[0] is True and got[2] is False
    assert isinstance(got[1], LeaseLost) and "lease epoch 1 was superseded by 2" in str(got[1])
    assert await b.get_delivery(k1.delivery_id) is not None
    assert await b.get_delivery(k2.delivery_id) is None
    assert await b.get_delivery(k3.delivery_id) is None
    assert [e.target for e in await AuditLog(b).events(1, 10)] == ["t1"]
    r1, r2 = await b.get_route("r1"), await b.get_route("r2")
    assert r1 is not None and r2 is not None
    assert (r1.checkpoint_height, r2.checkpoint_height) == (5, 0)
    # The same block again is past for r1: nothing is stored twice.
    again = await a.commit_blocks([BlockCommit("r1", [k1], 5, b"h5", [event("t1")], 1)])
    assert again == [False]
    assert await a.commit_blocks([]) == []


async def test_delivery_updates_commit_together_with_their_audit_events(
    replicas: Opener,
) -> None:
    a = await replicas("a")
    audit = AuditLog(a)
    await a.add_route(route())
    assert await a.acquire_lease("r", 30) == 1
    ds = [delivery(f"k{i}") for i in range(3)]
    assert await a.commit_block("r", ds, 1, b"h1", lease_epoch=1)
    assert len(await a.due_deliveries(10, set())) == 3  # claimed by this replica
    await a.update_deliveries(
        [
            DeliveryUpdate(
                d.delivery_id,
                relay_pb2.DELIVERY_STATE_CONFIRMED,
                1,
                0,
                dest_tx_id=f"tx{i}",
                dest_block_height=7,
                claimed=True,
                also=[audit.step(principal="hub", action="relay.deliver", target=f"t{i}")],
            )
            for i, d in enumerate(ds[:2])
        ]
    )
    for i, d in enumerate(ds[:2]):
        got = await a.get_delivery(d.delivery_id)
        assert got is not None
        assert (got.state, got.destination_tx_id, got.destination_block_height) == (
            relay_pb2.DELIVERY_STATE_CONFIRMED, f"tx{i}", 7,
        )  # fmt: skip
    assert [e.target for e in await audit.events(1, 10)] == ["t0", "t1"]
    assert check_chain(await audit.events(1, 10), head_sequence=2) == []
    left = await a.get_delivery(ds[2].delivery_id)
    assert left is not None and left.state == relay_pb2.DELIVERY_STATE_PENDING
    await a.update_deliveries([])  # nothing to do is no transaction and no error


async def test_key_order_and_resting_destinations(replicas: Opener) -> None:
    store = await replicas("a")
    await store.add_route(route())
    assert await store.acquire_lease("r", 30) == 1
    await store.commit_block("r", [delivery("a", 3), delivery("a", 2)], 1, b"h1", lease_epoch=1)
    await store.commit_block(
        "r", [delivery("a", 1), delivery("b"), delivery("c", 1, "other")], 2, b"h2", lease_epoch=1
    )
    due = await store.due_deliveries(10, set())
    assert [(x.record.ref.key, x.record.version) for x in due] == [("a", 1), ("b", 1), ("c", 1)]
    rested = await store.due_deliveries(10, set(), resting={"other"})
    assert [x.record.ref.key for x in rested] == ["a", "b"]
    await store.update_deliveries([DeliveryUpdate(
        delivery("a", 1).delivery_id, state=relay_pb2.DELIVERY_STATE_CONFIRMED, attempts=0,
        next_attempt_at=0, claimed=True,
    )])  # fmt: skip
    due = await store.due_deliveries(10, {delivery("b").delivery_id})
    assert [(x.record.ref.key, x.record.version) for x in due] == [("a", 2), ("c", 1)]
    backlog = await store.backlog("r")
    assert (backlog.pending, backlog.confirmed) == (4, 1)
    assert await store.unconfirmed_by_route(["r", "r", "none"]) == {"r": 4, "none": 0}
    assert await store.unconfirmed_by_route([]) == {}
    listed = await store.list_deliveries("r", relay_pb2.DELIVERY_STATE_CONFIRMED, 0, 10)
    assert [d.record.ref.key for _, d in listed] == ["a"]
    assert await store.count_unconfirmed() == 4


async def test_concurrent_audit_appends_from_two_replicas_form_one_chain(
    replicas: Opener,
) -> None:
    a, b = AuditLog(await replicas("a")), AuditLog(await replicas("b"))
    appends = [
        (a if i % 2 else b).append(principal=f"p{i}", action="test.append") for i in range(40)
    ]
    events = await asyncio.gather(*appends)
    assert sorted(e.sequence for e in events) == list(range(1, 41))
    chain = [e async for e in b.export()]
    assert [e.principal for e in chain] == [
        e.principal for e in sorted(events, key=lambda e: e.sequence)
    ]
    assert check_chain(chain, head_sequence=(await a.head())[0]) == []


async def test_predicate_budget_is_shared(replicas: Opener) -> None:
    a, b = await replicas("a"), await replicas("b")
    limits = RuleLimits("rule", PredicateLimits(per_field_per_day=2), default=False)
    now = time.time()
    for store, n in ((a, 1), (b, 2)):
        await PredicateBudget(store, window=100, clock=lambda: now).spend(
            "agency", "c/n/k", limits, [Question("x", f"x < {n}")]
        )
    with pytest.raises(PermissionDenied, match="and 2 were asked about 'x' of c/n/k"):
        await PredicateBudget(a, window=100, clock=lambda: now).spend(
            "agency", "c/n/k", limits, [Question("x", "x < 3")]
        )


async def _raw(
    url: str, tmp_path: Path, sql: str, rows: list[tuple[object, ...]]
) -> list[tuple[object, ...]]:
    """`sql` straight on the store's database, no store: run once per row of `rows`, or
    a query's rows when `rows` is empty (`?` placeholders, numbered for PostgreSQL)."""
    if url:
        numbers = iter(range(1, 100))
        pg_sql = re.sub(r"\?", lambda _: f"${next(numbers)}", sql)
        conn = await asyncpg.connect(url)
        try:
            if rows:
                await conn.executemany(pg_sql, rows)
                return []
            return [tuple(r) for r in await conn.fetch(pg_sql)]
        finally:
            await conn.close()
    db = sqlite3.connect(tmp_path / "hub.sqlite3", isolation_level=None)
    try:
        if rows:
            db.executemany(sql, rows)
            return []
        return [tuple(r) for r in db.execute(sql).fetchall()]
    finally:
        db.close()


async def test_migration_8_moves_every_stored_record_apart_and_loses_none(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database migration 7 left, with deliveries in every state and a 255 KiB record,
    opens at the last version with each delivery whole; deleting the route then
    deletes its unconfirmed deliveries' records with them."""
    import hub.store.postgres
    import hub.store.sqlite

    up_to_7 = [m for m in MIGRATIONS if m[0] <= 7]
    monkeypatch.setattr(hub.store.sqlite, "MIGRATIONS", up_to_7)
    monkeypatch.setattr(hub.store.postgres, "MIGRATIONS", up_to_7)
    old = store_for(store_url, tmp_path, "a")
    await old.open()
    assert await old.schema_version() == 7
    await old.add_route(route())
    await old.close()

    states = [
        relay_pb2.DELIVERY_STATE_PENDING,
        relay_pb2.DELIVERY_STATE_SUBMITTED,
        relay_pb2.DELIVERY_STATE_CONFIRMED,
        relay_pb2.DELIVERY_STATE_PARKED,
    ]
    ds = []
    for i, state in enumerate(states):
        d = delivery(f"k{i}")
        d.record.value = (b'"' + b"x" * 255 * 1024 + b'"') if i == 0 else b'{"n": %d}' % i
        d.proof_digest = bytes([i]) * 32
        d.state = state
        ds.append(d)
    await _raw(
        store_url,
        tmp_path,
        "INSERT INTO deliveries (delivery_id, route_id, state, delivery, attempts,"
        " next_attempt_at, last_error, dest_tx_id, dest_block_height, created_at, updated_at,"
        " seq, destination_chain_id, order_key, version, rejection)"
        " VALUES (?, 'r', ?, ?, ?, 0, '', ?, ?, 1000, 2000, ?, 'dst', ?, 1, 0)",
        [
            (d.delivery_id, d.state, d.SerializeToString(), i, f"tx{i}", i, i + 1, f"o{i}")
            for i, d in enumerate(ds)
        ],
    )

    monkeypatch.setattr(hub.store.sqlite, "MIGRATIONS", MIGRATIONS)
    monkeypatch.setattr(hub.store.postgres, "MIGRATIONS", MIGRATIONS)
    store = store_for(store_url, tmp_path, "a")
    await store.open()
    assert await store.schema_version() == MIGRATIONS[-1][0] == 10
    for i, d in enumerate(ds):
        got = await store.get_delivery(d.delivery_id)
        assert got is not None
        assert (got.record, got.proof_digest, got.state) == (d.record, d.proof_digest, d.state)
        assert (got.attempts, got.destination_tx_id, got.destination_block_height) == (
            i,
            f"tx{i}",
            i,
        )
    listed = await store.list_deliveries("r", 0, 0, 10)
    assert [(seq, x.delivery_id) for seq, x in listed] == [
        (i + 1, d.delivery_id) for i, d in enumerate(ds)
    ]
    assert [x.delivery_id for x in await store.recent_deliveries(2)] == [
        ds[3].delivery_id,
        ds[2].delivery_id,
    ]
    assert await store.acquire_lease("r", 30) == 1
    due = await store.due_deliveries(10, set())
    assert [x.delivery_id for x in due] == [ds[0].delivery_id, ds[1].delivery_id]
    assert due[0].record == ds[0].record

    assert await store.delete_route("r")
    assert await store.get_delivery(ds[0].delivery_id) is None
    kept = await store.get_delivery(ds[2].delivery_id)  # confirmed: kept as history
    assert kept is not None and kept.record == ds[2].record
    left = await _raw(store_url, tmp_path, "SELECT delivery_id FROM delivery_records", [])
    assert left == [(ds[2].delivery_id,)]
    await store.close()


async def test_a_submitted_delivery_is_due_at_once_for_the_process_that_takes_over(
    replicas: Opener,
) -> None:
    """Whoever sent it is gone (a restart, a takeover), and with it the following of
    the destination's final blocks: the next process asks about it now, not after
    the fallback delay the sender had set."""
    a = await replicas("a")
    await a.add_route(route())
    assert await a.acquire_lease("r", 30) == 1
    sent, waiting = delivery("k0"), delivery("k1")
    await a.commit_block("r", [sent, waiting], 1, b"h1", lease_epoch=1)
    assert len(await a.due_deliveries(10, set())) == 2
    later = time.time() + 600
    await a.update_deliveries([
        DeliveryUpdate(sent.delivery_id, relay_pb2.DELIVERY_STATE_SUBMITTED, 1, later,
                       dest_tx_id="t0", claimed=True),
        DeliveryUpdate(waiting.delivery_id, relay_pb2.DELIVERY_STATE_PENDING, 1, later,
                       last_error="retry later", claimed=True),
    ])  # fmt: skip
    assert await a.due_deliveries(10, set()) == []
    assert await a.acquire_lease("r", 30) == 1  # a renewal by the sender changes nothing
    assert await a.due_deliveries(10, set()) == []
    await a.release_lease("r")
    await a.close()

    b = await replicas("b")
    assert await b.acquire_lease("r", 30) == 2
    due = await b.due_deliveries(10, set())
    assert [(d.delivery_id, d.state) for d in due] == [
        (sent.delivery_id, relay_pb2.DELIVERY_STATE_SUBMITTED)
    ]  # the pending one keeps its retry time
