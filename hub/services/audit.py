"""tonglian.v1.Audit over gRPC: the log, its head and its anchors (operators only: access.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from hub.audit.log import AuditLog
from hub.paging import MAX_SEQUENCE, page_size, split_page
from hub.services.status import Context, streaming, unary
from tonglian.v1 import audit_pb2, audit_pb2_grpc

DEFAULT_PAGE = 100
MAX_PAGE = 1000


class AuditService(audit_pb2_grpc.AuditServicer):
    def __init__(
        self, log: AuditLog, anchor_chain_id: str = "", anchor_namespace: str = ""
    ) -> None:
        self._log = log
        # Where the head is anchored: the log's readers check it there.
        self._anchor_chain_id = anchor_chain_id
        self._anchor_namespace = anchor_namespace if anchor_chain_id else ""

    @unary
    async def ListEvents(
        self, request: audit_pb2.ListEventsRequest, context: Context
    ) -> audit_pb2.ListEventsResponse:
        size = page_size(request.page_size, DEFAULT_PAGE, MAX_PAGE)
        events, more = split_page(
            await self._log.events(
                min(request.from_sequence, MAX_SEQUENCE),
                size + 1,
                request.principal,
                request.action,
            ),
            size,
        )
        return audit_pb2.ListEventsResponse(
            events=events, next_sequence=events[-1].sequence + 1 if more else 0
        )

    @unary
    async def GetLogHead(
        self, request: audit_pb2.GetLogHeadRequest, context: Context
    ) -> audit_pb2.GetLogHeadResponse:
        sequence, head = await self._log.head()
        return audit_pb2.GetLogHeadResponse(
            sequence=sequence,
            hash=head,
            anchor_chain_id=self._anchor_chain_id,
            anchor_namespace=self._anchor_namespace,
        )

    @streaming
    async def ExportEvents(
        self, request: audit_pb2.ExportEventsRequest, context: Context
    ) -> AsyncIterator[audit_pb2.ExportEventsResponse]:
        # Up to the head as it is now: the export's own event comes after it.
        last, _ = await self._log.head()
        async for event in self._log.export(min(request.from_sequence, MAX_SEQUENCE)):
            if event.sequence > last:
                return
            yield audit_pb2.ExportEventsResponse(event=event)

    @unary
    async def ListAnchors(
        self, request: audit_pb2.ListAnchorsRequest, context: Context
    ) -> audit_pb2.ListAnchorsResponse:
        return audit_pb2.ListAnchorsResponse(anchors=await self._log.anchors())
