"""A crash between any two steps of the deliverer or the worker's block commit loses and
doubles no audit event: each state change and its event commit in one transaction.

Real SQLite store and audit log; the destination is an in-memory inbox that keeps
what it accepted across the simulated crashes (as a real chain does)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.audit import sqlite as audit_rows
from hub.audit.log import AuditLog
from hub.relay.deliverer import Deliverer
from hub.relay.delivery_id import delivery_id
from hub.relay.group_commit import GroupCommit
from hub.relay.notifier import DeliveryNotifier
from hub.relay.retry import RetryPolicy
from hub.store.base import AuditAppend, DeliveryUpdate
from hub.store.sqlite import SqliteStore
from tonglian.v1 import adapter_pb2, audit_pb2, chains_pb2, records_pb2, relay_pb2

S = adapter_pb2


class Crash(BaseException):
    """The hub process dying at this point (nothing after it runs)."""


class Inbox:
    """A destination inbox: applies each delivery id once, final at once."""

    def __init__(self, crash_at: str) -> None:
        self.crash_at = crash_at
        self.crashed = False
        self.applied: list[str] = []

    def _maybe(self, point: str) -> None:
        if self.crash_at == point:
            self.crash_at, self.crashed = "", True
            raise Crash(point)

    def _apply(self, d: relay_pb2.Delivery) -> bool:
        """Applies `d` once, between the two crash points; whether it was a repeat."""
        self._maybe("before-submit")
        duplicate = d.delivery_id in self.applied
        if not duplicate:
            self.applied.append(d.delivery_id)
        self._maybe("after-submit")
        return duplicate

    async def submit(self, d: relay_pb2.Delivery) -> adapter_pb2.Submission:
        duplicate = self._apply(d)
        state = S.SUBMISSION_STATE_DUPLICATE if duplicate else S.SUBMISSION_STATE_CONFIRMED
        return S.Submission(delivery_id=d.delivery_id, state=state, tx_id="t", block_height=1)

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        if delivery_id not in self.applied:
            return S.Submission(delivery_id=delivery_id, state=S.SUBMISSION_STATE_UNKNOWN)
        return S.Submission(
            delivery_id=delivery_id, state=S.SUBMISSION_STATE_CONFIRMED, tx_id="t", block_height=1
        )


class Chains:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def adapter(self, chain_id: str) -> Inbox:
        return self.inbox


def delivery(key: str) -> relay_pb2.Delivery:
    record = records_pb2.Record(
        ref=records_pb2.RecordRef(chain_id="src", namespace="ns", key=key),
        tx_id=f"tx-{key}",
        version=1,
        value=b"{}",
    )
    return relay_pb2.Delivery(
        delivery_id=delivery_id(record, "dst", "in"),
        route_id="r",
        record=record,
        proof_digest=bytes(32),
        destination_chain_id="dst",
        destination_namespace="in",
        state=relay_pb2.DELIVERY_STATE_PENDING,
    )


async def open_store(path: Path) -> tuple[SqliteStore, AuditLog]:
    store = SqliteStore(path)
    await store.open()
    return store, AuditLog(store)


async def add_route(store: SqliteStore) -> None:
    await store.add_route(
        relay_pb2.Route(
            route_id="r", source_chain_id="src", destination_chain_id="dst",
            state=relay_pb2.ROUTE_STATE_ACTIVE,
        )
    )  # fmt: skip


async def deliver_until_quiet(store: SqliteStore, audit: AuditLog, inbox: Inbox) -> None:
    """Runs a deliverer until nothing is left to do, or until the injected crash."""
    chains: Any = Chains(inbox)
    deliverer = Deliverer(store, chains, DeliveryNotifier(), asyncio.Event(), RetryPolicy(), audit)
    task = asyncio.create_task(deliverer.run())
    try:
        for _ in range(1000):
            if inbox.crashed or task.done() or not await store.count_unconfirmed():
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# A second event whose writing dies half way: the transaction must keep nothing.
crash_in_transaction = AuditAppend(audit_pb2.AuditEvent(action="crash"))


@pytest.fixture(autouse=True)
def _crash_on_its_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing the event of `crash_in_transaction` dies inside the store's transaction."""
    real = audit_rows.chain_all

    def chain_all(conn: Any, items: list[tuple[audit_pb2.AuditEvent, bytes | None]]) -> Any:
        for i, (draft, _) in enumerate(items):
            if draft.action == "crash":
                real(conn, items[:i])  # the events before it are written, then it dies
                raise Crash("while writing an audit event, inside the transaction")
        return real(conn, items)

    monkeypatch.setattr(audit_rows, "chain_all", chain_all)


