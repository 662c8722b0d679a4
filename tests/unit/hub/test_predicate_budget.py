"""The predicate budget counts distinct questions per agency, record and field, in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import PermissionDenied
from hub.policy import PredicateLimits
from hub.predicate_budget import PredicateBudget, Question, check_limits
from hub.store.sqlite import SqliteStore
from tonglian.v1 import query_pb2

Op = query_pb2.PredicateOperator
LIMITS = PredicateLimits(per_field_per_day=2)


def ask(field: str, n: int) -> list[Question]:
    return [Question(field, f"{field} < {n}")]


async def test_distinct_questions_are_counted_per_field_and_survive_reopening(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    budget = PredicateBudget(store, window=100, clock=lambda: now[0])
    await budget.spend("a", "c/n/k", "r", ask("x", 1), LIMITS)
    await budget.spend("a", "c/n/k", "r", ask("x", 2), LIMITS)
    await budget.spend("a", "c/n/k", "r", ask("x", 1), LIMITS)  # asked before: free
    await budget.spend("a", "c/n/k", "r", ask("y", 1), LIMITS)  # another field
    await budget.spend("b", "c/n/k", "r", ask("x", 3), LIMITS)  # another agency
    with pytest.raises(PermissionDenied, match="and 2 were asked about 'x' of c/n/k"):
        await budget.spend("a", "c/n/k", "r", ask("x", 3), LIMITS)
    await store.close()

    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    budget = PredicateBudget(store, window=100, clock=lambda: now[0])
    with pytest.raises(PermissionDenied, match=r"predicates\.per_field_per_day"):
        await budget.spend("a", "c/n/k", "r", ask("x", 3), LIMITS)
    now[0] += 101  # the window has passed
    await budget.spend("a", "c/n/k", "r", ask("x", 3), LIMITS)
    await store.close()


def test_operators_and_thresholds() -> None:
    limits = PredicateLimits(operators=["equals", "less_than"], thresholds={"n": ["10"]})
    lt = query_pb2.Predicate(field="n", operator=Op.PREDICATE_OPERATOR_LESS_THAN, operand_json="10")
    assert check_limits("r", limits, lt) == [Question("n", "n < 10")]
    lt.operand_json = "10.5"
    with pytest.raises(PermissionDenied, match=r"declared thresholds .*: 10\), not 10\.5"):
        check_limits("r", limits, lt)
    both = query_pb2.Predicate(
        all_of=[
            query_pb2.Predicate(field="s", operator=Op.PREDICATE_OPERATOR_EQUALS, operand_json="1"),
            query_pb2.Predicate(field="n", operator=Op.PREDICATE_OPERATOR_EXISTS),
        ]
    )
    with pytest.raises(PermissionDenied, match="does not allow exists questions"):
        check_limits("r", limits, both)
