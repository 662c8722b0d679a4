"""SQLite persistence: blocks, their entries, pending entries; one transaction per block.

Pending entries are written on arrival, so an accepted append or delivery
survives a restart and is cut into the next block. Deliveries are unique by id
across pending and committed entries (the inbox's exactly-once rule).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
  height INTEGER PRIMARY KEY,
  header BLOB NOT NULL,
  hash BLOB NOT NULL,
  signatures TEXT NOT NULL,
  time_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
  block_height INTEGER NOT NULL REFERENCES blocks(height),
  leaf_index INTEGER NOT NULL,
  tx_id TEXT NOT NULL UNIQUE,
  collection TEXT NOT NULL,
  key TEXT NOT NULL,
  schema TEXT NOT NULL,
  value TEXT NOT NULL,
  version INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  source TEXT,
  proof_digest TEXT,
  delivery_id TEXT UNIQUE,
  PRIMARY KEY (block_height, leaf_index)
);
CREATE INDEX IF NOT EXISTS entries_by_key ON entries (collection, key, block_height);
CREATE TABLE IF NOT EXISTS pending (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  tx_id TEXT NOT NULL UNIQUE,
  collection TEXT NOT NULL,
  key TEXT NOT NULL,
  schema TEXT NOT NULL,
  value TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  source TEXT,
  proof_digest TEXT,
  delivery_id TEXT UNIQUE
);
"""

_ENTRY_COLS = "tx_id, collection, key, schema, value, deleted, source, proof_digest, delivery_id"


@dataclass(frozen=True)
class NewEntry:
    """An accepted write, before a block gives it a version and a place."""

    tx_id: str
    collection: str
    key: str
    schema: str
    value: str
    deleted: bool
    source: dict[str, Any] | None = None
    proof_digest: str | None = None
    delivery_id: str | None = None


@dataclass(frozen=True)
class Entry:
    """A committed write."""

    new: NewEntry
    version: int
    block_height: int
    leaf_index: int
    time_ms: int


@dataclass(frozen=True)
class StoredBlock:
    height: int
    header: bytes
    hash: bytes
    signatures: list[dict[str, str]]
    time_ms: int


@dataclass(frozen=True)
class TxStatus:
    tx_id: str
    block_height: int | None
    leaf_index: int | None
    delivery_id: str | None


