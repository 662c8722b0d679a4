"""One SQLite connection and the one thread that uses it.

sqlite3 calls block, so they run off the event loop. Each connection has a thread of its
own that runs its calls in the order they were made, back to back: the next call starts
as soon as the thread is free. With a lock taken in the event loop instead, the
connection stayed idle from the end of one call until the loop had woken its caller,
released the lock, woken the next caller and handed its call to a thread: under the
relay's load (the event loop busy, two cores shared with the ledgers) 3-8 ms a call, as
long as the writes themselves, so the scan's block commits waited 10-35 ms behind the
deliverer's.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class NotOpen(RuntimeError):
    def __init__(self) -> None:
        super().__init__("store is not open")


class ConnectionThread:
    """Calls on one connection, in order, in its own thread (or, when the thread is
    idle, inline: see `call_inline_if_idle`)."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], name: str) -> None:
        self._connect = connect
        self._name = name
        self._conn: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        # Held while a call uses the connection, in the thread or inline.
        self._busy = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def open(self) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=self._name)
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._thread, self._connect)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(connection)` in the connection's thread, after the calls made before it.
        A caller cancelled while its call runs leaves the call to finish (a thread
        cannot be stopped); one cancelled before it starts, it never runs."""
        conn, thread = self._conn, self._thread
        if conn is None or thread is None:
            raise NotOpen()

        def locked() -> T:
            with self._busy:
                return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(thread, locked)

    async def call_inline_if_idle(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(connection)` in the caller's thread when the connection is idle this
        instant (a short write to the page cache is cheaper than two thread hops), else
        `call(fn)`. Only for calls that cannot wait on the disk: the caller's thread is
        the event loop's."""
        conn = self._conn
        if conn is None:
            raise NotOpen()
        if self._busy.acquire(blocking=False):
            try:
                return fn(conn)
            finally:
                self._busy.release()
        return await self.call(fn)

    async def close(self) -> None:
        """Closes the connection once the calls made before are done."""
        conn, thread = self._conn, self._thread
        self._conn = self._thread = None
        if conn is None or thread is None:
            return

        def close() -> None:
            with self._busy:
                conn.close()

        try:
            await asyncio.get_running_loop().run_in_executor(thread, close)
        finally:
            thread.shutdown(wait=False)
