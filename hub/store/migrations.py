"""Schema migrations, in order; a store applies the ones its database has not seen.

One list for every backend: the SQL is written in the subset SQLite and PostgreSQL
share, with column types translated for PostgreSQL (`statements`) and, where a
backend needs more (a sequence), a per-dialect addition. Never edit a released
migration: add the next one.
"""

from __future__ import annotations

import re
from typing import Literal

Dialect = Literal["sqlite", "postgres"]

# SQLite column types -> PostgreSQL ones (whole words only).
_POSTGRES_TYPES = {"BLOB": "BYTEA", "REAL": "DOUBLE PRECISION", "INTEGER": "BIGINT"}
_TYPE_WORD = re.compile(r"\b(" + "|".join(_POSTGRES_TYPES) + r")\b")

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "chains",
        """
        CREATE TABLE chains (
            chain_id      TEXT PRIMARY KEY,
            kind          INTEGER NOT NULL,
            chain         BLOB NOT NULL,
            registered_at TEXT NOT NULL
        )
        """,
    ),
    (
        2,
        "relay: routes and deliveries",
        """
        CREATE TABLE routes (
            route_id          TEXT PRIMARY KEY,
            route             BLOB NOT NULL,
            state             INTEGER NOT NULL,
            checkpoint_height INTEGER NOT NULL,
            checkpoint_hash   BLOB NOT NULL,
            created_at        REAL NOT NULL
        );
        CREATE TABLE deliveries (
            delivery_id       TEXT PRIMARY KEY,
            route_id          TEXT NOT NULL,
            state             INTEGER NOT NULL,
            delivery          BLOB NOT NULL,
            attempts          INTEGER NOT NULL DEFAULT 0,
            next_attempt_at   REAL NOT NULL,
            last_error        TEXT NOT NULL DEFAULT '',
            dest_tx_id        TEXT NOT NULL DEFAULT '',
            dest_block_height INTEGER NOT NULL DEFAULT 0,
            created_at        REAL NOT NULL,
            updated_at        REAL NOT NULL,
            seq               INTEGER NOT NULL
        );
        CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
        CREATE INDEX deliveries_route ON deliveries (route_id, state, seq);
        """,
    ),
    (
        3,
        "audit: hash-chained events, their anchors, predicate evidence",
        """
        CREATE TABLE audit_events (
            sequence      INTEGER PRIMARY KEY,
            previous_hash BLOB NOT NULL,
            hash          BLOB NOT NULL,
            time_us       INTEGER NOT NULL,
            principal     TEXT NOT NULL,
            action        TEXT NOT NULL,
            target        TEXT NOT NULL,
            purpose       TEXT NOT NULL,
            outcome       TEXT NOT NULL,
            detail_json   TEXT NOT NULL
        );
        CREATE INDEX audit_events_principal ON audit_events (principal, sequence);
        CREATE INDEX audit_events_action ON audit_events (action, sequence);
        CREATE TABLE audit_anchors (
            sequence  INTEGER PRIMARY KEY,
            head_hash BLOB NOT NULL,
            anchor    BLOB NOT NULL
        );
        CREATE TABLE predicate_evidence (
            audit_sequence INTEGER PRIMARY KEY,
            bundle         BLOB NOT NULL
        );
        """,
    ),
    (
        4,
        "predicate budget: the distinct yes/no questions each agency asked",
        """
        CREATE TABLE predicate_questions (
            agency   TEXT NOT NULL,
            target   TEXT NOT NULL,
            field    TEXT NOT NULL,
            question TEXT NOT NULL,
            asked_at REAL NOT NULL,
            PRIMARY KEY (agency, target, field, question)
        );
        """,
    ),
    (
        5,
        "relay: per-key delivery order, destination backoff, rejections",
        """
        ALTER TABLE deliveries ADD COLUMN destination_chain_id TEXT NOT NULL DEFAULT '';
        ALTER TABLE deliveries ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
        ALTER TABLE deliveries ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE deliveries ADD COLUMN rejection INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX deliveries_order ON deliveries (order_key, state, version)
        """,
    ),
    (
        6,
        "replicas: route leases with a fencing epoch, delivery claims",
        """
        CREATE TABLE route_leases (
            route_id   TEXT PRIMARY KEY,
            holder     TEXT NOT NULL,
            token      TEXT NOT NULL,
            epoch      INTEGER NOT NULL,
            expires_at REAL NOT NULL
        );
        ALTER TABLE deliveries ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
        ALTER TABLE deliveries ADD COLUMN claim_epoch INTEGER NOT NULL DEFAULT 0
        """,
    ),
    (
        7,
        "relay: finding work reads indexes only, never the delivery rows' record blobs",
        # SQLite keeps a row's columns in order, and the record blob comes before seq,
        # created_at and the order columns: reading those from the row walks the blob's
        # overflow pages (64 of them for a 255 KiB record). MAX(seq) read every row.
        """
        CREATE INDEX deliveries_by_seq ON deliveries (seq);
        DROP INDEX deliveries_due;
        CREATE INDEX deliveries_due ON deliveries
            (state, next_attempt_at, destination_chain_id, order_key, version, seq);
        DROP INDEX deliveries_order;
        CREATE INDEX deliveries_order ON deliveries (order_key, state, version, seq);
        CREATE INDEX deliveries_age ON deliveries (route_id, state, created_at)
        """,
    ),
    (
        8,
        "relay: a delivery's record apart from its state",
        # Every state change rewrote the whole row, record and proof included (SQLite
        # writes a row anew, overflow pages and all: 255 KiB three times a delivery);
        # the record is written once now, and a state change writes a small row.
        """
        CREATE TABLE delivery_records (
            delivery_id TEXT PRIMARY KEY REFERENCES deliveries (delivery_id) ON DELETE CASCADE,
            delivery    BLOB NOT NULL
        );
        INSERT INTO delivery_records (delivery_id, delivery)
            SELECT delivery_id, delivery FROM deliveries;
        ALTER TABLE deliveries DROP COLUMN delivery
        """,
    ),
    (
        9,
        "replicas: a trust version per chain, bumped with every change of its trust",
        # Replicas cache registered chains; a cached copy is used only while its version
        # is the newest (hub/store/notifications.py). A removed chain keeps its row, so
        # registering it again counts on from there and never reuses an old version.
        """
        CREATE TABLE trust_versions (
            chain_id TEXT PRIMARY KEY,
            version  INTEGER NOT NULL
        );
        INSERT INTO trust_versions (chain_id, version) SELECT chain_id, 1 FROM chains
        """,
    ),
    (
        10,
        "replicas: the newest CRL of each client CA, which every replica follows",
        # A revocation loaded by one replica (its --crl file) reaches the others through
        # here; each checks the CA's signature itself. Its trust version is that of
        # 'crl:ISSUER' in trust_versions (no chain id holds a ':').
        """
        CREATE TABLE crls (
            issuer      TEXT PRIMARY KEY,
            last_update REAL NOT NULL,
            crl         BLOB NOT NULL
        )
        """,
    ),
]

# What one backend needs beyond the shared SQL of a migration (same version).
DIALECT_EXTRA: dict[tuple[Dialect, int], str] = {
    # Replicas insert deliveries concurrently: their order comes from a sequence,
    # not from MAX(seq) + 1 under SQLite's single writer.
    ("postgres", 6): "CREATE SEQUENCE deliveries_seq",
}


def statements(version: int, sql: str, dialect: Dialect) -> list[str]:
    """The statements of one migration for `dialect`, in order."""
    if dialect == "postgres":
        sql = _TYPE_WORD.sub(lambda m: _POSTGRES_TYPES[m.group(1)], sql)
    sql += ";" + DIALECT_EXTRA.get((dialect, version), "")
    return [s.strip() for s in sql.split(";") if s.strip()]
