"""Deciding before the read: a decision that turns on the record's schema is named as such."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import InvalidInput
from hub.policy import DEFAULT_LIMITS, Decision, Request, RuleLimits, Undecided, parse_policy

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
    bound = policy.predicate_limits("also-tax")
    assert bound is not None and bound.limits.per_field_per_day == 2 and not bound.default
    # A rule that allows questions without a predicates: block has the default budget.
    assert policy.predicate_limits("rest") == RuleLimits("rest", DEFAULT_LIMITS, default=True)
    assert DEFAULT_LIMITS.per_field_per_day == 10
    assert DEFAULT_LIMITS.operators == ["equals", "exists"] and DEFAULT_LIMITS.thresholds == {}
    bad = POLICY.replace(b'thresholds: {n: ["1"]}', b"thresholds: {n: [one]}")
    with pytest.raises(InvalidInput, match="threshold 'one' for 'n' is not JSON"):
        parse_policy(bad, Path("p.yaml"))
    bad = POLICY.replace(b"operators: [equals]", b"operators: [like]")
    with pytest.raises(InvalidInput, match=r"predicates\.operators\.0"):
        parse_policy(bad, Path("p.yaml"))


PLAIN = b"""
version: 1
principals:
  office:
    rules:
      - name: no-residence
        effect: deny
        chains: [c]
        namespaces: [residence]
        purposes: ["*"]
      - name: licences-by-schema
        chains: [c]
        namespaces: [licences]
        schemas: ["gov.license.*"]
        purposes: ["*"]
      - name: rest
        chains: [c]
        purposes: ["*"]
  asker:
    rules:
      - name: ask-freely
        access: predicate
        chains: [c]
        purposes: ["*"]
        predicates: unlimited
"""


def test_a_deny_rule_without_schemas_decides_before_the_read_naming_no_schema() -> None:
    policy = parse_policy(PLAIN, Path("p.yaml"))
    d = policy.decide_before_read("office", Request("c", "residence", None, "why"))
    assert d == Decision(
        False,
        "no-residence",
        "rule 'no-residence' denies office to read c/residence for purpose 'why'",
    )
    # A listing of the namespace is refused the same way, not answered empty.
    assert policy.decide("office", Request("c", "residence", None, "why")) == d


def test_allowing_rules_are_those_that_may_decide_for_some_schema() -> None:
    policy = parse_policy(PLAIN, Path("p.yaml"))
    ask = Request("c", "licences", None, "why", "predicate")
    assert policy.allowing_rules("office", ask) == ["licences-by-schema", "rest"]
    assert policy.allowing_rules("office", Request("c", "residence", None, "why")) == []
    declared = parse_policy(POLICY, Path("p.yaml"))
    assert declared.allowing_rules("office", Request("c", "mixed", None, "why")) == ["rest"]


def test_unlimited_predicates_are_written_out_and_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="tonglian.hub"):
        policy = parse_policy(PLAIN, Path("p.yaml"))
    assert policy.predicate_limits("ask-freely") is None
    assert [r.getMessage() for r in caplog.records] == [
        "policy file p.yaml: rule 'ask-freely' allows yes/no questions without limits "
        "(predicates: unlimited): a run of them can recover a value"
    ]
    with pytest.raises(InvalidInput, match=r"rules\.0\.predicates: Input should be 'unlimited'"):
        parse_policy(PLAIN.replace(b"predicates: unlimited", b"predicates: none"), Path("p"))
