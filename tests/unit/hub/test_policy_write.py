"""Policy `access: write`: only a write rule allows a write, and it allows nothing else."""

from __future__ import annotations

from pathlib import Path

from hub.policy import PREDICATE, READ, WRITE, Request, parse_policy

POLICY = b"""
version: 1
principals:
  land-bureau:
    rules:
      - name: no-archive
        effect: deny
        chains: [c-1]
        namespaces: [archive]
        purposes: ["*"]
      - name: land-writes
        access: write
        chains: [c-1]
        schemas: ["gov.land.*"]
        purposes: [registration]
  reader:
    rules:
      - name: reader-reads
        chains: [c-1]
        purposes: [registration]
"""


def decide(agency: str, namespace: str, schema: str, access: str) -> tuple[bool, str, str]:
    policy = parse_policy(POLICY, Path("policy.yaml"))
    d = policy.decide(agency, Request("c-1", namespace, schema, "registration", access))
    return d.allowed, d.rule, d.reason


def test_a_write_rule_allows_writes_only() -> None:
    assert decide("land-bureau", "parcels", "gov.land.parcel/v1", WRITE)[:2] == (
        True,
        "land-writes",
    )
    for access in (READ, PREDICATE):
        allowed, rule, reason = decide("land-bureau", "parcels", "gov.land.parcel/v1", access)
        assert not allowed and rule == ""
        assert reason.endswith("(rule 'land-writes' allows writes only)")
    assert not decide("land-bureau", "parcels", "gov.tax.x/v1", WRITE)[0]


def test_read_never_implies_write() -> None:
    allowed, rule, reason = decide("reader", "parcels", "gov.land.parcel/v1", WRITE)
    assert not allowed and rule == ""
    assert reason == (
        "no rule allows reader to write to c-1/parcels (schema gov.land.parcel/v1) for purpose "
        "'registration' (rule 'reader-reads' does not allow writes; writing needs a rule with "
        "access: write)"
    )


def test_a_deny_rule_refuses_writes_too() -> None:
    allowed, rule, reason = decide("land-bureau", "archive", "gov.land.parcel/v1", WRITE)
    assert (allowed, rule) == (False, "no-archive")
    assert reason.startswith("rule 'no-archive' denies land-bureau to write to c-1/archive")
