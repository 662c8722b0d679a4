"""The relay has one deliverer: a failure nobody foresaw in its own store queries (a
driver error after a PostgreSQL restart: asyncpg's "cannot switch to state 15")
must not end it, or every route stalls for good with nothing in the log.

Real SQLite store and audit log; the destination is an in-memory inbox."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from hub.relay.deliverer import Deliverer
from hub.relay.notifier import DeliveryNotifier
from hub.relay.retry import RetryPolicy
from hub.store.sqlite import SqliteStore

from .test_relay_audit_atomic import Chains, Inbox, add_route, delivery, open_store


class Faulty:
    """The store, with `fails` unforeseen failures of the deliverer's queries."""

    def __init__(self, store: SqliteStore, fails: int) -> None:
        self._store = store
        self.fails = fails

    def _maybe_fail(self) -> None:
        if self.fails:
            self.fails -= 1
            raise RuntimeError("cannot switch to state 15; another operation (2) is in progress")

    async def due_deliveries(self, *args: Any, **kwargs: Any) -> Any:
        self._maybe_fail()
        return await self._store.due_deliveries(*args, **kwargs)

    async def next_due_at(self) -> Any:
        self._maybe_fail()
        return await self._store.next_due_at()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_unforeseen_store_failures_do_not_end_the_deliverer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, audit = await open_store(tmp_path / "hub.sqlite3")
    await add_route(store)
    faulty: Any = Faulty(store, fails=3)
    inbox = Inbox(crash_at="")
    chains: Any = Chains(inbox)
    deliverer = Deliverer(faulty, chains, DeliveryNotifier(), asyncio.Event(), RetryPolicy(), audit)
    task = asyncio.create_task(deliverer.run())
    try:
        await asyncio.sleep(0.1)  # the first failures come while there is nothing to do
        assert not task.done()
        first = delivery("k0")
        assert await store.commit_block("r", [first], 1, b"h1")
        for _ in range(800):
            if task.done() or not await store.count_unconfirmed():
                break
            await asyncio.sleep(0.01)
        assert not task.done(), "the deliverer ended"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert faulty.fails == 0
    assert inbox.applied == [first.delivery_id]
    assert await store.count_unconfirmed() == 0
    failures = [
        r for r in caplog.records if r.getMessage() == "deliverer: unexpected failure; going on"
    ]
    assert len(failures) == 3 and all(r.levelno == logging.ERROR for r in failures)
    assert all(r.exc_info and "state 15" in str(r.exc_info[1]) for r in failures)
    await store.close()
