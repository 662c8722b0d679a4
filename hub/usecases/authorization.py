"""Operator rights: who may change the hub, on which chains, and who may read its logs.

Agencies query; operators also register chains, manage routes and read the audit log,
when the policy grants it (hub/policy.py). Each operator use case asks here first;
record-level policy for queries is decided in the query use cases, which know the record.
"""

from __future__ import annotations

from hub.errors import PermissionDenied
from hub.policy import OperatorScope, PolicySource
from hub.principal import Principal
from hub.usecases.audit_record import AuditRecord

API = "tonglian.v1."


class Operators:
    """Decides operator rights under the policy in force."""

    def __init__(self, policy: PolicySource) -> None:
        self._policy = policy

    def scope(self, principal: Principal) -> OperatorScope | None:
        """The chains `principal` may operate; None for agencies and refused operators."""
        if not principal.is_operator:
            return None
        return self._policy.current().operator_scope(principal.agency)

    def authorize(
        self, principal: Principal, operation: str, audit: AuditRecord, *, everywhere: str = ""
    ) -> OperatorScope:
        """The scope that lets `principal` perform `operation` (e.g. "Relay.CreateRoute"),
        with its rule on the audit record; PermissionDenied otherwise. `everywhere` names
        what an operation that spans every chain touches: it needs a scope of every chain.
        Chains a call touches are checked against the scope by the use case."""
        name = API + operation
        try:
            if not principal.is_operator:
                raise PermissionDenied(
                    f"{name} needs operator rights: the certificate of {principal.name} has "
                    f"role {principal.role}"
                )
            policy = self._policy.current()
            decision = policy.operator(principal.agency)
            scope = policy.operator_scope(principal.agency)
            if not decision.allowed or scope is None:
                raise PermissionDenied(f"{name} needs operator rights: {decision.reason}")
            if everywhere:
                scope.require_everywhere(f"{name} ({everywhere})")
        except PermissionDenied as exc:
            audit.denied_by = str(exc)
            raise
        if decision.rule:
            audit.detail["rule"] = decision.rule
        return scope
