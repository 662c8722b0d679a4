"""PostgreSQL store: one database shared by any number of hub replicas (asyncpg).

What SQLite gets from having one writer, this store gets from the database:
migrations run under an advisory lock (replicas starting together on an empty
database apply each once); route leases carry a fencing epoch that every commit of
the route checks in its own transaction; deliveries are claimed with
`FOR UPDATE SKIP LOCKED`; audit appends take a transaction-scoped advisory lock,
so the hash chain has one total order across replicas. Lease times come from the
database's clock, so replicas' clocks need not agree. A delivery moved by one
replica is announced with NOTIFY, so every replica's watchers see it; so is every
change of a chain's trust, which the listener also polls for (TrustVersions).

A database that cannot be reached (restart, failover) surfaces as
StoreUnavailable (UNAVAILABLE); the pool reconnects on the next call, and the
listener reconnects by itself with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from hub.errors import AlreadyExists, LeaseLost, StoreUnavailable
from hub.store.base import AuditAppend, BlockCommit, DeliveryUpdate, OneBlockCommit, announce
from hub.store.migrations import MIGRATIONS, statements
from hub.store.notifications import (
    ALL_CRLS,
    ALL_VERSIONS,
    BUMP_TRUST,
    CHAIN_WITH_VERSION,
    CRL_PREFIX,
    FRESHNESS_BOUND,
    POLL_INTERVAL,
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
from tonglian.v1 import audit_pb2, chains_pb2, relay_pb2
from tonglian_proof.audit_hash import GENESIS, event_hash, time_us, timestamp_of

log = logging.getLogger("tonglian.store")

# Advisory lock keys (any fixed 64-bit numbers; "tonglian" in ASCII, then 1, 2).
MIGRATION_LOCK = 0x746F6E676C69616E
AUDIT_LOCK = 0x746F6E676C69616E + 1
# The NOTIFY channel of delivery changes; payload "TOKEN DELIVERY_ID".
DELIVERY_CHANNEL = "tonglian_delivery"
# The NOTIFY channel of changes of a chain's trust; payload "CHAIN_ID VERSION".
TRUST_CHANNEL = "tonglian_trust"
# PostgreSQL text holds no NUL: order keys join their parts with US instead.
UNIT_SEPARATOR = "\x1f"
# How long `open` waits for the database to answer before giving up.
OPEN_TIMEOUT = 30.0
NOW = "EXTRACT(EPOCH FROM clock_timestamp())::float8"
# Driver failures that mean "the database is not there right now", not a bug.
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.LockNotAvailableError,
    asyncpg.exceptions.IdleInTransactionSessionTimeoutError,
    # Raised by the driver when a connection the server dropped is handed back to the
    # pool mid-operation ("cannot switch to state 15; another operation (2) is in
    # progress", seen after a restart); the pool discards that connection.
    asyncpg.InternalClientError,
)
# A replica paused (SIGSTOP, GC, a partition) inside a transaction would hold its locks
# (the route's lease row, the audit lock) and stall every other replica: the server
# ends such a session well within the lease TTL, and no statement waits forever.
SESSION_SETTINGS = {"idle_in_transaction_session_timeout": "2000", "lock_timeout": "10000"}
_AUDIT_COLUMNS = (
    "sequence, previous_hash, hash, time_us, principal, action, target, purpose, outcome, "
    "detail_json"
)


def unavailable(exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(
        f"the hub's PostgreSQL store cannot be reached ({type(exc).__name__}: {exc}); "
        "try again shortly"
    )


class PostgresStore(OneBlockCommit, TrustVersioned):
    def __init__(self, url: str, replica_id: str, pool_size: int = 10) -> None:
        self._url = url
        self._replica_id = replica_id
        self._token = secrets.token_hex(8)
        # The lease epoch this process last acquired, by route.
        self._held: dict[str, int] = {}
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._listeners: list[Callable[[relay_pb2.Delivery], None]] = []
        self._listen_task: asyncio.Task[None] | None = None
        # Kept current by the listener: NOTIFY, and a poll that also proves it alive.
        self._trust = TrustVersions()

    @property
    def replica_id(self) -> str:
        return self._replica_id

    async def open(self) -> None:
        deadline = time.monotonic() + OPEN_TIMEOUT
        delay = 0.2
        while True:
            try:
                self._pool = await asyncpg.create_pool(
                    self._url,
                    min_size=1,
                    max_size=self._pool_size,
                    command_timeout=60,
                    server_settings=SESSION_SETTINGS,
                )
                break
            except TRANSIENT as exc:
                if time.monotonic() + delay > deadline:
                    raise unavailable(exc) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        await self._migrate()
        self._listen_task = asyncio.create_task(self._listen(), name="store notifications")

    async def close(self) -> None:
        if self._listen_task is not None:
            self._listen_task.cancel()
            await asyncio.gather(self._listen_task, return_exceptions=True)
            self._listen_task = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            raise RuntimeError("store is not open")
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except TRANSIENT as exc:
            raise unavailable(exc) from exc

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._conn() as conn, conn.transaction():
            yield conn

    async def _migrate(self) -> None:
        async with self._conn() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                for version, name, sql in MIGRATIONS:
                    if version in done:
                        continue
                    async with conn.transaction():
                        for statement in statements(version, sql, "postgres"):
                            await conn.execute(statement)
                        await conn.execute(
                            "INSERT INTO schema_migrations VALUES ($1, $2, $3)",
                            version,
                            name,
                            datetime.now(UTC).isoformat(timespec="milliseconds"),
                        )
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

    async def schema_version(self) -> int:
        async with self._conn() as conn:
            version = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        return int(version)

    # Chains.

    async def add_chain(self, chain: chains_pb2.Chain) -> None:
        data = chain.SerializeToString(deterministic=True)
        try:
            async with self._tx() as conn:
                await conn.execute(
                    "INSERT INTO chains (chain_id, kind, chain, registered_at)"
                    " VALUES ($1, $2, $3, $4)",
                    chain.chain_id,
                    chain.kind,
                    data,
                    datetime.now(UTC).isoformat(timespec="milliseconds"),
                )
                version = await _bump_trust(conn, chain.chain_id)
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(
                f"chain {chain.chain_id!r} is already registered; remove it first "
                "or choose another chain id"
            ) from None
        self._trust.heard(chain.chain_id, version)

    async def get_chain(self, chain_id: str) -> chains_pb2.Chain | None:
        async with self._conn() as conn:
            data = await conn.fetchval("SELECT chain FROM chains WHERE chain_id = $1", chain_id)
        return None if data is None else chains_pb2.Chain.FromString(bytes(data))

    async def list_chains(self, after: str, limit: int) -> list[chains_pb2.Chain]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT chain FROM chains WHERE chain_id > $1 ORDER BY chain_id LIMIT $2",
                after,
                limit,
            )
        return [chains_pb2.Chain.FromString(bytes(r[0])) for r in rows]

    async def remove_chain(self, chain_id: str) -> bool:
        async with self._tx() as conn:
            done = await conn.execute("DELETE FROM chains WHERE chain_id = $1", chain_id)
            version = await _bump_trust(conn, chain_id) if _count(done) > 0 else 0
        self._trust.heard(chain_id, version)
        return version > 0

    async def chain_version(self, chain_id: str) -> tuple[chains_pb2.Chain | None, int]:
        async with self._conn() as conn:
            row = await conn.fetchrow(CHAIN_WITH_VERSION.format(p="$1"), chain_id)
        if row is None:
            return None, 0
        chain = None if row[1] is None else chains_pb2.Chain.FromString(bytes(row[1]))
        return chain, int(row[0])

    async def trust_versions(self) -> dict[str, int]:
        async with self._conn() as conn:
            rows = await conn.fetch(ALL_VERSIONS)
        return {str(r[0]): int(r[1]) for r in rows}

    async def publish_crl(self, issuer: str, last_update: float, crl: bytes) -> bool:
        async with self._tx() as conn:
            done = await conn.execute(
                PUBLISH_CRL.format(p1="$1", p2="$2", p3="$3"), issuer, last_update, crl
            )
            stored = _count(done) > 0
            version = await _bump_trust(conn, CRL_PREFIX + issuer) if stored else 0
        self._trust.heard(CRL_PREFIX + issuer, version)
        return stored

    async def crls(self) -> list[bytes]:
        async with self._conn() as conn:
            rows = await conn.fetch(ALL_CRLS)
        return [bytes(r[0]) for r in rows]

    # Routes.

    async def add_route(self, route: relay_pb2.Route) -> None:
        try:
            async with self._conn() as conn:
                await conn.execute(
                    "INSERT INTO routes (route_id, route, state, checkpoint_height,"
                    " checkpoint_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    route.route_id,
                    route.SerializeToString(deterministic=True),
                    route.state,
                    route.checkpoint_height,
                    route.checkpoint_block_hash,
                    time.time(),
                )
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(f"route {route.route_id!r} exists already") from None

    async def get_route(self, route_id: str) -> relay_pb2.Route | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(f"{ROUTE_SELECT} WHERE r.route_id = $1", route_id)
            now = await conn.fetchval(f"SELECT {NOW}")
        return None if row is None else route_from_row(row, now)

    async def list_routes(self, after: str, limit: int) -> list[relay_pb2.Route]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"{ROUTE_SELECT} WHERE r.route_id > $1 ORDER BY r.route_id LIMIT $2", after, limit
            )
            now = await conn.fetchval(f"SELECT {NOW}")
        return [route_from_row(r, now) for r in rows]

    async def set_route_state(self, route_id: str, state: int) -> bool:
        async with self._conn() as conn:
            done = await conn.execute(
                "UPDATE routes SET state = $1 WHERE route_id = $2", state, route_id
            )
        return _count(done) > 0

    async def delete_route(self, route_id: str) -> bool:
        async with self._tx() as conn:
            done = await conn.execute("DELETE FROM routes WHERE route_id = $1", route_id)
            await conn.execute("DELETE FROM route_leases WHERE route_id = $1", route_id)
            await conn.execute(
                "DELETE FROM deliveries WHERE route_id = $1 AND state != $2",
                route_id,
                relay_pb2.DELIVERY_STATE_CONFIRMED,
            )
        return _count(done) > 0

    async def commit_blocks(self, commits: Sequence[BlockCommit]) -> list[bool | LeaseLost]:
        """Every route's part of a block in one transaction; see `RouteStore.commit_blocks`.
        Lease rows are locked in route order, so two replicas' transactions cannot
        deadlock on them."""
        if not commits:
            return []
        now = time.time()
        out: list[bool | LeaseLost] = [False] * len(commits)
        async with self._tx() as conn:
            for i in sorted(range(len(commits)), key=lambda i: commits[i].route_id):
                c = commits[i]
                if c.lease_epoch is not None:
                    lost = await _fence(conn, c.route_id, c.lease_epoch)
                    if lost is not None:
                        out[i] = lost
                        continue
                done = await conn.execute(
                    "UPDATE routes SET checkpoint_height = $1, checkpoint_hash = $2 WHERE"
                    " route_id = $3 AND (checkpoint_height < $1 OR checkpoint_hash = ''::bytea)",
                    c.height,
                    c.block_hash,
                    c.route_id,
                )
                if _count(done) == 0:
                    continue
                out[i] = True
                if c.deliveries:
                    await conn.executemany(
                        "INSERT INTO deliveries (delivery_id, route_id, state,"
                        " attempts, next_attempt_at, last_error, created_at, updated_at, seq,"
                        " destination_chain_id, order_key, version, rejection)"
                        " VALUES ($1, $2, $3, 0, $4, $5, $4, $4, nextval('deliveries_seq'),"
                        " $6, $7, $8, $9) ON CONFLICT (delivery_id) DO NOTHING",
                        [
                            (
                                d.delivery_id,
                                c.route_id,
                                d.state,
                                now,
                                d.last_error,
                                d.destination_chain_id,
                                order_key(d).replace("\x00", UNIT_SEPARATOR),
                                d.record.version,
                                d.rejection,
                            )
                            for d in c.deliveries
                        ],
                    )
                    await conn.executemany(
                        "INSERT INTO delivery_records (delivery_id, delivery) VALUES ($1, $2)"
                        " ON CONFLICT (delivery_id) DO NOTHING",
                        [
                            (d.delivery_id, d.SerializeToString(deterministic=True))
                            for d in c.deliveries
                        ],
                    )
            # The audit events last, in the commits' order (one audit lock, held to the end).
            steps = [s for c, ok in zip(commits, out, strict=True) if ok is True for s in c.also]
            events = await _chain_all(conn, steps)
        announce(steps, events)
        return out

    # Leases.

    async def acquire_lease(self, route_id: str, ttl: float) -> int | None:
        async with self._conn() as conn:
            epoch = await conn.fetchval(
                "INSERT INTO route_leases AS l (route_id, holder, token, epoch, expires_at)"
                f" SELECT $1, $2, $3, 1, {NOW} + $4"
                " WHERE EXISTS (SELECT 1 FROM routes WHERE route_id = $1)"
                " ON CONFLICT (route_id) DO UPDATE SET holder = excluded.holder,"
                " token = excluded.token, expires_at = excluded.expires_at,"
                " epoch = CASE WHEN l.token = excluded.token THEN l.epoch ELSE l.epoch + 1 END"
                f" WHERE l.token = excluded.token OR l.expires_at <= {NOW}"
                " RETURNING epoch",
                route_id,
                self._replica_id,
                self._token,
                float(ttl),
            )
            if epoch is None:
                return None
            if self._held.get(route_id) != epoch:
                # Taken (a start, a takeover): the route's submitted deliveries were sent
                # by a process that no longer follows their destinations' final blocks;
                # this one asks about them at once, not after CONFIRM_FALLBACK.
                await conn.execute(
                    "UPDATE deliveries SET next_attempt_at = $1"
                    " WHERE route_id = $2 AND state = $3 AND next_attempt_at > $1",
                    time.time(),
                    route_id,
                    relay_pb2.DELIVERY_STATE_SUBMITTED,
                )
                self._held[route_id] = int(epoch)
        return int(epoch)

    async def release_lease(self, route_id: str) -> None:
        async with self._conn() as conn:
            await conn.execute(
                "UPDATE route_leases SET expires_at = 0 WHERE route_id = $1 AND token = $2",
                route_id,
                self._token,
            )

    # Deliveries.

    async def due_deliveries(
        self, limit: int, exclude: set[str], resting: Collection[str] = ()
    ) -> list[relay_pb2.Delivery]:
        if limit <= 0:
            return []
        async with self._tx() as conn:
            rows = await conn.fetch(
                "WITH c AS (SELECT d.delivery_id, l.epoch FROM deliveries d"
                " JOIN route_leases l ON l.route_id = d.route_id"
                f" WHERE l.token = $1 AND l.expires_at > {NOW}"
                " AND d.state = ANY($2::bigint[]) AND d.next_attempt_at <= $3"
                " AND NOT (d.destination_chain_id = ANY($4::text[]))"
                " AND NOT (d.delivery_id = ANY($5::text[]))"
                " AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE d.order_key != ''"
                " AND e.order_key = d.order_key AND e.state = ANY($2::bigint[])"
                " AND (e.version < d.version OR (e.version = d.version AND e.seq < d.seq)))"
                " ORDER BY d.seq LIMIT $6 FOR UPDATE OF d SKIP LOCKED)"
                " UPDATE deliveries SET claimed_by = $1, claim_epoch = c.epoch"
                " FROM c, delivery_records WHERE deliveries.delivery_id = c.delivery_id"
                " AND delivery_records.delivery_id = deliveries.delivery_id"
                f" RETURNING {DELIVERY_COLUMNS}, deliveries.seq",
                self._token,
                list(UNFINISHED),
                time.time(),
                sorted(resting),
                sorted(exclude),
                limit,
            )
        rows = sorted(rows, key=lambda r: r[-1])
        return [delivery_from_row(r[:-1]) for r in rows]

    async def next_due_at(self) -> float | None:
        async with self._conn() as conn:
            due = await conn.fetchval(
                "SELECT MIN(next_attempt_at) FROM deliveries WHERE state = ANY($1::bigint[])",
                list(UNFINISHED),
            )
        return None if due is None else float(due)

    async def update_deliveries(self, updates: Sequence[DeliveryUpdate]) -> None:
        """Several state changes in one transaction, each with its audit event, every
        claimed one fenced: all or none."""
        if not updates:
            return
        async with self._tx() as conn:
            await self._check_claims(conn, [u.delivery_id for u in updates if u.claimed])
            now = time.time()
            await conn.executemany(
                "UPDATE deliveries SET state = $1, attempts = $2, next_attempt_at = $3,"
                " last_error = $4, dest_tx_id = $5, dest_block_height = $6, updated_at = $7,"
                " rejection = $8 WHERE delivery_id = $9",
                [update_params(u, now) for u in updates],
            )
            steps = [step for u in updates for step in u.also]
            events = await _chain_all(conn, steps)
            await conn.executemany(
                "SELECT pg_notify($1, $2)",
                [(DELIVERY_CHANNEL, f"{self._token} {u.delivery_id}") for u in updates],
            )
        announce(steps, events)

    async def _check_claims(self, conn: asyncpg.Connection, delivery_ids: list[str]) -> None:
        """The fence of deliveries: this replica claimed each under its route lease's
        current epoch (the lease rows stay locked until the commit, taken in route
        order so that two replicas' transactions cannot deadlock on them)."""
        if not delivery_ids:
            return
        rows = {
            r[0]: r
            for r in await conn.fetch(
                "SELECT delivery_id, route_id, claimed_by, claim_epoch FROM deliveries"
                " WHERE delivery_id = ANY($1::text[])",
                delivery_ids,
            )
        }
        for delivery_id in delivery_ids:
            if delivery_id not in rows:
                raise LeaseLost(f"delivery {delivery_id} is gone (its route was deleted)")
        epochs = {
            r[0]: r[1]
            for r in await conn.fetch(
                "SELECT route_id, epoch FROM route_leases WHERE route_id = ANY($1::text[])"
                " ORDER BY route_id FOR UPDATE",
                sorted({r[1] for r in rows.values()}),
            )
        }
        for delivery_id in delivery_ids:
            _, route_id, claimed_by, claim_epoch = rows[delivery_id]
            epoch = epochs.get(route_id)
            if claimed_by != self._token:
                raise LeaseLost(
                    f"delivery {delivery_id} was taken over by another replica "
                    f"(route {route_id} at lease epoch {epoch})"
                )
            if epoch != claim_epoch:
                raise LeaseLost(
                    f"delivery {delivery_id} was claimed under lease epoch {claim_epoch} of "
                    f"route {route_id}, now at epoch {epoch}: another replica works it"
                )

    async def get_delivery(self, delivery_id: str) -> relay_pb2.Delivery | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(
                f"SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_TABLES}"
                " WHERE deliveries.delivery_id = $1",
                delivery_id,
            )
        return None if row is None else delivery_from_row(row)

    async def list_deliveries(
        self, route_id: str, state: int, after_seq: int, limit: int
    ) -> list[tuple[int, relay_pb2.Delivery]]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {DELIVERY_COLUMNS}, seq FROM {DELIVERY_TABLES} WHERE seq > $1"
                " AND ($2 = '' OR route_id = $2) AND ($3 = 0 OR state = $3)"
                " ORDER BY seq LIMIT $4",
                after_seq,
                route_id,
                state,
                limit,
            )
        return [(int(r[-1]), delivery_from_row(r[:-1])) for r in rows]

    async def backlog(self, route_id: str) -> Backlog:
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT state, COUNT(*) FROM deliveries WHERE route_id = $1 GROUP BY state",
                route_id,
            )
            oldest = await conn.fetchval(
                "SELECT MIN(created_at) FROM deliveries WHERE route_id = $1"
                " AND state = ANY($2::bigint[])",
                route_id,
                list(UNFINISHED),
            )
        counts = {int(r[0]): int(r[1]) for r in rows}
        return Backlog(
            pending=counts.get(relay_pb2.DELIVERY_STATE_PENDING, 0),
            submitted=counts.get(relay_pb2.DELIVERY_STATE_SUBMITTED, 0),
            parked=counts.get(relay_pb2.DELIVERY_STATE_PARKED, 0),
            rejected=counts.get(relay_pb2.DELIVERY_STATE_REJECTED, 0),
            confirmed=counts.get(relay_pb2.DELIVERY_STATE_CONFIRMED, 0),
            oldest_pending_age=0.0 if oldest is None else max(0.0, time.time() - oldest),
        )

    async def count_deliveries(self) -> dict[int, int]:
        async with self._conn() as conn:
            rows = await conn.fetch("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
        return {int(r[0]): int(r[1]) for r in rows}

    async def recent_deliveries(self, limit: int) -> list[relay_pb2.Delivery]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_TABLES} ORDER BY seq DESC LIMIT $1",
                limit,
            )
        return [delivery_from_row(r) for r in rows]

    async def count_unconfirmed(self) -> int:
        async with self._conn() as conn:
            n = await conn.fetchval(
                "SELECT COUNT(*) FROM deliveries WHERE state = ANY($1::bigint[])",
                list(UNFINISHED),
            )
        return int(n)

    async def unconfirmed_by_route(self, route_ids: Collection[str]) -> dict[str, int]:
        ids = sorted(set(route_ids))
        if not ids:
            return {}
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT route_id, COUNT(*) FROM deliveries WHERE route_id = ANY($1::text[])"
                " AND state = ANY($2::bigint[]) GROUP BY route_id",
                ids,
                list(UNFINISHED),
            )
        got = {str(r[0]): int(r[1]) for r in rows}
        return {route_id: got.get(route_id, 0) for route_id in ids}

    def on_delivery_changed(self, callback: Callable[[relay_pb2.Delivery], None]) -> None:
        self._listeners.append(callback)

    async def _listen(self) -> None:
        """LISTENs on its own connection, reconnecting with backoff when it drops; reads
        every trust version each POLL_INTERVAL on it, which proves the connection alive
        and catches a change whose notification was lost."""
        delay = 0.2
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._url, timeout=FRESHNESS_BOUND * 5)
                lost = asyncio.Event()
                conn.add_termination_listener(functools.partial(_set, lost))
                await conn.add_listener(DELIVERY_CHANNEL, self._notified)
                await conn.add_listener(TRUST_CHANNEL, self._trust_notified)
                delay = 0.2
                while not lost.is_set():
                    started = time.monotonic()
                    rows = await conn.fetch(ALL_VERSIONS, timeout=FRESHNESS_BOUND)
                    self._trust.confirmed(started, {str(r[0]): int(r[1]) for r in rows})
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), POLL_INTERVAL)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: back off, then listen again
                log.warning("store notifications: %s; reconnecting in %.1fs", exc, delay)
            finally:
                self._trust.lost()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _trust_notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        chain_id, _, version = str(payload).rpartition(" ")
        with contextlib.suppress(ValueError):
            self._trust.heard(chain_id, int(version))

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        token, _, delivery_id = str(payload).partition(" ")
        if token != self._token and self._listeners:
            task = asyncio.ensure_future(self._announce(delivery_id))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _announce(self, delivery_id: str) -> None:
        d = await self.get_delivery(delivery_id)
        if d is not None:
            for callback in self._listeners:
                callback(d)

    # The audit log.

    async def audit_append(self, steps: Sequence[AuditAppend]) -> list[audit_pb2.AuditEvent]:
        async with self._tx() as conn:
            events = await _chain_all(conn, steps)
        announce(steps, events)
        return events

    async def audit_head(self) -> tuple[int, bytes]:
        async with self._conn() as conn:
            row = await conn.fetchrow(
                "SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1"
            )
        return (0, GENESIS) if row is None else (int(row[0]), bytes(row[1]))

    async def audit_events(
        self, from_sequence: int, limit: int, principal: str = "", action: str = ""
    ) -> list[audit_pb2.AuditEvent]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_events WHERE sequence >= $1"
                " AND ($2 = '' OR principal = $2) AND ($3 = '' OR action = $3)"
                " ORDER BY sequence LIMIT $4",
                from_sequence,
                principal,
                action,
                limit,
            )
        return [_event(r) for r in rows]

    async def audit_add_anchor(self, anchor: audit_pb2.AuditAnchor) -> None:
        async with self._conn() as conn:
            await conn.execute(
                "INSERT INTO audit_anchors (sequence, head_hash, anchor) VALUES ($1, $2, $3)"
                " ON CONFLICT (sequence) DO UPDATE SET head_hash = excluded.head_hash,"
                " anchor = excluded.anchor",
                anchor.sequence,
                anchor.head_hash,
                anchor.SerializeToString(deterministic=True),
            )

    async def audit_anchors(self) -> list[audit_pb2.AuditAnchor]:
        async with self._conn() as conn:
            rows = await conn.fetch("SELECT anchor FROM audit_anchors ORDER BY sequence")
        return [audit_pb2.AuditAnchor.FromString(bytes(r[0])) for r in rows]

    async def audit_evidence(self, sequence: int) -> bytes | None:
        async with self._conn() as conn:
            data = await conn.fetchval(
                "SELECT bundle FROM predicate_evidence WHERE audit_sequence = $1", sequence
            )
        return None if data is None else bytes(data)

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
        async with self._tx() as conn:
            # One agency's questions about one target are counted one replica at a time.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", agency, target
            )
            for field in dict.fromkeys(f for f, _ in questions):
                rows = await conn.fetch(
                    "SELECT question FROM predicate_questions WHERE agency = $1"
                    " AND target = $2 AND field = $3 AND asked_at > $4",
                    agency,
                    target,
                    field,
                    since,
                )
                asked = {r[0] for r in rows}
                new = {text for f, text in questions if f == field} - asked
                if new and len(asked) + len(new) > limit:
                    return field, len(asked)
            await conn.executemany(
                "INSERT INTO predicate_questions (agency, target, field, question, asked_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (agency, target, field, question)"
                " DO UPDATE SET asked_at = excluded.asked_at"
                " WHERE predicate_questions.asked_at <= $6",
                [(agency, target, f, text, now, since) for f, text in questions],
            )
            return None


