"""A SQLite connection's own thread: calls in order, cancellation that never leaves the
connection to two users at once, the inline path only when the thread is idle."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.store.sqlite_thread import ConnectionThread, NotOpen


def connection_to(path: Path) -> ConnectionThread:
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
        return conn

    return ConnectionThread(connect, "test-sqlite")


def insert(n: int) -> Callable[[sqlite3.Connection], None]:
    def call(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (?)", (n,))

    return call


def rows(conn: sqlite3.Connection) -> list[int]:
    return [n for (n,) in conn.execute("SELECT n FROM t ORDER BY rowid")]


async def test_calls_run_in_the_order_made_in_one_thread_of_their_own(tmp_path: Path) -> None:
    db = connection_to(tmp_path / "db")
    await db.open()
    threads: list[int] = []

    def numbered(n: int) -> Callable[[sqlite3.Connection], None]:
        def call(conn: sqlite3.Connection) -> None:
            threads.append(threading.get_ident())
            conn.execute("INSERT INTO t VALUES (?)", (n,))

        return call

    await asyncio.gather(*(db.call(numbered(n)) for n in range(50)))
    assert await db.call(rows) == list(range(50))
    assert len(set(threads)) == 1 and threads[0] != threading.get_ident()
    await db.close()


async def test_a_call_cancelled_before_it_starts_never_runs(tmp_path: Path) -> None:
    db = connection_to(tmp_path / "db")
    await db.open()
    release = threading.Event()
    blocker = asyncio.ensure_future(db.call(lambda conn: release.wait(5)))
    queued = asyncio.ensure_future(db.call(insert(1)))
    await asyncio.sleep(0.05)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    release.set()  # only now: the thread would otherwise take the call up at once
    await blocker
    assert await db.call(rows) == []
    await db.close()


async def test_a_call_cancelled_while_it_runs_finishes_before_the_next_starts(
    tmp_path: Path,
) -> None:
    db = connection_to(tmp_path / "db")
    await db.open()
    started = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        started.set()
        threading.Event().wait(0.2)
        conn.execute("INSERT INTO t VALUES (7)")
        conn.execute("COMMIT")

    running = asyncio.ensure_future(db.call(slow))
    await asyncio.to_thread(started.wait, 5)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    # Had the next call started on the connection mid-transaction, it would have seen
    # no row (or failed with "cannot start a transaction within a transaction").
    assert await db.call(rows) == [7]
    await db.close()


async def test_inline_only_while_the_thread_is_idle(tmp_path: Path) -> None:
    db = connection_to(tmp_path / "db")
    await db.open()
    here = threading.get_ident()

    def where(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t VALUES (?)", (threading.get_ident() == here,))
        return threading.get_ident()

    assert await db.call_inline_if_idle(where) == here
    release = threading.Event()
    blocker = asyncio.ensure_future(db.call(lambda conn: release.wait(5)))
    await asyncio.sleep(0.05)
    queued = asyncio.ensure_future(db.call_inline_if_idle(where))
    await asyncio.sleep(0.05)
    assert not queued.done()  # behind the running call, not beside it
    release.set()
    await blocker
    assert await queued != here
    assert await db.call(rows) == [1, 0]
    await db.close()


async def test_close_waits_for_earlier_calls_and_later_ones_are_refused(tmp_path: Path) -> None:
    db = connection_to(tmp_path / "db")
    await db.open()

    def slow_insert(conn: sqlite3.Connection) -> None:
        threading.Event().wait(0.1)
        conn.execute("INSERT INTO t VALUES (1)")

    earlier = asyncio.ensure_future(db.call(slow_insert))
    await asyncio.sleep(0.01)
    await db.close()
    await earlier
    with pytest.raises(NotOpen, match=r"^store is not open$"):
        await db.call(rows)
    with pytest.raises(NotOpen, match=r"^store is not open$"):
        await db.call_inline_if_idle(rows)
    again = connection_to(tmp_path / "db")
    await again.open()
    assert await again.call(rows) == [1]
    await again.close()
