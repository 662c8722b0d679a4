"""The audit log's tables in the SQLite store (migration 3): plain functions on a connection.

SqliteStore runs each on its writer connection, and `chain_all` inside a write
transaction, so an append reads the head and writes the next events atomically: the
chain cannot fork.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from tonglian.v1 import audit_pb2
from tonglian_proof.audit_hash import GENESIS, event_hash, time_us, timestamp_of

_COLUMNS = (
    "sequence, previous_hash, hash, time_us, principal, action, target, purpose, outcome, "
    "detail_json"
)

Row = tuple[int, bytes, bytes, int, str, str, str, str, str, str]


def _event(row: Row) -> audit_pb2.AuditEvent:
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


def append_batch(
    items: list[tuple[audit_pb2.AuditEvent, bytes | None]],
) -> Callable[[sqlite3.Connection], list[audit_pb2.AuditEvent]]:
    """Chains every draft of `items` in one transaction (the audit log's group commit).

    The commit is written to the WAL without waiting for the disk (synchronous=NORMAL
    for this transaction only): once COMMIT returns, the events survive the hub's
    death, SIGKILL included, since they are in the operating system's hands; the
    store syncs the WAL to the disk in the background (SqliteStore.audit_append).
    Nor does this COMMIT checkpoint the WAL (a checkpoint waits for the disk); the
    store's other commits, or its background sync, do. Every other transaction of
    the store keeps the connection's own settings.
    """

    def q(conn: sqlite3.Connection) -> list[audit_pb2.AuditEvent]:
        previous = int(conn.execute("PRAGMA synchronous").fetchone()[0])
        checkpoint_at = int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                events = chain_all(conn, items)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute(f"PRAGMA synchronous={previous}")
            conn.execute(f"PRAGMA wal_autocheckpoint={checkpoint_at}")
        return events

    return q


def chain_all(
    conn: sqlite3.Connection, items: Sequence[tuple[audit_pb2.AuditEvent, bytes | None]]
) -> list[audit_pb2.AuditEvent]:
    """Chains each draft of `items` onto the head, in order, inside the caller's
    transaction (which must hold the write lock), so events commit with the state
    changes they record. The head is read once and the events written in one statement
    (a group commit of 30 confirmations had made 60)."""
    if not items:
        return []
    row = conn.execute(
        "SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1"
    ).fetchone()
    sequence, previous = (0, GENESIS) if row is None else (int(row[0]), bytes(row[1]))
    events: list[audit_pb2.AuditEvent] = []
    for draft, _ in items:
        event = audit_pb2.AuditEvent()
        event.CopyFrom(draft)
        sequence += 1
        event.sequence = sequence
        event.previous_hash = previous
        event.hash = previous = event_hash(event)
        events.append(event)
    conn.executemany(
        f"INSERT INTO audit_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                e.sequence,
                e.previous_hash,
                e.hash,
                time_us(e.time),
                e.principal,
                e.action,
                e.target,
                e.purpose,
                e.outcome,
                e.detail_json,
            )
            for e in events
        ],
    )
    conn.executemany(
        "INSERT INTO predicate_evidence (audit_sequence, bundle) VALUES (?, ?)",
        [(e.sequence, ev) for e, (_, ev) in zip(events, items, strict=True) if ev is not None],
    )
    return events


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copies the WAL into the database (syncing the WAL first), without waiting for
    readers: what the audit commits leave to the background."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def head(conn: sqlite3.Connection) -> tuple[int, bytes]:
    row = conn.execute(
        "SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1"
    ).fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), bytes(row[1]))


def events(
    from_sequence: int, limit: int, principal: str = "", action: str = ""
) -> Callable[[sqlite3.Connection], list[audit_pb2.AuditEvent]]:
    def q(conn: sqlite3.Connection) -> list[audit_pb2.AuditEvent]:
        where, args = ["sequence >= ?"], [from_sequence]
        if principal:
            where.append("principal = ?")
            args.append(principal)  # type: ignore[arg-type]
        if action:
            where.append("action = ?")
            args.append(action)  # type: ignore[arg-type]
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM audit_events WHERE {' AND '.join(where)} "
            "ORDER BY sequence LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [_event(r) for r in rows]

    return q


def add_anchor(anchor: audit_pb2.AuditAnchor) -> Callable[[sqlite3.Connection], None]:
    def q(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO audit_anchors (sequence, head_hash, anchor) VALUES (?, ?, ?)",
            (anchor.sequence, anchor.head_hash, anchor.SerializeToString(deterministic=True)),
        )

    return q


def anchors(conn: sqlite3.Connection) -> list[audit_pb2.AuditAnchor]:
    rows = conn.execute("SELECT anchor FROM audit_anchors ORDER BY sequence").fetchall()
    return [audit_pb2.AuditAnchor.FromString(bytes(r[0])) for r in rows]


def evidence(sequence: int) -> Callable[[sqlite3.Connection], bytes | None]:
    def q(conn: sqlite3.Connection) -> bytes | None:
        row = conn.execute(
            "SELECT bundle FROM predicate_evidence WHERE audit_sequence = ?", (sequence,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    return q
