"""Deciding before the read: a decision that turns on the record's schema is named as such."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import InvalidInput
from hub.policy import Decision, Request, Undecided, parse_policy

POLICY = b"""
version: 1
namespace_schemas:
  "c/residence": [gov.residence.certificate/v1]
  "c/mixed": [gov.residence.certificate/v1, gov.license.business/v1]
principals:
  office:
    rules:
      - name: no-residence
        effect: deny
        chains: [c]
        schemas: ["gov.residence.*"]
        purposes: ["*"]
      - name: rest
        chains: [c]
        purposes: ["*"]
  narrow:
    rules:
      - name: licences-only
        chains: [c]
        schemas: ["gov.license.*"]
        purposes: ["*"]
      - name: also-tax
        chains: [c]
        schemas: ["gov.tax.*"]
        purposes: ["*"]
        predicates: {per_field_per_day: 2, operators: [equals], thresholds: {n: ["1"]}}
"""


def before(agency: str, namespace: str, access: str = "read") -> Decision | Undecided:
    policy = parse_policy(POLICY, Path("p.yaml"))
    return policy.decide_before_read(agency, Request("c", namespace, None, "why", access))


def test_declared_namespace_is_decided_before_the_read() -> None:
    d = before("office", "residence")
    assert isinstance(d, Decision) and not d.allowed and d.rule == "no-residence"
    assert isinstance(before("office", "mixed"), Undecided)


def test_undeclared_namespace_names_the_rules_that_turn_on_the_schema() -> None:
    u = before("office", "people")
    assert u == Undecided(("no-residence", "rest"))
    assert u.refusal("office", Request("c", "people", None, "why"), "c/people/K") == (
        "office may not read c/people/K for purpose 'why', or it does not exist: "
        "rules 'no-residence', 'rest' decide by the record's schema"
    )
    assert before("narrow", "any") == Undecided(("licences-only", "also-tax"))
    assert isinstance(before("nobody", "any"), Decision)


def test_predicate_limits_are_found_by_rule_and_checked_when_loaded() -> None:
    policy = parse_policy(POLICY, Path("p.yaml"))
    limits = policy.predicate_limits("also-tax")
    assert limits is not None and limits.per_field_per_day == 2
    assert policy.predicate_limits("rest") is None
    bad = POLICY.replace(b'thresholds: {n: ["1"]}', b"thresholds: {n: [one]}")
    with pytest.raises(InvalidInput, match="threshold 'one' for 'n' is not JSON"):
        parse_policy(bad, Path("p.yaml"))
    bad = POLICY.replace(b"operators: [equals]", b"operators: [like]")
    with pytest.raises(InvalidInput, match=r"predicates\.operators\.0"):
        parse_policy(bad, Path("p.yaml"))
