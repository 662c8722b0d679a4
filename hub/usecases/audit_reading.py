"""The audit log, its head and its anchors, read by operators whose rule covers every
chain (the log spans them all).

The right to read the log implies the right to check it: the heads written on the
anchor chain are read for the log's readers through the verified read path, with no
read rule of the policy (`ListChainHeads`). The read is audited naming that implied
right, and it reaches only the anchor chain's head records, nothing else of that chain.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.audit.anchoring import HEAD_SCHEMA
from hub.audit.chain_anchors import HEAD_KEY_PREFIX
from hub.audit.log import AuditLog
from hub.paging import MAX_SEQUENCE, page_size, split_page
from hub.principal import Principal
from hub.usecases.audit_record import AuditRecord
from hub.usecases.authorization import Operators
from tonglian.v1 import audit_pb2, query_pb2

if TYPE_CHECKING:
    from hub.records import RecordReader

DEFAULT_PAGE = 100
MAX_PAGE = 1000
SPANS = "the audit log"
# The right the anchor-chain reads of `ListChainHeads` are granted by, as the audit log
# names it: no read rule of the policy allows them, the right to read the log does.
IMPLIED_RIGHT = "audit-rights"
# The purpose the audit log records for reading the anchored heads back.
VERIFY_PURPOSE = "audit-verification"


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
        reader: RecordReader | None = None,
    ) -> None:
        self._log = log
        self._operators = operators
        self._reader = reader
        self._anchor_chain_id = anchor_chain_id
        self._anchor_namespace = anchor_namespace if anchor_chain_id else ""

    def _authorize(self, principal: Principal, method: str, audit: AuditRecord) -> None:
        self._operators.authorize(principal, f"Audit.{method}", audit, everywhere=SPANS)

    @property
    def anchor_chain(self) -> tuple[str, str]:
        """The chain and namespace the log's heads are written to; ("", "") for none."""
        return self._anchor_chain_id, self._anchor_namespace

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

    async def chain_heads(
        self, principal: Principal, page_size: int, page_token: str, audit: AuditRecord
    ) -> query_pb2.ListRecordsResponse:
        """A page of the head records on the anchor chain, verified, for a reader of the
        log: the read is allowed by the right to read the log (IMPLIED_RIGHT), which the
        audit event names, and is confined to the head records the hub writes there."""
        self._authorize(principal, "ListChainHeads", audit)
        operator_rule = audit.detail.get("rule")
        audit.detail["rule"] = IMPLIED_RIGHT
        if operator_rule:
            audit.detail["operator_rule"] = operator_rule
        audit.purpose = VERIFY_PURPOSE
        if not self._anchor_chain_id or self._reader is None:
            return query_pb2.ListRecordsResponse()
        flt = query_pb2.RecordFilter(
            chain_id=self._anchor_chain_id,
            namespace=self._anchor_namespace,
            key_prefix=HEAD_KEY_PREFIX,
            schema=HEAD_SCHEMA,
        )
        page = await self._reader.list(flt, page_size, page_token)
        audit.detail["records"] = len(page.records)
        return page
