"""tonglian.v1.Relay over gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator

from hub.audit.call import current_call
from hub.errors import InvalidInput, WatchOverflow
from hub.paging import id_token, page_size, sequence_token, split_page
from hub.relay.relay import Relay
from hub.services.status import Context, streaming, unary
from tonglian.v1 import relay_pb2, relay_pb2_grpc

DEFAULT_PAGE = 100
MAX_PAGE = 1000
PAGE_BYTES = 4 * 1024 * 1024


def require_scope(route: relay_pb2.Route, what: str) -> None:
    """PermissionDenied unless the caller may operate both chains of `route`."""
    scope = current_call().operator_scope()
    scope.require(route.source_chain_id, f"{what}, its source")
    scope.require(route.destination_chain_id, f"{what}, its destination")


class RelayService(relay_pb2_grpc.RelayServicer):
    def __init__(self, relay: Relay) -> None:
        self._relay = relay

    async def _route(self, route_id: str, what: str) -> relay_pb2.Route:
        route = await self._relay.get_route(route_id)
        require_scope(route, what)
        return route

    async def _delivery(self, delivery_id: str, what: str) -> relay_pb2.Delivery:
        delivery = await self._relay.get_delivery(delivery_id)
        await self._route(delivery.route_id, what)
        return delivery

    def _all_routes(self, route_id: str, what: str) -> None:
        """A call about every route needs every chain; naming one route narrows it."""
        if not route_id:
            current_call().operator_scope().require_everywhere(f"{what} of every route")

    @unary
    async def CreateRoute(
        self, request: relay_pb2.CreateRouteRequest, context: Context
    ) -> relay_pb2.CreateRouteResponse:
        if not request.HasField("route"):
            raise InvalidInput("route is required")
        require_scope(request.route, "create a route")
        return relay_pb2.CreateRouteResponse(route=await self._relay.create_route(request.route))

    @unary
    async def GetRoute(
        self, request: relay_pb2.GetRouteRequest, context: Context
    ) -> relay_pb2.GetRouteResponse:
        return relay_pb2.GetRouteResponse(route=await self._route(request.route_id, "show"))

    @unary
    async def ListRoutes(
        self, request: relay_pb2.ListRoutesRequest, context: Context
    ) -> relay_pb2.ListRoutesResponse:
        size = page_size(request.page_size, DEFAULT_PAGE, MAX_PAGE)
        routes, more = split_page(
            await self._relay.list_routes(id_token(request.page_token), size + 1), size
        )
        scope = current_call().operator_scope()
        return relay_pb2.ListRoutesResponse(
            # Routes out of scope are left out; the token still pages the whole list.
            routes=[
                r
                for r in routes
                if scope.covers(r.source_chain_id) and scope.covers(r.destination_chain_id)
            ],
            next_page_token=routes[-1].route_id if more else "",
        )

    @unary
    async def PauseRoute(
        self, request: relay_pb2.PauseRouteRequest, context: Context
    ) -> relay_pb2.PauseRouteResponse:
        await self._route(request.route_id, "pause")
        return relay_pb2.PauseRouteResponse(route=await self._relay.pause(request.route_id))

    @unary
    async def ResumeRoute(
        self, request: relay_pb2.ResumeRouteRequest, context: Context
    ) -> relay_pb2.ResumeRouteResponse:
        await self._route(request.route_id, "resume")
        return relay_pb2.ResumeRouteResponse(route=await self._relay.resume(request.route_id))

    @unary
    async def DeleteRoute(
        self, request: relay_pb2.DeleteRouteRequest, context: Context
    ) -> relay_pb2.DeleteRouteResponse:
        await self._route(request.route_id, "delete")
        await self._relay.delete(request.route_id)
        return relay_pb2.DeleteRouteResponse()

    @unary
    async def ListDeliveries(
        self, request: relay_pb2.ListDeliveriesRequest, context: Context
    ) -> relay_pb2.ListDeliveriesResponse:
        self._all_routes(request.route_id, "list deliveries")
        if request.route_id:
            await self._route(request.route_id, "list deliveries")
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
            delivery=await self._delivery(request.delivery_id, "show a delivery")
        )

    @streaming
    async def WatchDeliveries(
        self, request: relay_pb2.WatchDeliveriesRequest, context: Context
    ) -> AsyncIterator[relay_pb2.WatchDeliveriesResponse]:
        self._all_routes(request.route_id, "watch deliveries")
        if request.route_id:
            await self._route(request.route_id, "watch deliveries")
        queue = self._relay.notifier.subscribe()
        try:
            while True:
                d = await queue.get()
                if d is None:
                    raise WatchOverflow(
                        "this watcher fell more than 1000 updates behind and was dropped; "
                        "reconnect and catch up with ListDeliveries"
                    )
                if not request.route_id or d.route_id == request.route_id:
                    yield relay_pb2.WatchDeliveriesResponse(delivery=d)
        finally:
            self._relay.notifier.unsubscribe(queue)

    @unary
    async def RetryDelivery(
        self, request: relay_pb2.RetryDeliveryRequest, context: Context
    ) -> relay_pb2.RetryDeliveryResponse:
        await self._delivery(request.delivery_id, "retry a delivery")
        return relay_pb2.RetryDeliveryResponse(
            delivery=await self._relay.retry(request.delivery_id)
        )
