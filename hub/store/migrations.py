"""Schema migrations, in order; a store applies the ones its database has not seen.

Never edit a released migration: add the next one.
"""

from __future__ import annotations

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
]
