"""Evaluates a Predicate over a record's JSON value: the hub answers yes/no, the value stays.

Operands are JSON text ("\"active\"", "3", "\"2026-01-01\""). Ordering compares
numbers with numbers and strings with strings (ISO dates order as strings); a
field that is missing or of another type makes a comparison false, never an error,
so an answer reveals nothing beyond yes or no.
"""

from __future__ import annotations

import json
from typing import Any

from hub.errors import InvalidInput
from tonglian.v1 import query_pb2

Op = query_pb2.PredicateOperator
MAX_DEPTH = 8
MAX_TERMS = 16
MAX_FIELD = 200
MAX_OPERAND = 1000
_MISSING = object()

OPERATOR_NAMES = {
    Op.PREDICATE_OPERATOR_EQUALS: "==",
    Op.PREDICATE_OPERATOR_NOT_EQUALS: "!=",
    Op.PREDICATE_OPERATOR_LESS_THAN: "<",
    Op.PREDICATE_OPERATOR_LESS_OR_EQUAL: "<=",
    Op.PREDICATE_OPERATOR_GREATER_THAN: ">",
    Op.PREDICATE_OPERATOR_GREATER_OR_EQUAL: ">=",
    Op.PREDICATE_OPERATOR_BETWEEN: "between",
    Op.PREDICATE_OPERATOR_EXISTS: "exists",
}


def _operand(text: str, name: str) -> Any:
    if len(text) > MAX_OPERAND:
        raise InvalidInput(f"predicate {name} is longer than {MAX_OPERAND} characters")
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput(
            f"predicate {name} {text[:60]!r} is not JSON: quote strings, e.g. '\"active\"'"
        ) from None


def check_predicate(p: query_pb2.Predicate, depth: int = 0) -> None:
    """Raises InvalidInput unless the predicate is well formed (and small)."""
    if depth > MAX_DEPTH:
        raise InvalidInput(f"predicate nests deeper than {MAX_DEPTH} levels")
    if p.all_of:
        if p.field or p.operator or p.operand_json or p.operand2_json:
            raise InvalidInput("a predicate with all_of has no field, operator or operands")
        if len(p.all_of) > MAX_TERMS:
            raise InvalidInput(f"predicate all_of has more than {MAX_TERMS} terms")
        for term in p.all_of:
            check_predicate(term, depth + 1)
        return
    if not p.field or len(p.field) > MAX_FIELD or any(not part for part in p.field.split(".")):
        raise InvalidInput("predicate.field must be a dotted path like 'status' or 'address.city'")
    if p.operator not in OPERATOR_NAMES:
        raise InvalidInput("predicate.operator is required (EQUALS, LESS_THAN, BETWEEN, ...)")
    if p.operator == Op.PREDICATE_OPERATOR_EXISTS:
        return
    _operand(p.operand_json, "operand_json")
    if p.operator == Op.PREDICATE_OPERATOR_BETWEEN:
        _operand(p.operand2_json, "operand2_json")


def _lookup(value: Any, field: str) -> Any:
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _comparable(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return (isinstance(a, numbers) and isinstance(b, numbers)) or (
        isinstance(a, str) and isinstance(b, str)
    )


def evaluate(p: query_pb2.Predicate, value: Any) -> bool:
    """The predicate's answer on a JSON value (check_predicate first)."""
    if p.all_of:
        return all(evaluate(term, value) for term in p.all_of)
    got = _lookup(value, p.field)
    if p.operator == Op.PREDICATE_OPERATOR_EXISTS:
        return got is not _MISSING and got is not None
    if got is _MISSING:
        return False
    want = json.loads(p.operand_json)
    if p.operator == Op.PREDICATE_OPERATOR_EQUALS:
        return bool((got == want and type(got) is type(want)) or _num_eq(got, want))
    if p.operator == Op.PREDICATE_OPERATOR_NOT_EQUALS:
        return not ((got == want and type(got) is type(want)) or _num_eq(got, want))
    if p.operator == Op.PREDICATE_OPERATOR_BETWEEN:
        high = json.loads(p.operand2_json)
        return _comparable(got, want) and _comparable(got, high) and want <= got <= high
    if not _comparable(got, want):
        return False
    if p.operator == Op.PREDICATE_OPERATOR_LESS_THAN:
        return bool(got < want)
    if p.operator == Op.PREDICATE_OPERATOR_LESS_OR_EQUAL:
        return bool(got <= want)
    if p.operator == Op.PREDICATE_OPERATOR_GREATER_THAN:
        return bool(got > want)
    return bool(got >= want)


def _num_eq(a: Any, b: Any) -> bool:
    return _comparable(a, b) and not isinstance(a, str) and a == b


def describe(p: query_pb2.Predicate) -> str:
    """A short human form, for the audit log: `status == "active"`."""
    if p.all_of:
        return " and ".join(f"({describe(t)})" for t in p.all_of)
    op = OPERATOR_NAMES.get(p.operator, "?")
    if p.operator == Op.PREDICATE_OPERATOR_EXISTS:
        return f"{p.field} exists"
    if p.operator == Op.PREDICATE_OPERATOR_BETWEEN:
        return f"{p.field} between {p.operand_json} and {p.operand2_json}"
    return f"{p.field} {op} {p.operand_json}"
