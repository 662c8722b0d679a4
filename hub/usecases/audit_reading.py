"""The audit log, its head and its anchors, read by operators whose rule covers every
chain (the log spans them all)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from hub.audit.log import AuditLog
from hub.paging import MAX_SEQUENCE, page_size, split_page
from hub.principal import Principal
from hub.usecases.audit_record import AuditRecord
from hub.usecases.authorization import Operators
from tonglian.v1 import audit_pb2

DEFAULT_PAGE = 100
MAX_PAGE = 1000
SPANS = "the audit log"


@dataclass(frozen=True)
class EventPage:
    events: list[audit_pb2.AuditEvent]
    # The sequence the next page starts from; 0 on the last page.
    next_sequence: int


@dataclass(frozen=True)
class LogHead:
    sequence: int
    hash: bytes
    # Where the head is anchored ("" when it is not): the log's readers check it there.
    anchor_chain_id: str
    anchor_namespace: str


class AuditReading:
    def __init__(
        self,
        log: AuditLog,
        operators: Operators,
        anchor_chain_id: str = "",
        anchor_namespace: str = "",
    ) -> None:
        self._log = log
        self._operators = operators
        self._anchor_chain_id = anchor_chain_id
        self._anchor_namespace = anchor_namespace if anchor_chain_id else ""

    def _authorize(self, principal: Principal, method: str, audit: AuditRecord) -> None:
        self._operators.authorize(principal, f"Audit.{method}", audit, everywhere=SPANS)

    async def list_events(
        self,
        principal: Principal,
        from_sequence: int,
        size: int,
        by_principal: str,
        action: str,
        audit: AuditRecord,
    ) -> EventPage:
        """A page of events from `from_sequence`, of one principal and action ("" for any)."""
        self._authorize(principal, "ListEvents", audit)
        size = page_size(size, DEFAULT_PAGE, MAX_PAGE)
        events, more = split_page(
            await self._log.events(
                min(from_sequence, MAX_SEQUENCE), size + 1, by_principal, action
            ),
            size,
        )
        return EventPage(events, events[-1].sequence + 1 if more else 0)

    async def head(self, principal: Principal, audit: AuditRecord) -> LogHead:
        self._authorize(principal, "GetLogHead", audit)
        sequence, head = await self._log.head()
        return LogHead(sequence, head, self._anchor_chain_id, self._anchor_namespace)

    async def export(
        self, principal: Principal, from_sequence: int, audit: AuditRecord
    ) -> AsyncGenerator[audit_pb2.AuditEvent, None]:
        """Every event from `from_sequence` up to the head as it is now: the export's own
        event comes after it."""
        self._authorize(principal, "ExportEvents", audit)
        last, _ = await self._log.head()
        async for event in self._log.export(min(from_sequence, MAX_SEQUENCE)):
            if event.sequence > last:
                return
            yield event

    async def anchors(
        self, principal: Principal, audit: AuditRecord
    ) -> list[audit_pb2.AuditAnchor]:
        self._authorize(principal, "ListAnchors", audit)
        return await self._log.anchors()
