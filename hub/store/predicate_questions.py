"""The store's record of yes/no questions asked: what the predicate budget counts.

A small method group of its own (one table, migration 4), so that a PostgreSQL
store can implement the same protocol beside its other tables.
"""

from __future__ import annotations

import sqlite3
from typing import Protocol

from hub.store.sqlite import SqliteStore


class PredicateQuestions(Protocol):
    async def record_within(
        self,
        agency: str,
        target: str,
        questions: list[tuple[str, str]],
        limit: int,
        since: float,
        now: float,
    ) -> tuple[str, int] | None:
        """Records `questions` ((field, question) pairs) about `target` as asked at `now`, unless
        a field would then have more than `limit` distinct questions asked after `since`: then
        records nothing and returns (that field, the questions it had). Atomic."""
        ...


class SqlitePredicateQuestions:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

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
            conn.execute("BEGIN IMMEDIATE")
            try:
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
                        conn.execute("ROLLBACK")
                        return field, len(asked)
                conn.executemany(
                    "INSERT INTO predicate_questions (agency, target, field, question, asked_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (agency, target, field, question)"
                    " DO UPDATE SET asked_at = excluded.asked_at"
                    " WHERE predicate_questions.asked_at <= ?",
                    [(agency, target, f, text, now, since) for f, text in questions],
                )
                conn.execute("COMMIT")
                return None
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        return await self._store.run(q)
