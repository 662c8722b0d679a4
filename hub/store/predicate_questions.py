"""The store's record of yes/no questions asked: what the predicate budget counts.

A small protocol of its own (one table, migration 4); each store implements it
beside its other tables.
"""

from __future__ import annotations

from typing import Protocol


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