async def events(audit: AuditLog, action: str) -> list[str]:
    return [e.target for e in await audit.events(1, 1000, action=action)]


async def test_crash_inside_a_state_change_keeps_neither_state_nor_event(tmp_path: Path) -> None:
    store, audit = await open_store(tmp_path / "hub.sqlite3")
    await add_route(store)
    d = delivery("k")
    step = audit.step(principal="hub", action="relay.reject", target="src/ns/k")
    with pytest.raises(Crash):
        await store.commit_block("r", [d], 1, b"h1", also=[step, crash_in_transaction])
    assert await store.get_delivery(d.delivery_id) is None
    assert (await store.get_route("r")).checkpoint_height == 0  # type: ignore[union-attr]
    assert await events(audit, "relay.reject") == []
    # The rescan after the crash stores the block once, its event once; a second
    # rescan of the same block stores nothing.
    assert await store.commit_block("r", [d], 1, b"h1", also=[step])
    assert not await store.commit_block("r", [d], 1, b"h1", also=[step])
    assert await events(audit, "relay.reject") == ["src/ns/k"]

    deliver = audit.step(principal="hub", action="relay.deliver", target="dst/in/k")
    with pytest.raises(Crash):
        await store.update_deliveries(
            [
                DeliveryUpdate(
                    d.delivery_id,
                    state=relay_pb2.DELIVERY_STATE_CONFIRMED,
                    attempts=0,
                    next_attempt_at=0,
                    also=[deliver, crash_in_transaction],
                )
            ]
        )
    got = await store.get_delivery(d.delivery_id)
    assert got is not None and got.state == relay_pb2.DELIVERY_STATE_PENDING
    assert await events(audit, "relay.deliver") == []
    await store.close()


async def test_an_event_is_announced_once_and_only_once_committed(tmp_path: Path) -> None:
    """The audit metrics hear of an event when its transaction has committed: never for
    one rolled back, once for one whose group commit failed and was written again alone
    (it had been counted twice)."""
    store, _ = await open_store(tmp_path / "hub.sqlite3")
    await add_route(store)
    ds = [delivery(f"k{i}") for i in range(3)]
    assert await store.commit_block("r", ds, 1, b"h1")
    heard: list[str] = []

    def step(key: str) -> AuditAppend:
        draft = audit_pb2.AuditEvent(principal="hub", action="relay.deliver", target=key)
        return AuditAppend(draft, on_chained=lambda e: heard.append(e.target))

    def confirm(d: relay_pb2.Delivery, *also: AuditAppend) -> DeliveryUpdate:
        return DeliveryUpdate(
            d.delivery_id, state=relay_pb2.DELIVERY_STATE_CONFIRMED, attempts=0,
            next_attempt_at=0, also=[*also],
        )  # fmt: skip

    with pytest.raises(Crash):
        await store.update_deliveries([confirm(ds[0], step("k0"), crash_in_transaction)])
    assert heard == []

    # The first group of two fails once (not the store being down): each is then
    # written alone, and each event is heard of once.
    failures = iter([RuntimeError("disk I/O error")])
    real = audit_rows.chain_all

    def flaky(conn: Any, items: list[tuple[audit_pb2.AuditEvent, bytes | None]]) -> Any:
        if any(draft.target == "k2" for draft, _ in items):
            err = next(failures, None)
            if err is not None:
                raise err
        return real(conn, items)

    writer = GroupCommit(store)
    task = asyncio.create_task(writer.run())
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(audit_rows, "chain_all", flaky)
            await asyncio.gather(
                writer.save(confirm(ds[1], step("k1"))), writer.save(confirm(ds[2], step("k2")))
            )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert sorted(heard) == ["k1", "k2"]
    assert sorted(e.target for e in await store.audit_events(1, 100, "", "relay.deliver")) == [
        "k1",
        "k2",
    ]
    await store.close()


