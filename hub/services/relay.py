"""tonglian.v1.Relay over gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from hub.errors import InvalidInput
from hub.paging import id_token, page_size, sequence_token, split_page
from hub.relay.relay import Relay
from hub.services.status import Context, streaming, unary
from tonglian.v1 import relay_pb2, relay_pb2_grpc

DEFAULT_PAGE = 100
MAX_PAGE = 1000
PAGE_BYTES = 4 * 1024 * 1024


class RelayService(relay_pb2_grpc.RelayServicer):
    def __init__(self, relay: Relay) -> None:
        self._relay = relay

    @unary
    async def CreateRoute(
        self, request: relay_pb2.CreateRouteRequest, context: Context
    ) -> relay_pb2.CreateRouteResponse:
        if not request.HasField("route"):
            raise InvalidInput("route is required")
        return relay_pb2.CreateRouteResponse(route=await self._relay.create_route(request.route))

    @unary
    async def GetRoute(
        self, request: relay_pb2.GetRouteRequest, context: Context
    ) -> relay_pb2.GetRouteResponse:
        return relay_pb2.GetRouteResponse(route=await self._relay.get_route(request.route_id))

    @unary
    async def ListRoutes(
        self, request: relay_pb2.ListRoutesRequest, context: Context
    ) -> relay_pb2.ListRoutesResponse:
        size = page_size(request.page_size, DEFAULT_PAGE, MAX_PAGE)
        routes, more = split_page(
            await self._relay.list_routes(id_token(request.page_token), size + 1), size
        )
        return relay_pb2.ListRoutesResponse(
            routes=routes, next_page_token=routes[-1].route_id if more else ""
        )

    @unary
    async def PauseRoute(
        self, request: relay_pb2.PauseRouteRequest, context: Context
    ) -> relay_pb2.PauseRouteResponse:
        return relay_pb2.PauseRouteResponse(route=await self._relay.pause(request.route_id))

    @unary
    async def ResumeRoute(
        self, request: relay_pb2.ResumeRouteRequest, context: Context
    ) -> relay_pb2.ResumeRouteResponse:
        return relay_pb2.ResumeRouteResponse(route=await self._relay.resume(request.route_id))

    @unary
    async def DeleteRoute(
        self, request: relay_pb2.DeleteRouteRequest, context: Context
    ) -> relay_pb2.DeleteRouteResponse:
        await self._relay.delete(request.route_id)
        return relay_pb2.DeleteRouteResponse()

    @unary
    async def ListDeliveries(
        self, request: relay_pb2.ListDeliveriesRequest, context: Context
    ) -> relay_pb2.ListDeliveriesResponse:
        size = page_size(request.page_size, DEFAULT_PAGE, MAX_PAGE)
        rows, more = split_page(
            await self._relay.list_deliveries(
                request.route_id, request.state, sequence_token(request.page_token), size + 1
            ),
            size,
        )
        # A page also ends at PAGE_BYTES, so large records never exceed the message limit.
        total = 0
        for i, (_, d) in enumerate(rows):
            total += d.ByteSize()
            if total > PAGE_BYTES and i > 0:
                rows, more = rows[:i], True
                break
        return relay_pb2.ListDeliveriesResponse(
            deliveries=[d for _, d in rows], next_page_token=str(rows[-1][0]) if more else ""
        )

    @unary
    async def GetDelivery(
        self, request: relay_pb2.GetDeliveryRequest, context: Context
    ) -> relay_pb2.GetDeliveryResponse:
        return relay_pb2.GetDeliveryResponse(
            delivery=await self._relay.get_delivery(request.delivery_id)
        )

    @streaming
    async def WatchDeliveries(
        self, request: relay_pb2.WatchDeliveriesRequest, context: Context
    ) -> AsyncIterator[relay_pb2.WatchDeliveriesResponse]:
        if request.route_id:
            await self._relay.get_route(request.route_id)
        queue = self._relay.notifier.subscribe()
        try:
            while True:
                d = await queue.get()
                if d is None:
                    await context.abort(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        "this watcher fell more than 1000 updates behind and was dropped; "
                        "reconnect and catch up with ListDeliveries",
                    )
                    return
                if not request.route_id or d.route_id == request.route_id:
                    yield relay_pb2.WatchDeliveriesResponse(delivery=d)
        finally:
            self._relay.notifier.unsubscribe(queue)

    @unary
    async def RetryDelivery(
        self, request: relay_pb2.RetryDeliveryRequest, context: Context
    ) -> relay_pb2.RetryDeliveryResponse:
        return relay_pb2.RetryDeliveryResponse(
            delivery=await self._relay.retry(request.delivery_id)
        )
