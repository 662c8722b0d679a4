"""tonglian.v1.Relay over gRPC: maps messages to the relay admin use cases
(hub/usecases/relay_admin.py), which check the caller's operator rights."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from hub.audit.call import current_call
from hub.services.status import Context, streaming, unary
from hub.usecases.relay_admin import RelayAdmin
from tonglian.v1 import relay_pb2, relay_pb2_grpc


class RelayService(relay_pb2_grpc.RelayServicer):
    def __init__(self, admin: RelayAdmin) -> None:
        self._admin = admin

    @unary
    async def CreateRoute(
        self, request: relay_pb2.CreateRouteRequest, context: Context
    ) -> relay_pb2.CreateRouteResponse:
        call = current_call()
        route = request.route if request.HasField("route") else None
        return relay_pb2.CreateRouteResponse(
            route=await self._admin.create_route(call.principal, route, call)
        )

    @unary
    async def GetRoute(
        self, request: relay_pb2.GetRouteRequest, context: Context
    ) -> relay_pb2.GetRouteResponse:
        call = current_call()
        return relay_pb2.GetRouteResponse(
            route=await self._admin.get_route(call.principal, request.route_id, call)
        )

    @unary
    async def ListRoutes(
        self, request: relay_pb2.ListRoutesRequest, context: Context
    ) -> relay_pb2.ListRoutesResponse:
        call = current_call()
        page = await self._admin.list_routes(
            call.principal, request.page_size, request.page_token, call
        )
        return relay_pb2.ListRoutesResponse(routes=page.items, next_page_token=page.next_page_token)

    @unary
    async def PauseRoute(
        self, request: relay_pb2.PauseRouteRequest, context: Context
    ) -> relay_pb2.PauseRouteResponse:
        call = current_call()
        return relay_pb2.PauseRouteResponse(
            route=await self._admin.pause_route(call.principal, request.route_id, call)
        )

    @unary
    async def ResumeRoute(
        self, request: relay_pb2.ResumeRouteRequest, context: Context
    ) -> relay_pb2.ResumeRouteResponse:
        call = current_call()
        return relay_pb2.ResumeRouteResponse(
            route=await self._admin.resume_route(call.principal, request.route_id, call)
        )

    @unary
    async def DeleteRoute(
        self, request: relay_pb2.DeleteRouteRequest, context: Context
    ) -> relay_pb2.DeleteRouteResponse:
        call = current_call()
        await self._admin.delete_route(call.principal, request.route_id, call)
        return relay_pb2.DeleteRouteResponse()

    @unary
    async def ListDeliveries(
        self, request: relay_pb2.ListDeliveriesRequest, context: Context
    ) -> relay_pb2.ListDeliveriesResponse:
        call = current_call()
        page = await self._admin.list_deliveries(
            call.principal,
            request.route_id,
            request.state,
            request.page_size,
            request.page_token,
            call,
        )
        return relay_pb2.ListDeliveriesResponse(
            deliveries=page.items, next_page_token=page.next_page_token
        )

    @unary
    async def GetDelivery(
        self, request: relay_pb2.GetDeliveryRequest, context: Context
    ) -> relay_pb2.GetDeliveryResponse:
        call = current_call()
        return relay_pb2.GetDeliveryResponse(
            delivery=await self._admin.get_delivery(call.principal, request.delivery_id, call)
        )

    @streaming
    async def WatchDeliveries(
        self, request: relay_pb2.WatchDeliveriesRequest, context: Context
    ) -> AsyncIterator[relay_pb2.WatchDeliveriesResponse]:
        call = current_call()
        watch = self._admin.watch_deliveries(call.principal, request.route_id, call)
        async with aclosing(watch) as deliveries:
            async for delivery in deliveries:
                yield relay_pb2.WatchDeliveriesResponse(delivery=delivery)

    @unary
    async def RetryDelivery(
        self, request: relay_pb2.RetryDeliveryRequest, context: Context
    ) -> relay_pb2.RetryDeliveryResponse:
        call = current_call()
        return relay_pb2.RetryDeliveryResponse(
            delivery=await self._admin.retry_delivery(call.principal, request.delivery_id, call)
        )
