"""The predicate budget: yes/no questions are bounded so that a run of them cannot recover a value.

Without limits, 31 LESS_THAN questions bisect a number to the cent. A rule's
`predicates` (hub/policy.py) bound which operators it allows, which thresholds
ordering questions may use, and how many distinct questions an agency may ask
per record and field in a day; a rule without a `predicates:` block gets the
default (DEFAULT_LIMITS: equals and exists, 10 a day). Both are checked before the
record is read, so a refusal says nothing about the record. Asking the same question
again is free: it reveals nothing new. The count lives in the store, so a restart does
not reset it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.errors import PermissionDenied
from hub.policy import BUDGET_WINDOW_SECONDS, RuleLimits
from hub.predicate import describe
from hub.store.predicate_questions import PredicateQuestions
from tonglian.v1 import query_pb2

Op = query_pb2.PredicateOperator
POLICY_NAMES = {
    Op.PREDICATE_OPERATOR_EQUALS: "equals",
    Op.PREDICATE_OPERATOR_NOT_EQUALS: "not_equals",
    Op.PREDICATE_OPERATOR_LESS_THAN: "less_than",
    Op.PREDICATE_OPERATOR_LESS_OR_EQUAL: "less_or_equal",
    Op.PREDICATE_OPERATOR_GREATER_THAN: "greater_than",
    Op.PREDICATE_OPERATOR_GREATER_OR_EQUAL: "greater_or_equal",
    Op.PREDICATE_OPERATOR_BETWEEN: "between",
    Op.PREDICATE_OPERATOR_EXISTS: "exists",
}
ORDERING = frozenset(
    {
        Op.PREDICATE_OPERATOR_LESS_THAN,
        Op.PREDICATE_OPERATOR_LESS_OR_EQUAL,
        Op.PREDICATE_OPERATOR_GREATER_THAN,
        Op.PREDICATE_OPERATOR_GREATER_OR_EQUAL,
        Op.PREDICATE_OPERATOR_BETWEEN,
    }
)


@dataclass(frozen=True)
class Question:
    field: str
    text: str


def _leaves(p: query_pb2.Predicate) -> list[query_pb2.Predicate]:
    if p.all_of:
        return [leaf for term in p.all_of for leaf in _leaves(term)]
    return [p]


def _same_json(a: Any, b: Any) -> bool:
    return bool(a == b and type(a) is type(b))


def check_limits(bound: RuleLimits, predicate: query_pb2.Predicate) -> list[Question]:
    """The questions a (checked) predicate asks; PermissionDenied naming the limit when the
    rule does not allow its operator or threshold."""
    rule, limits = bound.rule, bound.limits
    leaves = _leaves(predicate)
    for leaf in leaves:
        name = POLICY_NAMES[leaf.operator]
        if limits.operators is not None and name not in limits.operators:
            where = (
                "it has no predicates: block, so the default operators"
                if bound.default
                else "predicates.operators"
            )
            raise PermissionDenied(
                f"rule {rule!r} does not allow {name} questions "
                f"({where}: {', '.join(limits.operators)})"
            )
        if limits.thresholds is None or leaf.operator not in ORDERING:
            continue
        allowed = limits.thresholds.get(leaf.field, [])
        operands = [leaf.operand_json]
        if leaf.operator == Op.PREDICATE_OPERATOR_BETWEEN:
            operands.append(leaf.operand2_json)
        declared = [json.loads(v) for v in allowed]
        for operand in operands:
            if not any(_same_json(json.loads(operand), d) for d in declared):
                raise PermissionDenied(
                    f"rule {rule!r} allows ordering questions on {leaf.field!r} only against "
                    f"its declared thresholds (predicates.thresholds.{leaf.field}: "
                    f"{', '.join(allowed) or 'none'}), not {operand}"
                )
    return [Question(leaf.field, describe(leaf)) for leaf in leaves]


class PredicateBudget:
    def __init__(
        self,
        questions: PredicateQuestions,
        window: float = BUDGET_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._questions = questions
        self._window = window
        self._clock = clock

    async def spend(
        self, agency: str, target: str, bound: RuleLimits, questions: list[Question]
    ) -> None:
        """Counts the questions against the rule's per-field budget; PermissionDenied naming
        the budget when a field has had its distinct questions for the day."""
        rule, limit = bound.rule, bound.limits.per_field_per_day
        now = self._clock()
        over = await self._questions.record_within(
            agency, target, [(q.field, q.text) for q in questions], limit, now - self._window, now
        )
        if over is not None:
            field, asked = over
            where = (
                "the default for a rule without a predicates: block"
                if bound.default
                else "predicates.per_field_per_day"
            )
            raise PermissionDenied(
                f"predicate budget spent: rule {rule!r} allows {agency} {limit} distinct "
                f"questions per record and field per day ({where}), and "
                f"{asked} were asked about {field!r} of {target} in the last 24 hours"
            )