class BatchInbox(Inbox):
    """An inbox whose deliveries are final at its next block (every 10 ms), asked about
    in batches: the deliverer's check path, not only its submit path."""

    follows_final_heights = True
    checks_many = True
    chain = chains_pb2.Chain(chain_id="dst")

    def __init__(self, crash_at: str) -> None:
        super().__init__(crash_at)
        self.height = 0
        self.final: set[str] = set()

    async def submit(self, d: relay_pb2.Delivery) -> adapter_pb2.Submission:
        self._apply(d)
        if d.delivery_id in self.final:
            return S.Submission(
                delivery_id=d.delivery_id, state=S.SUBMISSION_STATE_DUPLICATE, tx_id="t",
                block_height=1,
            )  # fmt: skip
        return S.Submission(delivery_id=d.delivery_id, state=S.SUBMISSION_STATE_PENDING)

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        if delivery_id in self.final:
            return S.Submission(
                delivery_id=delivery_id, state=S.SUBMISSION_STATE_CONFIRMED, tx_id="t",
                block_height=1,
            )  # fmt: skip
        if delivery_id in self.applied:
            return S.Submission(delivery_id=delivery_id, state=S.SUBMISSION_STATE_PENDING)
        return S.Submission(delivery_id=delivery_id, state=S.SUBMISSION_STATE_UNKNOWN)

    async def submissions(self, delivery_ids: list[str]) -> list[adapter_pb2.Submission]:
        answers = [await self.submission(i) for i in delivery_ids]
        # The destination answered (some are final there); the hub dies before storing.
        self._maybe("in-batch-check")
        return answers

    async def head(self) -> chains_pb2.ChainHead:
        return chains_pb2.ChainHead(height=self.height, final_height=self.height)

    async def final_heights(self, from_height: int) -> AsyncIterator[int]:
        while True:
            await asyncio.sleep(0.01)
            self.height += 1
            self.final.update(self.applied)
            yield self.height


# A crash before a submission, after it, or between a batch status answer and its
# storing (the check path, BatchInbox), or none; the restarted deliverer asks about the
# deliveries left submitted at once.
@pytest.mark.parametrize(
    ("inbox_kind", "crash_at"),
    [
        (Inbox, "before-submit"),
        (Inbox, "after-submit"),
        (Inbox, "none"),
        (BatchInbox, "before-submit"),
        (BatchInbox, "after-submit"),
        (BatchInbox, "in-batch-check"),
        (BatchInbox, "none"),
    ],
)
async def test_deliverer_crash_between_steps(
    tmp_path: Path, inbox_kind: type[Inbox], crash_at: str
) -> None:
    store, audit = await open_store(tmp_path / "hub.sqlite3")
    await add_route(store)
    ds = [delivery(f"k{i}") for i in range(3)]
    assert await store.commit_block("r", ds, 1, b"h1")
    inbox = inbox_kind(crash_at)
    await deliver_until_quiet(store, audit, inbox)
    assert inbox.crashed == (crash_at != "none")
    inbox.crashed = False
    await store.close()
    store, audit = await open_store(tmp_path / "hub.sqlite3")  # the hub restarts
    await deliver_until_quiet(store, audit, inbox)
    assert sorted(inbox.applied) == sorted(d.delivery_id for d in ds)
    assert await store.count_unconfirmed() == 0
    assert sorted(await events(audit, "relay.deliver")) == ["dst/in/k0", "dst/in/k1", "dst/in/k2"]
    await store.close()
