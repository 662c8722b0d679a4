"""Group commit (hub/audit/log.py): concurrent appends share transactions, each caller
gets its own event back, the chain stays intact, and the WAL is flushed afterwards."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from hub.audit.chain_check import check_chain
from hub.audit.log import AuditLog
from hub.store import sqlite as sqlite_store
from hub.store.base import AuditAppend
from hub.store.sqlite import SqliteStore
from tonglian.v1 import audit_pb2

T = TypeVar("T")


async def test_concurrent_appends_share_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    runs = 0
    real_append = store.audit_append

    async def counting(steps: Sequence[AuditAppend]) -> list[audit_pb2.AuditEvent]:
        nonlocal runs
        runs += 1
        return await real_append(steps)

    monkeypatch.setattr(store, "audit_append", counting)
    synced: list[str] = []
    monkeypatch.setattr(sqlite_store, "_fsync", synced.append)
    monkeypatch.setattr(sqlite_store, "WAL_SYNC_INTERVAL", 0.01)
    audit = AuditLog(store)
    try:
        events = await asyncio.gather(
            *(
                audit.append(principal=f"agency-{i}", action="query.get_record", target=f"t/{i}")
                for i in range(100)
            )
        )
        # Each caller got its own event: the one with its target.
        assert [e.target for e in events] == [f"t/{i}" for i in range(100)]
        assert sorted(e.sequence for e in events) == list(range(1, 101))
        # All 100 were queued before the writer's first turn: one transaction for all.
        assert runs == 1
        assert check_chain(await audit.events(1, 200)) == []
        for _ in range(100):
            if synced:
                break
            await asyncio.sleep(0.01)
        assert synced == [f"{tmp_path / 'hub.sqlite3'}-wal"]
    finally:
        await store.close()


async def test_a_failed_commit_fails_its_callers_and_the_next_batch_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    audit = AuditLog(store)
    real_append = store.audit_append
    calls = 0

    async def failing_once(steps: Sequence[AuditAppend]) -> list[audit_pb2.AuditEvent]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return await real_append(steps)

    monkeypatch.setattr(store, "audit_append", failing_once)
    try:
        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
            await audit.append(principal="a", action="query.get_record", target="lost")
        event = await audit.append(principal="a", action="query.get_record", target="kept")
        assert (event.sequence, event.target) == (1, "kept")
    finally:
        await store.close()


def _checkpointed_events(db: Path) -> int:
    """Audit events in the database file itself, not counting what only the WAL holds."""
    conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM audit_events").fetchone()[0])
    finally:
        conn.close()


async def test_audit_commits_leave_the_checkpoint_to_the_background_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An audit commit runs in the event loop's thread, so it must never wait for the
    disk: even with SQLite set to checkpoint after every page it does not; the
    background sync copies the WAL once CHECKPOINT_AFTER commits have piled up."""
    db = tmp_path / "hub.sqlite3"
    store = SqliteStore(db)
    await store.open()
    monkeypatch.setattr(sqlite_store, "WAL_SYNC_INTERVAL", 0.01)
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_AFTER", 3)
    await store.run(lambda conn: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
    await store.run(lambda conn: conn.execute("PRAGMA wal_autocheckpoint=1"))
    audit = AuditLog(store)
    try:
        before = _checkpointed_events(db)
        for i in range(2):
            await audit.append(principal="a/b", action="query.get_record", target=f"t/{i}")
        await asyncio.sleep(0.1)  # two background syncs: flushes, no checkpoint
        assert _checkpointed_events(db) == before
        # The connection's own setting is back for every other transaction.
        setting = await store.run(lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone())
        assert setting == (1,)
        await audit.append(principal="a/b", action="query.get_record", target="t/2")
        for _ in range(200):
            if _checkpointed_events(db) == before + 3:
                break
            await asyncio.sleep(0.01)
        assert _checkpointed_events(db) == before + 3
        assert check_chain(await audit.events(1, 10)) == []
    finally:
        await store.close()
