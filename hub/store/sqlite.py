"""SQLite store: the embedded default, one file in the hub's data folder.

sqlite3 calls block, so each runs in a worker thread under one lock; WAL and
`synchronous=FULL` make a returned write survive a crash.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from tonglian.v1 import chains_pb2

from hub.errors import AlreadyExists
from hub.store.migrations import MIGRATIONS

T = TypeVar("T")


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = await asyncio.to_thread(self._connect)
        await self._run(self._migrate)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            async with self._lock:
                await asyncio.to_thread(conn.close)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            raise RuntimeError("store is not open")
        conn = self._conn
        async with self._lock:
            return await asyncio.to_thread(fn, conn)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (version, name, _now()),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    async def schema_version(self) -> int:
        def q(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
            return int(row[0])

        return await self._run(q)

    async def add_chain(self, chain: chains_pb2.Chain) -> None:
        data = chain.SerializeToString(deterministic=True)

        def q(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO chains (chain_id, kind, chain, registered_at) VALUES (?, ?, ?, ?)",
                    (chain.chain_id, chain.kind, data, _now()),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(
                    f"chain {chain.chain_id!r} is already registered; remove it first "
                    "or choose another chain id"
                ) from None

        await self._run(q)

    async def get_chain(self, chain_id: str) -> chains_pb2.Chain | None:
        def q(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute(
                "SELECT chain FROM chains WHERE chain_id = ?", (chain_id,)
            ).fetchone()
            return None if row is None else bytes(row[0])

        data = await self._run(q)
        return None if data is None else chains_pb2.Chain.FromString(data)

    async def list_chains(self, after: str, limit: int) -> list[chains_pb2.Chain]:
        def q(conn: sqlite3.Connection) -> list[bytes]:
            rows = conn.execute(
                "SELECT chain FROM chains WHERE chain_id > ? ORDER BY chain_id LIMIT ?",
                (after, limit),
            ).fetchall()
            return [bytes(r[0]) for r in rows]

        return [chains_pb2.Chain.FromString(d) for d in await self._run(q)]

    async def remove_chain(self, chain_id: str) -> bool:
        def q(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM chains WHERE chain_id = ?", (chain_id,))
            return cur.rowcount > 0

        return await self._run(q)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
