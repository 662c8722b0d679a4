"""The predicate budget counts distinct questions per agency, record and field, in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import PermissionDenied
from hub.policy import DEFAULT_LIMITS, PredicateLimits, RuleLimits
from hub.predicate_budget import PredicateBudget, Question, check_limits
from hub.store.sqlite import SqliteStore
from tonglian.v1 import query_pb2

Op = query_pb2.PredicateOperator
LIMITS = RuleLimits("r", PredicateLimits(per_field_per_day=2), default=False)


def ask(field: str, n: int) -> list[Question]:
    return [Question(field, f"{field} < {n}")]


async def test_distinct_questions_are_counted_per_field_and_survive_reopening(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    budget = PredicateBudget(store, window=100, clock=lambda: now[0])
    await budget.spend("a", "c/n/k", LIMITS, ask("x", 1))
    await budget.spend("a", "c/n/k", LIMITS, ask("x", 2))
    await budget.spend("a", "c/n/k", LIMITS, ask("x", 1))  # asked before: free
    await budget.spend("a", "c/n/k", LIMITS, ask("y", 1))  # another field
    await budget.spend("b", "c/n/k", LIMITS, ask("x", 3))  # another agency
    with pytest.raises(PermissionDenied, match="and 2 were asked about 'x' of c/n/k"):
        await budget.spend("a", "c/n/k", LIMITS, ask("x", 3))
    await store.close()

    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    budget = PredicateBudget(store, window=100, clock=lambda: now[0])
    with pytest.raises(PermissionDenied, match=r"predicates\.per_field_per_day"):
        await budget.spend("a", "c/n/k", LIMITS, ask("x", 3))
    now[0] += 101  # the window has passed
    await budget.spend("a", "c/n/k", LIMITS, ask("x", 3))
    await store.close()


def test_operators_and_thresholds() -> None:
    limits = RuleLimits(
        "r", PredicateLimits(operators=["equals", "less_than"], thresholds={"n": ["10"]}), False
    )
    lt = query_pb2.Predicate(field="n", operator=Op.PREDICATE_OPERATOR_LESS_THAN, operand_json="10")
    assert check_limits(limits, lt) == [Question("n", "n < 10")]
    lt.operand_json = "10.5"
    with pytest.raises(PermissionDenied, match=r"declared thresholds .*: 10\), not 10\.5"):
        check_limits(limits, lt)
    both = query_pb2.Predicate(
        all_of=[
            query_pb2.Predicate(field="s", operator=Op.PREDICATE_OPERATOR_EQUALS, operand_json="1"),
            query_pb2.Predicate(field="n", operator=Op.PREDICATE_OPERATOR_EXISTS),
        ]
    )
    with pytest.raises(PermissionDenied, match="does not allow exists questions"):
        check_limits(limits, both)


async def test_a_rule_without_a_predicates_block_has_the_default_budget(tmp_path: Path) -> None:
    default = RuleLimits("plain", DEFAULT_LIMITS, default=True)
    lt = query_pb2.Predicate(field="n", operator=Op.PREDICATE_OPERATOR_LESS_THAN, operand_json="5")
    with pytest.raises(PermissionDenied) as err:
        check_limits(default, lt)
    assert str(err.value) == (
        "rule 'plain' does not allow less_than questions (it has no predicates: block, so the "
        "default operators: equals, exists)"
    )
    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    budget = PredicateBudget(store, window=100, clock=lambda: 1000.0)
    for n in range(10):
        await budget.spend("a", "c/n/k", default, [Question("n", f"n == {n}")])
    with pytest.raises(PermissionDenied) as err:
        await budget.spend("a", "c/n/k", default, [Question("n", "n == 10")])
    assert str(err.value) == (
        "predicate budget spent: rule 'plain' allows a 10 distinct questions per record and "
        "field per day (the default for a rule without a predicates: block), and 10 were asked "
        "about 'n' of c/n/k in the last 24 hours"
    )
    await store.close()