class Store:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def add_pending(self, e: NewEntry) -> None:
        self._db.execute(
            f"INSERT INTO pending ({_ENTRY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _entry_params(e),
        )

    def pending_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])

    def pending_batch(self, limit: int) -> list[tuple[int, NewEntry]]:
        rows = self._db.execute(
            f"SELECT seq, {_ENTRY_COLS} FROM pending ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [(int(r[0]), _new_entry(r[1:])) for r in rows]

    def latest_version(self, collection: str, key: str) -> int:
        row = self._db.execute(
            "SELECT max(version) FROM entries WHERE collection = ? AND key = ?", (collection, key)
        ).fetchone()
        return int(row[0] or 0)

    def commit_block(self, block: StoredBlock, entries: list[Entry], seqs: list[int]) -> None:
        """Writes the block and its entries and drops them from pending, atomically."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO blocks (height, header, hash, signatures, time_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    block.height,
                    block.header,
                    block.hash,
                    json.dumps(block.signatures),
                    block.time_ms,
                ),
            )
            db.executemany(
                f"INSERT INTO entries (block_height, leaf_index, version, {_ENTRY_COLS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.block_height, e.leaf_index, e.version, *_entry_params(e.new)) for e in entries],
            )
            db.executemany("DELETE FROM pending WHERE seq = ?", [(s,) for s in seqs])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def head(self) -> StoredBlock | None:
        row = self._db.execute(
            "SELECT height, header, hash, signatures, time_ms FROM blocks"
            " ORDER BY height DESC LIMIT 1"
        ).fetchone()
        return None if row is None else _block(row)

    def block(self, height: int) -> StoredBlock | None:
        row = self._db.execute(
            "SELECT height, header, hash, signatures, time_ms FROM blocks WHERE height = ?",
            (height,),
        ).fetchone()
        return None if row is None else _block(row)

    def block_entries(self, height: int) -> list[Entry]:
        rows = self._db.execute(
            f"SELECT block_height, leaf_index, version, {_ENTRY_COLS}, b.time_ms"
            " FROM entries JOIN blocks b ON b.height = block_height"
            " WHERE block_height = ? ORDER BY leaf_index",
            (height,),
        ).fetchall()
        return [_entry(r) for r in rows]

    def find_record(self, collection: str, key: str, at_height: int | None) -> Entry | None:
        """The latest version of a key, or the latest at or below `at_height`."""
        limit = at_height if at_height is not None else 2**62
        row = self._db.execute(
            f"SELECT block_height, leaf_index, version, {_ENTRY_COLS}, b.time_ms"
            " FROM entries JOIN blocks b ON b.height = block_height"
            " WHERE collection = ? AND key = ? AND block_height <= ?"
            " ORDER BY version DESC LIMIT 1",
            (collection, key, limit),
        ).fetchone()
        return None if row is None else _entry(row)

    def key_exists(self, collection: str, key: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM entries WHERE collection = ? AND key = ? LIMIT 1", (collection, key)
        ).fetchone()
        return row is not None

    def collections(self) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT collection FROM entries ORDER BY 1").fetchall()
        return [str(r[0]) for r in rows]

    def tx_status(self, tx_id: str) -> TxStatus | None:
        row = self._db.execute(
            "SELECT block_height, leaf_index, delivery_id FROM entries WHERE tx_id = ?", (tx_id,)
        ).fetchone()
        if row is not None:
            return TxStatus(tx_id, int(row[0]), int(row[1]), row[2])
        row = self._db.execute(
            "SELECT delivery_id FROM pending WHERE tx_id = ?", (tx_id,)
        ).fetchone()
        return None if row is None else TxStatus(tx_id, None, None, row[0])

    def held_version(self, collection: str, key: str, chain_id: str, namespace: str) -> int:
        """The newest source version the inbox holds (committed or pending) for a key
        delivered from one source namespace; 0 when it holds none."""
        held = 0
        for table in ("entries", "pending"):
            row = self._db.execute(
                "SELECT max(json_extract(source, '$.version')) FROM "
                f"{table} WHERE collection = ? AND key = ? AND source IS NOT NULL"
                " AND json_extract(source, '$.chain_id') = ?"
                " AND json_extract(source, '$.namespace') = ?",
                (collection, key, chain_id, namespace),
            ).fetchone()
            held = max(held, int(row[0] or 0))
        return held

    def delivery_tx(self, delivery_id: str) -> str | None:
        for table in ("entries", "pending"):
            row = self._db.execute(
                f"SELECT tx_id FROM {table} WHERE delivery_id = ?", (delivery_id,)
            ).fetchone()
            if row is not None:
                return str(row[0])
        return None


def _entry_params(e: NewEntry) -> tuple[Any, ...]:
    return (
        e.tx_id,
        e.collection,
        e.key,
        e.schema,
        e.value,
        int(e.deleted),
        None if e.source is None else json.dumps(e.source, sort_keys=True),
        e.proof_digest,
        e.delivery_id,
    )


def _new_entry(r: tuple[Any, ...]) -> NewEntry:
    return NewEntry(
        tx_id=r[0],
        collection=r[1],
        key=r[2],
        schema=r[3],
        value=r[4],
        deleted=bool(r[5]),
        source=None if r[6] is None else json.loads(r[6]),
        proof_digest=r[7],
        delivery_id=r[8],
    )


def _entry(r: tuple[Any, ...]) -> Entry:
    return Entry(
        new=_new_entry(r[3:12]),
        block_height=int(r[0]),
        leaf_index=int(r[1]),
        version=int(r[2]),
        time_ms=int(r[12]),
    )


def _block(r: tuple[Any, ...]) -> StoredBlock:
    return StoredBlock(
        height=int(r[0]),
        header=bytes(r[1]),
        hash=bytes(r[2]),
        signatures=json.loads(r[3]),
        time_ms=int(r[4]),
    )
