"""The audit record of the gRPC call being served, shared by the access interceptor and services.

The interceptor (hub/services/access.py) opens one per call and appends it when
the call ends, with the outcome. It is the AuditRecord the use cases write their facts
into (hub/usecases/audit_record.py): `detail`, the rule that decided, the purpose; they
append early with `commit` when they need the event's sequence in their answer
(predicates) or the call may run for long (watches).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import grpc

from hub.audit.log import AuditLog
from hub.principal import Principal
from tonglian.v1 import audit_pb2


@dataclass
class AuditedCall:
    principal: Principal
    action: str
    log: AuditLog
    target: str = ""
    purpose: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    # Set when a policy refused: the rule (or reason) the outcome names.
    denied_by: str = ""
    event: audit_pb2.AuditEvent | None = None

    async def commit(
        self, outcome: str = "ok", evidence: bytes | None = None
    ) -> audit_pb2.AuditEvent:
        """Appends the event now (once); later calls return the same event."""
        if self.event is None:
            self.event = await self.log.append(
                principal=self.principal.name,
                action=self.action,
                target=self.target,
                purpose=self.purpose,
                outcome=outcome,
                detail={**self.detail, "serial": self.principal.serial}
                if self.principal.serial
                else self.detail,
                evidence=evidence,
            )
        return self.event

    async def note(self, outcome: str, detail: dict[str, Any]) -> audit_pb2.AuditEvent:
        """Appends a further event of this call, after its own (a record a watch left out):
        same principal, action, target and purpose, its own outcome and detail."""
        return await self.log.append(
            principal=self.principal.name,
            action=self.action,
            target=self.target,
            purpose=self.purpose,
            outcome=outcome,
            detail={**detail, "serial": self.principal.serial} if self.principal.serial else detail,
        )

    async def fail(self, code: grpc.StatusCode, details: str) -> audit_pb2.AuditEvent:
        """Appends the event of a call that ends with status `code`: before the status is
        sent (gRPC's abort sends at once), so no caller is answered before its call is
        in the log."""
        if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED):
            return await self.commit(f"denied: {self.denied_by or details or code.name}")
        self.detail.setdefault("error", details[:500])
        return await self.commit(f"error: {code.name}")


_current: ContextVar[AuditedCall | None] = ContextVar("tonglian_audited_call", default=None)


def current_call() -> AuditedCall:
    call = _current.get()
    if call is None:
        raise RuntimeError("no audited call: the access interceptor is not installed")
    return call


def peek_call() -> AuditedCall | None:
    """The audited call being served, or None (outside a call, or before it was opened)."""
    return _current.get()


def enter_call(call: AuditedCall) -> object:
    return _current.set(call)
