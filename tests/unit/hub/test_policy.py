"""Policy evaluation: deny by default, first matching rule decides and is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import InvalidInput, PermissionDenied
from hub.policy import PREDICATE, Request, parse_policy
from hub.reloading_file import ReloadingFile

POLICY = b"""
version: 1
principals:
  regulator:
    operator: true
    rules:
      - name: no-secret-licences
        effect: deny
        chains: ["*"]
        namespaces: [licences]
        schemas: [gov.secret/v1]
        purposes: ["*"]
      - name: licences
        chains: [custom-*]
        namespaces: [licences]
        schemas: ["gov.license.*"]
        purposes: [registration, inspection]
  tax:
    rules:
      - name: tax-predicates
        access: predicate
        chains: ["*"]
        purposes: [assessment]
"""


def policy():  # type: ignore[no-untyped-def]
    return parse_policy(POLICY, Path("policy.yaml"))


def test_first_matching_rule_allows_and_is_named() -> None:
    d = policy().decide(
        "regulator", Request("custom-1", "licences", "gov.license.business/v1", "registration")
    )
    assert d.allowed and d.rule == "licences"
    assert d.reason == (
        "rule 'licences' allows regulator to read custom-1/licences "
        "(schema gov.license.business/v1) for purpose 'registration'"
    )


@pytest.mark.parametrize(
    ("agency", "request_", "reason"),
    [
        (
            "regulator",
            Request("custom-1", "licences", "gov.license.business/v1", "gossip"),
            "no rule allows regulator to read custom-1/licences "
            "(schema gov.license.business/v1) for purpose 'gossip'",
        ),
        (
            "regulator",
            Request("evm-1", "licences", None, "registration"),
            "no rule allows regulator to read evm-1/licences for purpose 'registration'",
        ),
        (
            "nobody",
            Request("custom-1", "licences", None, "registration"),
            "no rule allows nobody to read custom-1/licences for purpose 'registration'",
        ),
        (
            "tax",
            Request("custom-1", "licences", None, "assessment"),
            "no rule allows tax to read custom-1/licences for purpose 'assessment' "
            "(rule 'tax-predicates' allows yes/no predicates only)",
        ),
    ],
)
def test_deny_by_default(agency: str, request_: Request, reason: str) -> None:
    d = policy().decide(agency, request_)
    assert not d.allowed and d.rule == "" and d.reason == reason


def test_deny_rule_applies_once_the_schema_is_known() -> None:
    p = policy()
    # Before reading, the schema is unknown: the narrow deny rule does not refuse early.
    assert p.decide("regulator", Request("custom-1", "licences", None, "inspection")).allowed
    d = p.decide("regulator", Request("custom-1", "licences", "gov.secret/v1", "inspection"))
    assert not d.allowed and d.rule == "no-secret-licences"
    assert d.reason.startswith("rule 'no-secret-licences' denies regulator to read")


def test_predicate_access() -> None:
    d = policy().decide("tax", Request("x", "y", "z", "assessment", PREDICATE))
    assert d.allowed and d.rule == "tax-predicates"


def test_operator_rights() -> None:
    p = policy()
    assert p.operator("regulator").rule == "principals.regulator.operator"
    d = p.operator("tax")
    assert not d.allowed
    assert d.reason == "no rule gives tax operator rights (principals.tax.operator is not true)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"version: [", "is not YAML"),
        (b"version: 2\nprincipals: {}\n", "version: Input should be 1"),
        (b"version: 1\nprincipals: {a: {rules: [{name: r}]}}\n", "chains: Field required"),
        (b"version: 1\nprincipals: {a: {colour: red}}\n", "colour: Extra inputs are not permitted"),
        (
            b"version: 1\nprincipals:\n  a: {rules: [{name: r, chains: [x], purposes: [p]}]}\n"
            b"  b: {rules: [{name: r, chains: [x], purposes: [p]}]}\n",
            "rule name 'r' is used twice",
        ),
    ],
)
def test_bad_policy_files(text: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=r"policy file policy\.yaml") as err:
        parse_policy(text, Path("policy.yaml"))
    assert message in str(err.value)


def test_reload_on_change_keeps_old_policy_when_the_new_one_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(POLICY)
    seen: list[str | None] = []
    source = ReloadingFile(path, parse_policy, "policy", lambda _what, err: seen.append(err))
    assert source.current().operator("regulator").allowed
    path.write_bytes(POLICY.replace(b"operator: true", b"operator: false"))
    assert not source.current().operator("regulator").allowed
    path.write_bytes(b"version: 1\nprincipals: [")
    assert not source.current().operator("regulator").allowed  # the previous one still holds
    assert seen[0] is None and seen[1] is not None and "is not YAML" in seen[1]
    assert source.last_error and "is not YAML" in source.last_error


def test_operator_rights_scoped_to_chains_name_their_rule() -> None:
    scoped = parse_policy(
        b"""
version: 1
principals:
  evm-ops:
    operator: {name: evm-ops-chains, chains: ["evm-*"]}
  ops:
    operator: true
""",
        Path("policy.yaml"),
    )
    scope = scoped.operator_scope("evm-ops")
    assert scope is not None and scope.rule == "evm-ops-chains" and not scope.everywhere
    scope.require("evm-1", "register a chain")
    with pytest.raises(PermissionDenied) as raised:
        scope.require("custom-1", "register a chain")
    assert str(raised.value) == (
        "rule 'evm-ops-chains' lets evm-ops operate chains ['evm-*'] only, "
        "not 'custom-1' (register a chain)"
    )
    everywhere = scoped.operator_scope("ops")
    assert everywhere is not None and everywhere.everywhere
    assert everywhere.rule == "principals.ops.operator"
    assert scoped.operator_scope("nobody") is None
