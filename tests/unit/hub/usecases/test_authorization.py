"""Operator rights are decided by the use cases, with the rule or the refusal on the record."""

from __future__ import annotations

import pytest

from hub.errors import PermissionDenied
from hub.usecases.authorization import Operators
from tests.unit.hub.usecases.fakes import FakeAudit, Scene, principal


def test_an_agency_certificate_has_no_operator_rights(scene: Scene, audit: FakeAudit) -> None:
    with pytest.raises(PermissionDenied) as refused:
        Operators(scene.policy).authorize(principal("ops"), "Relay.ListRoutes", audit)
    assert str(refused.value) == (
        "tonglian.v1.Relay.ListRoutes needs operator rights: the certificate of ops/clerk "
        "has role agency"
    )
    assert audit.denied_by == str(refused.value) and audit.detail == {}


def test_an_operator_the_policy_does_not_name_is_refused(scene: Scene, audit: FakeAudit) -> None:
    with pytest.raises(PermissionDenied) as refused:
        Operators(scene.policy).authorize(
            principal("office", "operator"), "ChainRegistry.RegisterChain", audit
        )
    assert str(refused.value) == (
        "tonglian.v1.ChainRegistry.RegisterChain needs operator rights: no rule gives office "
        "operator rights (principals.office.operator is not true)"
    )


def test_the_rule_is_recorded_and_the_audit_log_needs_every_chain(
    scene: Scene, audit: FakeAudit
) -> None:
    operators = Operators(scene.policy)
    scope = operators.authorize(
        principal("ops", "operator"), "Audit.ListEvents", audit, everywhere="the audit log"
    )
    assert scope.everywhere and audit.detail == {"rule": "principals.ops.operator"}
    scoped = FakeAudit()
    with pytest.raises(PermissionDenied) as refused:
        operators.authorize(
            principal("evm-ops", "operator"), "Audit.ListEvents", scoped, everywhere="the audit log"
        )
    assert str(refused.value) == (
        "rule 'evm-ops-chains' lets evm-ops operate chains ['evm-*'] only; "
        "tonglian.v1.Audit.ListEvents (the audit log) spans every chain and needs an operator "
        "rule for chains ['*']"
    )
    assert scoped.detail == {} and scoped.denied_by == str(refused.value)
    assert operators.scope(principal("ops")) is None
