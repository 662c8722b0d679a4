"""tonglian.v1.Audit over gRPC: maps messages to hub/usecases/audit_reading.py (operators
whose rule covers every chain)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from hub.audit.call import current_call
from hub.audit.chain_anchors import HEAD_KEY_PREFIX
from hub.services.status import Context, streaming, unary
from hub.usecases.audit_reading import AuditReading
from tonglian.v1 import audit_pb2, audit_pb2_grpc


class AuditService(audit_pb2_grpc.AuditServicer):
    def __init__(self, reading: AuditReading) -> None:
        self._reading = reading

    @unary
    async def ListEvents(
        self, request: audit_pb2.ListEventsRequest, context: Context
    ) -> audit_pb2.ListEventsResponse:
        call = current_call()
        page = await self._reading.list_events(
            call.principal,
            request.from_sequence,
            request.page_size,
            request.principal,
            request.action,
            call,
        )
        return audit_pb2.ListEventsResponse(events=page.events, next_sequence=page.next_sequence)

    @unary
    async def GetLogHead(
        self, request: audit_pb2.GetLogHeadRequest, context: Context
    ) -> audit_pb2.GetLogHeadResponse:
        call = current_call()
        head = await self._reading.head(call.principal, call)
        return audit_pb2.GetLogHeadResponse(
            sequence=head.sequence,
            hash=head.hash,
            anchor_chain_id=head.anchor_chain_id,
            anchor_namespace=head.anchor_namespace,
        )

    @streaming
    async def ExportEvents(
        self, request: audit_pb2.ExportEventsRequest, context: Context
    ) -> AsyncIterator[audit_pb2.ExportEventsResponse]:
        call = current_call()
        export = self._reading.export(call.principal, request.from_sequence, call)
        async with aclosing(export) as events:
            async for event in events:
                yield audit_pb2.ExportEventsResponse(event=event)

    @unary
    async def ListAnchors(
        self, request: audit_pb2.ListAnchorsRequest, context: Context
    ) -> audit_pb2.ListAnchorsResponse:
        call = current_call()
        return audit_pb2.ListAnchorsResponse(
            anchors=await self._reading.anchors(call.principal, call)
        )

    @unary
    async def ListChainHeads(
        self, request: audit_pb2.ListChainHeadsRequest, context: Context
    ) -> audit_pb2.ListChainHeadsResponse:
        call = current_call()
        chain_id, namespace = self._reading.anchor_chain
        if chain_id:
            call.target = f"{chain_id}/{namespace}/{HEAD_KEY_PREFIX}*"
        page = await self._reading.chain_heads(
            call.principal, request.page_size, request.page_token, call
        )
        return audit_pb2.ListChainHeadsResponse(
            records=page.records,
            next_page_token=page.next_page_token,
            chain_id=chain_id,
            namespace=namespace,
        )
