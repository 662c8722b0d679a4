"""A destination that can be asked about many deliveries at once is asked at each
final block in batches, not once a delivery; what a batch does not settle (a delivery
the destination lost, a failed request) is settled one by one as before.

Real SQLite store and audit log; the destination is an in-memory chain that makes a
block every few milliseconds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.errors import AdapterMisbehaved, ChainUnreachable
from hub.relay.deliverer import CHECK_BATCH, Deliverer
from hub.relay.notifier import DeliveryNotifier
from hub.relay.retry import RetryPolicy
from hub.store.sqlite import SqliteStore
from tonglian.v1 import adapter_pb2, chains_pb2, relay_pb2

from .test_relay_audit_atomic import add_route, delivery, open_store

S = adapter_pb2
BLOCK_S = 0.02


class TickingChain:
    """Plays the guarded adapter (and the registry and router that hand it out): every
    BLOCK_S a block includes what was submitted before it. `first_batch` says how the
    first batch question goes: answered, "lose" (the chain forgot `lost`: UNKNOWN),
    or an error to raise."""

    follows_final_heights = True
    checks_many = True
    chain = chains_pb2.Chain(chain_id="dst")

    def __init__(self, first_batch: Any = None, lost: str = "") -> None:
        self.first_batch = first_batch
        self.lost = lost
        self.height = 0
        self.pending: list[str] = []
        self.included: dict[str, int] = {}
        self.submits: dict[str, int] = {}
        self.single_checks = 0
        self.batches: list[int] = []

    async def submit(self, d: relay_pb2.Delivery) -> adapter_pb2.Submission:
        self.submits[d.delivery_id] = self.submits.get(d.delivery_id, 0) + 1
        if d.delivery_id not in self.included and d.delivery_id not in self.pending:
            self.pending.append(d.delivery_id)
        return self._state(d.delivery_id)

    def _state(self, delivery_id: str) -> adapter_pb2.Submission:
        if delivery_id in self.included:
            height = self.included[delivery_id]
            return S.Submission(
                delivery_id=delivery_id,
                state=S.SUBMISSION_STATE_CONFIRMED,
                tx_id=f"t-{delivery_id[:8]}",
                block_height=height,
            )
        if delivery_id in self.pending:
            return S.Submission(delivery_id=delivery_id, state=S.SUBMISSION_STATE_PENDING)
        return S.Submission(delivery_id=delivery_id, state=S.SUBMISSION_STATE_UNKNOWN)

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        self.single_checks += 1
        return self._state(delivery_id)

    async def submissions(self, delivery_ids: list[str]) -> list[adapter_pb2.Submission]:
        self.batches.append(len(delivery_ids))
        if len(self.batches) == 1 and self.first_batch is not None:
            if self.first_batch == "lose":
                self.included.pop(self.lost, None)
                if self.lost in self.pending:
                    self.pending.remove(self.lost)
            else:
                raise self.first_batch
        return [self._state(i) for i in delivery_ids]

    async def head(self) -> chains_pb2.ChainHead:
        return chains_pb2.ChainHead(height=self.height, final_height=self.height)

    async def final_heights(self, from_height: int) -> AsyncIterator[int]:
        while True:
            await asyncio.sleep(BLOCK_S)
            self.height += 1
            for delivery_id in self.pending:
                self.included[delivery_id] = self.height
            self.pending.clear()
            yield self.height

    async def adapter(self, chain_id: str) -> TickingChain:
        return self


async def relay(tmp_path: Path, chain: TickingChain, n: int) -> tuple[SqliteStore, list[str]]:
    """Stores n deliveries, runs a deliverer until all are confirmed; the delivery ids."""
    store, audit = await open_store(tmp_path / "hub.sqlite3")
    await add_route(store)
    ds = [delivery(f"k{i:04d}") for i in range(n)]
    assert await store.commit_block("r", ds, 1, b"h1")
    chains: Any = chain
    deliverer = Deliverer(store, chains, DeliveryNotifier(), asyncio.Event(), RetryPolicy(), audit)
    task = asyncio.create_task(deliverer.run())
    try:
        for _ in range(500):
            if not await store.count_unconfirmed():
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await store.count_unconfirmed() == 0, "not every delivery was confirmed"
    return store, [d.delivery_id for d in ds]


async def confirmed_once_each(store: SqliteStore, ids: list[str]) -> None:
    for delivery_id in ids:
        got = await store.get_delivery(delivery_id)
        assert got is not None and got.state == relay_pb2.DELIVERY_STATE_CONFIRMED
    events = await store.audit_events(1, 10_000, "", "relay.deliver")
    assert sorted(json.loads(e.detail_json)["delivery_id"] for e in events) == sorted(ids)
    assert {e.outcome for e in events} == {"ok"}
    await store.close()


async def test_confirmations_are_asked_in_batches(tmp_path: Path) -> None:
    chain = TickingChain()
    store, ids = await relay(tmp_path, chain, 300)
    assert chain.single_checks == 0
    assert sum(chain.batches) >= 300 and max(chain.batches) <= CHECK_BATCH
    # Far fewer questions than deliveries: one per batch, not one each.
    assert len(chain.batches) < 300 / 10, chain.batches
    assert all(n == 1 for n in chain.submits.values())
    await confirmed_once_each(store, ids)


async def test_a_delivery_the_destination_lost_is_sent_again(tmp_path: Path) -> None:
    probe = delivery("k0003").delivery_id
    chain = TickingChain("lose", lost=probe)
    store, ids = await relay(tmp_path, chain, 20)
    assert chain.submits[probe] == 2
    assert all(n == 1 for i, n in chain.submits.items() if i != probe)
    await confirmed_once_each(store, ids)


async def test_a_misbehaving_batch_answer_is_asked_again_one_by_one(tmp_path: Path) -> None:
    chain = TickingChain(AdapterMisbehaved("adapter 'x' answered 3 submissions for 20"))
    store, ids = await relay(tmp_path, chain, 20)
    assert chain.single_checks >= 1
    assert all(n == 1 for n in chain.submits.values())
    await confirmed_once_each(store, ids)


async def test_an_unreachable_destination_rests_then_is_asked_again(tmp_path: Path) -> None:
    chain = TickingChain(ChainUnreachable("chain 'dst' is unreachable: refused", chain_id="dst"))
    store, ids = await relay(tmp_path, chain, 20)
    # Every delivery was kept where it was (no attempt counted) and confirmed later.
    for delivery_id in ids:
        got = await store.get_delivery(delivery_id)
        assert got is not None and got.attempts == 0
    assert all(n == 1 for n in chain.submits.values())
    await confirmed_once_each(store, ids)


@pytest.fixture(autouse=True)
def _quick_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Probes of the resting destination come within milliseconds."""
    monkeypatch.setattr(RetryPolicy, "probe_delay", lambda self, probe: 0.01)
