"""Builders for tonglian.v1.Predicate, so callers write `equals("status", "active")`."""

from __future__ import annotations

import json
from typing import Any

from tonglian.v1 import query_pb2

Op = query_pb2.PredicateOperator


def _p(field: str, op: int, operand: Any = None, operand2: Any = None) -> query_pb2.Predicate:
    return query_pb2.Predicate(
        field=field,
        operator=op,  # type: ignore[arg-type]
        operand_json="" if operand is None else json.dumps(operand, ensure_ascii=False),
        operand2_json="" if operand2 is None else json.dumps(operand2, ensure_ascii=False),
    )


def equals(field: str, value: Any) -> query_pb2.Predicate:
    return _p(field, Op.PREDICATE_OPERATOR_EQUALS, value)


def not_equals(field: str, value: Any) -> query_pb2.Predicate:
    return _p(field, Op.PREDICATE_OPERATOR_NOT_EQUALS, value)


def less_than(field: str, value: Any) -> query_pb2.Predicate:
    return _p(field, Op.PREDICATE_OPERATOR_LESS_THAN, value)


def less_or_equal(field: str, value: Any) -> query_pb2.Predicate:
    return _p(field, Op.PREDICATE_OPERATOR_LESS_OR_EQUAL, value)


def greater_than(field: str, value: Any) -> query_pb2.Predicate:
    return _p(field, Op.PREDICATE_OPERATOR_GREATER_THAN, value)


def greater_or_equal(field: str, value: Any) -> query_pb2.Predicate:
    return _p(field, Op.PREDICATE_OPERATOR_GREATER_OR_EQUAL, value)


def between(field: str, low: Any, high: Any) -> query_pb2.Predicate:
    return _p(field, Op.PREDICATE_OPERATOR_BETWEEN, low, high)


def exists(field: str) -> query_pb2.Predicate:
    return _p(field, Op.PREDICATE_OPERATOR_EXISTS)


def all_of(*terms: query_pb2.Predicate) -> query_pb2.Predicate:
    return query_pb2.Predicate(all_of=list(terms))


def in_force_on(date: str, start: str = "valid_from", end: str = "valid_to") -> query_pb2.Predicate:
    """`start <= date <= end`: e.g. was this person resident here on `date`?"""
    return all_of(less_or_equal(start, date), greater_or_equal(end, date))
