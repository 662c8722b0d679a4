"""SQLite store: the embedded default, one file in the hub's data folder.

sqlite3 calls block, so each connection (one for writes, one for reads) runs its calls
in a thread of its own (hub/store/sqlite_thread.py); WAL and `synchronous=FULL` make a
returned write survive a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from hub.audit import sqlite as audit_rows
from hub.errors import AlreadyExists, LeaseLost
from hub.store.base import (
    AuditAppend,
    BlockCommit,
    DeliveryUpdate,
    OneBlockCommit,
    TxStep,
    announce,
)
from hub.store.migrations import MIGRATIONS, statements
from hub.store.notifications import (
    ALL_CRLS,
    ALL_VERSIONS,
    BUMP_TRUST,
    CHAIN_WITH_VERSION,
    CRL_PREFIX,
    PUBLISH_CRL,
    TrustVersioned,
    TrustVersions,
)
from hub.store.relay_rows import (
    DELIVERY_COLUMNS,
    DELIVERY_TABLES,
    ROUTE_SELECT,
    UNFINISHED,
    Backlog,
    delivery_from_row,
    order_key,
    route_from_row,
    update_params,
)
from hub.store.sqlite_thread import ConnectionThread
from tonglian.v1 import audit_pb2, chains_pb2, relay_pb2

T = TypeVar("T")
Events = list[audit_pb2.AuditEvent]
# Seconds from an audit commit to the flush of the WAL to the disk, at most: a power
# loss or kernel crash can lose that window of audit events, a SIGKILL nothing.
WAL_SYNC_INTERVAL = 0.2
# Audit commits after which the background sync checkpoints the WAL (SQLite's own
# automatic checkpoint comes after 1000 pages; an audit commit writes one or two).
CHECKPOINT_AFTER = 500


class SqliteStore(OneBlockCommit, TrustVersioned):
    def __init__(self, path: Path, replica_id: str = "hub") -> None:
        self._path = path
        self._writer = ConnectionThread(self._connect, "sqlite-writer")
        # Reads have a connection of their own: in WAL mode they see every committed
        # write without queueing behind the writer's transaction and its disk flush
        # (the deliverer's rounds had waited ~20 ms a query for the writer's lock).
        self._reader = ConnectionThread(self._connect_reader, "sqlite-reader")
        self._replica_id = replica_id
        # One process writes this database: the trust versions it wrote are all there are.
        self._trust = TrustVersions(always_current=True)
        # Tells this process's lease from an earlier one of the same replica id.
        self._token = secrets.token_hex(8)
        self._wal_sync: asyncio.TimerHandle | None = None
        self._wal_syncing: set[asyncio.Task[None]] = set()
        # Audit commits since the WAL was last checkpointed by _start_wal_sync.
        self._audit_commits = 0

    @property
    def replica_id(self) -> str:
        return self._replica_id

    @property
    def path(self) -> Path:
        return self._path

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        await self._writer.open()
        await self._run(self._migrate)
        await self._run(_transaction(_submitted_due_now))
        await self._reader.open()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def _connect_reader(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._writer.call(fn)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A query that writes nothing, on the reader connection. It sees every write
        this store has returned from (each is committed before it returns)."""
        return await self._reader.call(fn)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Runs `fn` on the writer connection, in its thread, after the calls made before
        it: for a module that owns its own tables (the audit log, hub/audit/sqlite.py)."""
        return await self._run(fn)

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
                for statement in statements(version, sql, "sqlite"):
                    conn.execute(statement)
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

        def q(conn: sqlite3.Connection) -> int:
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
            return _bump_trust(conn, chain.chain_id)

        self._trust.heard(chain.chain_id, await self._run(_transaction(q)))

    async def get_chain(self, chain_id: str) -> chains_pb2.Chain | None:
        def q(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute(
                "SELECT chain FROM chains WHERE chain_id = ?", (chain_id,)
            ).fetchone()
            return None if row is None else bytes(row[0])

        data = await self._read(q)
        return None if data is None else chains_pb2.Chain.FromString(data)

    async def list_chains(self, after: str, limit: int) -> list[chains_pb2.Chain]:
        def q(conn: sqlite3.Connection) -> list[bytes]:
            rows = conn.execute(
                "SELECT chain FROM chains WHERE chain_id > ? ORDER BY chain_id LIMIT ?",
                (after, limit),
            ).fetchall()
            return [bytes(r[0]) for r in rows]

        return [chains_pb2.Chain.FromString(d) for d in await self._read(q)]

    async def remove_chain(self, chain_id: str) -> bool:
        def q(conn: sqlite3.Connection) -> int:
            cur = conn.execute("DELETE FROM chains WHERE chain_id = ?", (chain_id,))
            return _bump_trust(conn, chain_id) if cur.rowcount > 0 else 0

        version = await self._run(_transaction(q))
        self._trust.heard(chain_id, version)
        return version > 0

    async def chain_version(self, chain_id: str) -> tuple[chains_pb2.Chain | None, int]:
        def q(conn: sqlite3.Connection) -> tuple[bytes | None, int]:
            row = conn.execute(CHAIN_WITH_VERSION.format(p="?"), (chain_id,)).fetchone()
            if row is None:
                return None, 0
            return (None if row[1] is None else bytes(row[1])), int(row[0])

        data, version = await self._read(q)
        return (None if data is None else chains_pb2.Chain.FromString(data)), version

    async def trust_versions(self) -> dict[str, int]:
        def q(conn: sqlite3.Connection) -> dict[str, int]:
            return {str(r[0]): int(r[1]) for r in conn.execute(ALL_VERSIONS)}

        return await self._read(q)

    async def publish_crl(self, issuer: str, last_update: float, crl: bytes) -> bool:
        def q(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                PUBLISH_CRL.format(p1="?", p2="?", p3="?"), (issuer, last_update, crl)
            )
            return _bump_trust(conn, CRL_PREFIX + issuer) if cur.rowcount > 0 else 0

        version = await self._run(_transaction(q))
        self._trust.heard(CRL_PREFIX + issuer, version)
        return version > 0

    async def crls(self) -> list[bytes]:
        def q(conn: sqlite3.Connection) -> list[bytes]:
            return [bytes(r[0]) for r in conn.execute(ALL_CRLS)]

        return await self._read(q)

    # Relay: routes and deliveries.

    async def add_route(self, route: relay_pb2.Route) -> None:
        data = route.SerializeToString(deterministic=True)

        def q(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO routes (route_id, route, state, checkpoint_height,"
                    " checkpoint_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        route.route_id,
                        data,
                        route.state,
                        route.checkpoint_height,
                        route.checkpoint_block_hash,
                        time.time(),
                    ),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"route {route.route_id!r} exists already") from None

        await self._run(q)

    async def get_route(self, route_id: str) -> relay_pb2.Route | None:
        def q(conn: sqlite3.Connection) -> relay_pb2.Route | None:
            row = conn.execute(f"{ROUTE_SELECT} WHERE r.route_id = ?", (route_id,)).fetchone()
            return None if row is None else route_from_row(row, time.time())

        return await self._read(q)

    async def list_routes(self, after: str, limit: int) -> list[relay_pb2.Route]:
        def q(conn: sqlite3.Connection) -> list[relay_pb2.Route]:
            rows = conn.execute(
                f"{ROUTE_SELECT} WHERE r.route_id > ? ORDER BY r.route_id LIMIT ?",
                (after, limit),
            ).fetchall()
            now = time.time()
            return [route_from_row(r, now) for r in rows]

        return await self._read(q)

    async def set_route_state(self, route_id: str, state: int) -> bool:
        def q(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("UPDATE routes SET state = ? WHERE route_id = ?", (state, route_id))
            return cur.rowcount > 0

        return await self._run(q)

    async def delete_route(self, route_id: str) -> bool:
        """Deletes a route and its unconfirmed deliveries; confirmed ones stay as history."""

        def q(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute("DELETE FROM routes WHERE route_id = ?", (route_id,))
                conn.execute("DELETE FROM route_leases WHERE route_id = ?", (route_id,))
                conn.execute(
                    "DELETE FROM deliveries WHERE route_id = ? AND state != ?",
                    (route_id, relay_pb2.DELIVERY_STATE_CONFIRMED),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return cur.rowcount > 0

        return await self._run(q)

    async def commit_blocks(self, commits: Sequence[BlockCommit]) -> list[bool | LeaseLost]:
        """Every route's part of a block in one transaction; see `RouteStore.commit_blocks`."""
        if not commits:
            return []
        now = time.time()

        def q(conn: sqlite3.Connection) -> tuple[list[bool | LeaseLost], list[TxStep], Events]:
            # A few statements for the whole block, not four per route: every statement
            # hands the interpreter lock back and waits for it again, and with 20 routes
            # on a source the block's commit had waited for it some 80 times.
            route_ids = sorted({c.route_id for c in commits})
            marks = ",".join("?" * len(route_ids))
            epochs: dict[str, int] = dict(
                conn.execute(
                    f"SELECT route_id, epoch FROM route_leases WHERE route_id IN ({marks})",
                    route_ids,
                ).fetchall()
            )
            checkpoints: dict[str, tuple[int, bytes]] = {
                route_id: (height, block_hash)
                for route_id, height, block_hash in conn.execute(
                    "SELECT route_id, checkpoint_height, checkpoint_hash FROM routes"
                    f" WHERE route_id IN ({marks})",
                    route_ids,
                )
            }
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM deliveries").fetchone()[0]
            out: list[bool | LeaseLost] = []
            moved: list[tuple[int, bytes, str]] = []
            rows: list[tuple[object, ...]] = []
            records: list[tuple[str, bytes]] = []
            steps: list[TxStep] = []
            for c in commits:
                epoch = epochs.get(c.route_id)
                if c.lease_epoch is not None and epoch != c.lease_epoch:
                    out.append(_lease_lost(c.route_id, c.lease_epoch, epoch))
                    continue
                at = checkpoints.get(c.route_id)
                # Stored only by a route that exists and is not past the block already.
                if at is None or not (at[0] < c.height or at[1] == b""):
                    out.append(False)
                    continue
                checkpoints[c.route_id] = (c.height, c.block_hash)
                out.append(True)
                moved.append((c.height, c.block_hash, c.route_id))
                for d in c.deliveries:
                    seq += 1
                    rows.append(
                        (
                            d.delivery_id,
                            c.route_id,
                            d.state,
                            now,
                            d.last_error,
                            now,
                            now,
                            seq,
                            d.destination_chain_id,
                            order_key(d),
                            d.record.version,
                            d.rejection,
                        )
                    )
                    records.append((d.delivery_id, d.SerializeToString(deterministic=True)))
                steps += c.also
            conn.executemany(
                "UPDATE routes SET checkpoint_height = ?, checkpoint_hash = ? WHERE route_id = ?",
                moved,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO deliveries (delivery_id, route_id, state,"
                " attempts, next_attempt_at, last_error, created_at, updated_at, seq,"
                " destination_chain_id, order_key, version, rejection)"
                " VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO delivery_records (delivery_id, delivery) VALUES (?, ?)",
                records,
            )
            return out, steps, _chain_all(conn, steps)

        out, steps, events = await self._run(_transaction(q))
        announce(steps, events)
        return out

    async def due_deliveries(
        self, limit: int, exclude: set[str], resting: Collection[str] = ()
    ) -> list[relay_pb2.Delivery]:
        """Pending or submitted deliveries whose next attempt is due, oldest first.

        A delivery waits while an older version of its key (same order key) is not
        final, so versions reach the destination in source order; deliveries to a
        `resting` destination (being probed after a failure) are left out.
        """
        if limit <= 0:
            return []
        now = time.time()
        rest = sorted(resting)
        skip = sorted(exclude)

        def q(conn: sqlite3.Connection) -> list[relay_pb2.Delivery]:
            # The deliveries in hand are left out in SQL: reading their rows (records
            # and all) only to drop them cost more than the query.
            # The due ones are chosen on indexes alone (deliveries_due, deliveries_order),
            # and only the chosen rows are read, records and all.
            rows = conn.execute(
                f"SELECT {DELIVERY_COLUMNS} FROM (SELECT d.rowid AS id, d.seq"
                " FROM deliveries d WHERE state IN (?, ?) AND next_attempt_at <= ?"
                f" AND destination_chain_id NOT IN ({','.join('?' * len(rest))})"
                f" AND delivery_id NOT IN ({','.join('?' * len(skip))})"
                " AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE d.order_key != ''"
                " AND e.order_key = d.order_key AND e.state IN (?, ?)"
                " AND (e.version < d.version OR (e.version = d.version AND e.seq < d.seq)))"
                " ORDER BY d.seq LIMIT ?) due"
                " JOIN deliveries ON deliveries.rowid = due.id JOIN delivery_records"
                " ON delivery_records.delivery_id = deliveries.delivery_id ORDER BY due.seq",
                (*UNFINISHED, now, *rest, *skip, *UNFINISHED, limit),
            ).fetchall()
            return [delivery_from_row(r) for r in rows]

        return await self._read(q)

    async def next_due_at(self) -> float | None:
        """When the earliest unfinished delivery falls due (None: there is none)."""

        def q(conn: sqlite3.Connection) -> float | None:
            row = conn.execute(
                "SELECT MIN(next_attempt_at) FROM deliveries WHERE state IN (?, ?)", UNFINISHED
            ).fetchone()
            return None if row[0] is None else float(row[0])

        return await self._read(q)

    async def update_deliveries(self, updates: Sequence[DeliveryUpdate]) -> None:
        """Several state changes in one transaction, each with its audit event: all or
        none. (`claimed` needs no check here: one process is the only replica, so its
        claims cannot be taken over.)"""
        if not updates:
            return

        def q(conn: sqlite3.Connection) -> list[audit_pb2.AuditEvent]:
            now = time.time()
            conn.executemany(
                "UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?,"
                " last_error = ?, dest_tx_id = ?, dest_block_height = ?, updated_at = ?,"
                " rejection = ? WHERE delivery_id = ?",
                [update_params(u, now) for u in updates],
            )
            return _chain_all(conn, steps)

        steps = [step for u in updates for step in u.also]
        announce(steps, await self._run(_transaction(q)))

    async def get_delivery(self, delivery_id: str) -> relay_pb2.Delivery | None:
        def q(conn: sqlite3.Connection) -> relay_pb2.Delivery | None:
            row = conn.execute(
                f"SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_TABLES}"
                " WHERE deliveries.delivery_id = ?",
                (delivery_id,),
            ).fetchone()
            return None if row is None else delivery_from_row(row)

        return await self._read(q)

    async def list_deliveries(
        self, route_id: str, state: int, after_seq: int, limit: int
    ) -> list[tuple[int, relay_pb2.Delivery]]:
        """(seq, delivery) pairs in insertion order; empty route_id / state 0 mean any."""

        def q(conn: sqlite3.Connection) -> list[tuple[int, relay_pb2.Delivery]]:
            rows = conn.execute(
                f"SELECT {DELIVERY_COLUMNS}, seq FROM {DELIVERY_TABLES} WHERE seq > ?"
                " AND (? = '' OR route_id = ?) AND (? = 0 OR state = ?) ORDER BY seq LIMIT ?",
                (after_seq, route_id, route_id, state, state, limit),
            ).fetchall()
            return [(int(r[-1]), delivery_from_row(r[:-1])) for r in rows]

        return await self._read(q)

    async def backlog(self, route_id: str) -> Backlog:
        def q(conn: sqlite3.Connection) -> Backlog:
            counts = dict(
                conn.execute(
                    "SELECT state, COUNT(*) FROM deliveries WHERE route_id = ? GROUP BY state",
                    (route_id,),
                ).fetchall()
            )
            oldest = conn.execute(
                "SELECT MIN(created_at) FROM deliveries WHERE route_id = ? AND state IN (?, ?)",
                (route_id, relay_pb2.DELIVERY_STATE_PENDING, relay_pb2.DELIVERY_STATE_SUBMITTED),
            ).fetchone()[0]
            return Backlog(
                pending=counts.get(relay_pb2.DELIVERY_STATE_PENDING, 0),
                submitted=counts.get(relay_pb2.DELIVERY_STATE_SUBMITTED, 0),
                parked=counts.get(relay_pb2.DELIVERY_STATE_PARKED, 0),
                rejected=counts.get(relay_pb2.DELIVERY_STATE_REJECTED, 0),
                confirmed=counts.get(relay_pb2.DELIVERY_STATE_CONFIRMED, 0),
                oldest_pending_age=0.0 if oldest is None else max(0.0, time.time() - oldest),
            )

        return await self._read(q)

    async def count_deliveries(self) -> dict[int, int]:
        """Deliveries per state (for metrics and the status page)."""

        def q(conn: sqlite3.Connection) -> dict[int, int]:
            rows = conn.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
            return {int(k): int(v) for k, v in rows.fetchall()}

        return await self._read(q)

    async def recent_deliveries(self, limit: int) -> list[relay_pb2.Delivery]:
        """The last `limit` deliveries stored, newest first."""

        def q(conn: sqlite3.Connection) -> list[relay_pb2.Delivery]:
            rows = conn.execute(
                f"SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_TABLES} ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
            return [delivery_from_row(r) for r in rows]

        return await self._read(q)

    async def count_unconfirmed(self) -> int:
        def q(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT COUNT(*) FROM deliveries WHERE state IN (?, ?)",
                (relay_pb2.DELIVERY_STATE_PENDING, relay_pb2.DELIVERY_STATE_SUBMITTED),
            ).fetchone()
            return int(row[0])

        return await self._read(q)

    async def unconfirmed_by_route(self, route_ids: Collection[str]) -> dict[str, int]:
        ids = sorted(set(route_ids))
        if not ids:
            return {}

        def q(conn: sqlite3.Connection) -> dict[str, int]:
            got = dict(
                conn.execute(
                    "SELECT route_id, COUNT(*) FROM deliveries"
                    f" WHERE route_id IN ({','.join('?' * len(ids))}) AND state IN (?, ?)"
                    " GROUP BY route_id",
                    (*ids, *UNFINISHED),
                ).fetchall()
            )
            return {route_id: int(got.get(route_id, 0)) for route_id in ids}

        return await self._read(q)

    def on_delivery_changed(self, callback: Callable[[relay_pb2.Delivery], None]) -> None:
        """One process is the only writer: every change is already published locally."""

    # Leases (one replica, but the same rows and fence as with many).

    async def acquire_lease(self, route_id: str, ttl: float) -> int | None:
        token, holder = self._token, self._replica_id

        def q(conn: sqlite3.Connection) -> int | None:
            now = time.time()
            if (
                conn.execute("SELECT 1 FROM routes WHERE route_id = ?", (route_id,)).fetchone()
                is None
            ):
                return None  # deleted meanwhile: no lease on nothing
            row = conn.execute(
                "SELECT token, epoch, expires_at FROM route_leases WHERE route_id = ?",
                (route_id,),
            ).fetchone()
            if row is None:
                epoch = 1
                conn.execute(
                    "INSERT INTO route_leases (route_id, holder, token, epoch, expires_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (route_id, holder, token, epoch, now + ttl),
                )
                return epoch
            mine = row[0] == token  # this very process: a late renewal, not a takeover
            if not mine and float(row[2]) > now:
                return None
            epoch = int(row[1]) if mine else int(row[1]) + 1
            conn.execute(
                "UPDATE route_leases SET holder = ?, token = ?, epoch = ?, expires_at = ?"
                " WHERE route_id = ?",
                (holder, token, epoch, now + ttl, route_id),
            )
            return epoch

        return await self._run(_transaction(q))

    async def release_lease(self, route_id: str) -> None:
        def q(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE route_leases SET expires_at = 0 WHERE route_id = ? AND token = ?",
                (route_id, self._token),
            )

        await self._run(q)

    # The audit log (rows in hub/audit/sqlite.py).

    async def audit_append(self, steps: Sequence[AuditAppend]) -> list[audit_pb2.AuditEvent]:
        """One transaction written to the WAL without a disk flush (SIGKILL cannot lose
        it: it is the kernel's); the WAL reaches the disk within WAL_SYNC_INTERVAL."""
        append = audit_rows.append_batch([(step.draft, step.evidence) for step in steps])
        # In the event loop's thread when the writer is idle: without a disk flush or a
        # checkpoint this commit is a write to the page cache (0.15 ms), cheaper than the
        # hop to the writer's thread and back (1.1 -> 0.5 ms per audited call at load 4,
        # measured); in the writer's thread, after its calls, when it is busy.
        events = await self._writer.call_inline_if_idle(append)
        self._audit_commits += 1
        announce(steps, events)
        self._sync_wal_soon()
        return events

    def _sync_wal_soon(self) -> None:
        if self._wal_sync is None:
            loop = asyncio.get_running_loop()
            self._wal_sync = loop.call_later(WAL_SYNC_INTERVAL, self._start_wal_sync)

    def _start_wal_sync(self) -> None:
        self._wal_sync = None
        if self._audit_commits >= CHECKPOINT_AFTER and self._writer.is_open:
            # Audit commits never checkpoint (append_batch): the WAL is copied here,
            # which syncs it too, as the store's other commits would have.
            self._audit_commits = 0
            task = asyncio.ensure_future(self._run(audit_rows.checkpoint))
        else:
            task = asyncio.ensure_future(asyncio.to_thread(_fsync, f"{self._path}-wal"))
        self._wal_syncing.add(task)
        task.add_done_callback(self._wal_syncing.discard)

    async def audit_head(self) -> tuple[int, bytes]:
        return await self._run(audit_rows.head)

    async def audit_events(
        self, from_sequence: int, limit: int, principal: str = "", action: str = ""
    ) -> list[audit_pb2.AuditEvent]:
        return await self._run(audit_rows.events(from_sequence, limit, principal, action))

    async def audit_add_anchor(self, anchor: audit_pb2.AuditAnchor) -> None:
        await self._run(audit_rows.add_anchor(anchor))

    async def audit_anchors(self) -> list[audit_pb2.AuditAnchor]:
        return await self._run(audit_rows.anchors)

    async def audit_evidence(self, sequence: int) -> bytes | None:
        return await self._run(audit_rows.evidence(sequence))

    # The predicate budget.

    async def record_within(
        self,
        agency: str,
        target: str,
        questions: list[tuple[str, str]],
        limit: int,
        since: float,
        now: float,
    ) -> tuple[str, int] | None:
        def q(conn: sqlite3.Connection) -> tuple[str, int] | None:
            for field in dict.fromkeys(f for f, _ in questions):
                asked = {
                    row[0]
                    for row in conn.execute(
                        "SELECT question FROM predicate_questions WHERE agency = ?"
                        " AND target = ? AND field = ? AND asked_at > ?",
                        (agency, target, field, since),
                    )
                }
                new = {text for f, text in questions if f == field} - asked
                if new and len(asked) + len(new) > limit:
                    return field, len(asked)
            conn.executemany(
                "INSERT INTO predicate_questions (agency, target, field, question, asked_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (agency, target, field, question)"
                " DO UPDATE SET asked_at = excluded.asked_at"
                " WHERE predicate_questions.asked_at <= ?",
                [(agency, target, f, text, now, since) for f, text in questions],
            )
            return None

        return await self._run(_transaction(q))


def _submitted_due_now(conn: sqlite3.Connection) -> None:
    """Makes every submitted delivery due: the process that sent them, and its
    following of their destinations' final blocks, are gone (one process opens this
    store), so the deliverer asks about them at once, not after CONFIRM_FALLBACK."""
    now = time.time()
    conn.execute(
        "UPDATE deliveries SET next_attempt_at = ? WHERE state = ? AND next_attempt_at > ?",
        (now, relay_pb2.DELIVERY_STATE_SUBMITTED, now),
    )


def _lease_lost(route_id: str, epoch: int, now_epoch: int | None) -> LeaseLost:
    return LeaseLost(
        f"route {route_id}: lease epoch {epoch} was superseded by "
        f"{'none' if now_epoch is None else now_epoch}; another replica works it now"
    )


def _chain_all(
    conn: sqlite3.Connection, steps: Sequence[AuditAppend]
) -> list[audit_pb2.AuditEvent]:
    """Chains each step's event onto the audit log inside the caller's transaction (the
    caller announces them once it has committed)."""
    return audit_rows.chain_all(conn, [(step.draft, step.evidence) for step in steps])


def _transaction(fn: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
    """`fn` inside BEGIN IMMEDIATE ... COMMIT; rolled back when it raises."""

    def q(conn: sqlite3.Connection) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            out = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return out

    return q


def _bump_trust(conn: sqlite3.Connection, chain_id: str) -> int:
    return int(conn.execute(BUMP_TRUST.format(p="?"), (chain_id,)).fetchone()[0])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _fsync(path: str) -> None:
    """Flushes the WAL file to the disk (fsync covers every write to the file, whoever
    made it); a WAL already checkpointed away by a closing store needs nothing."""
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
