"""Which store a hub opens: SQLite in its data folder, or a shared PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

from hub.store.base import Store


def store_for(url: str, data_dir: Path, replica_id: str) -> Store:
    """The store `url` names (empty: SQLite in `data_dir`), not yet opened."""
    if url:
        from hub.store.postgres import PostgresStore  # asyncpg only when asked for

        return PostgresStore(url, replica_id)
    from hub.store.sqlite import SqliteStore

    return SqliteStore(data_dir / "hub.sqlite3", replica_id)