async def _fence(conn: asyncpg.Connection, route_id: str, epoch: int) -> LeaseLost | None:
    """None while the route's lease still has `epoch`, else the refusal; the lease row
    stays locked until the commit, so a takeover waits for it (or it for the takeover)."""
    current = await conn.fetchval(
        "SELECT epoch FROM route_leases WHERE route_id = $1 FOR UPDATE", route_id
    )
    if current != epoch:
        return LeaseLost(
            f"route {route_id}: lease epoch {epoch} was superseded by "
            f"{'none' if current is None else current}; another replica works it now"
        )
    return None


async def _chain_all(
    conn: asyncpg.Connection, steps: Sequence[AuditAppend]
) -> list[audit_pb2.AuditEvent]:
    """Chains each step's event onto the audit log inside the caller's transaction,
    under the audit lock (held to the commit): one total order across replicas. The
    caller announces them once it has committed."""
    if not steps:
        return []
    await conn.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_LOCK)
    row = await conn.fetchrow(
        "SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1"
    )
    sequence, previous = (0, GENESIS) if row is None else (int(row[0]), bytes(row[1]))
    out = []
    for step in steps:
        event = audit_pb2.AuditEvent()
        event.CopyFrom(step.draft)
        event.sequence = sequence + 1
        event.previous_hash = previous
        event.hash = event_hash(event)
        await conn.execute(
            f"INSERT INTO audit_events ({_AUDIT_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            event.sequence,
            event.previous_hash,
            event.hash,
            time_us(event.time),
            event.principal,
            event.action,
            event.target,
            event.purpose,
            event.outcome,
            event.detail_json,
        )
        if step.evidence is not None:
            await conn.execute(
                "INSERT INTO predicate_evidence (audit_sequence, bundle) VALUES ($1, $2)",
                event.sequence,
                step.evidence,
            )
        sequence, previous = event.sequence, event.hash
        out.append(event)
    return out


def _event(row: Any) -> audit_pb2.AuditEvent:
    return audit_pb2.AuditEvent(
        sequence=row[0],
        previous_hash=bytes(row[1]),
        hash=bytes(row[2]),
        time=timestamp_of(row[3]),
        principal=row[4],
        action=row[5],
        target=row[6],
        purpose=row[7],
        outcome=row[8],
        detail_json=row[9],
    )


async def _bump_trust(conn: asyncpg.Connection, chain_id: str) -> int:
    """Bumps the chain's trust version and announces it at commit (NOTIFY is
    transactional: a rolled back change is never announced)."""
    version = int(await conn.fetchval(BUMP_TRUST.format(p="$1"), chain_id))
    await conn.execute("SELECT pg_notify($1, $2)", TRUST_CHANNEL, f"{chain_id} {version}")
    return version


def _set(event: asyncio.Event, _conn: object) -> None:
    event.set()


def _count(status: str) -> int:
    """The row count of a command status such as 'UPDATE 3'."""
    return int(status.rsplit(" ", 1)[-1])
