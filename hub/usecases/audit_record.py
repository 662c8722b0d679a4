"""The audit record a use case writes its facts into: what it decided, and why.

The access interceptor opens one record per call (hub/audit/call.py) and appends it
with the outcome when the call ends. A use case fills in the facts as it goes, so a
refusal leaves its reasons on the record just as an answer does; it appends early
(`commit`) only when its answer must name the event (predicates) or the call may run
for days (watches).
"""

from __future__ import annotations

from typing import Any, Protocol

from tonglian.v1 import audit_pb2


class AuditRecord(Protocol):
    # The caller's stated reason, once hub/usecases/purpose.py has checked it.
    purpose: str
    # Facts for the event: the rule that decided, digests, counts.
    detail: dict[str, Any]
    # Set when a policy refused: the rule (or reason) the outcome names.
    denied_by: str

    async def commit(
        self, outcome: str = "ok", evidence: bytes | None = None
    ) -> audit_pb2.AuditEvent:
        """Appends the event now (once); later calls return the same event."""
        ...

    async def note(self, outcome: str, detail: dict[str, Any]) -> audit_pb2.AuditEvent:
        """Appends a further event of this call, after its own (a record a watch left out)."""
        ...
