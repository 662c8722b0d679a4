"""Routes and deliveries, administered by operators within the chains their rule names.

Each operation asks hub/usecases/authorization.py for the caller's operator scope
first, then checks the chains it touches against it: both chains of a route, or every
chain for a call about every route.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from hub.errors import InvalidInput, WatchOverflow
from hub.paging import Page, id_token, page_size, sequence_token, split_page
from hub.policy import OperatorScope
from hub.principal import Principal
from hub.relay.relay import Relay
from hub.usecases.audit_record import AuditRecord
from hub.usecases.authorization import Operators
from tonglian.v1 import relay_pb2

DEFAULT_PAGE = 100
MAX_PAGE = 1000
PAGE_BYTES = 4 * 1024 * 1024


def require_scope(scope: OperatorScope, route: relay_pb2.Route, what: str) -> None:
    """PermissionDenied unless `scope` covers both chains of `route`."""
    scope.require(route.source_chain_id, f"{what}, its source")
    scope.require(route.destination_chain_id, f"{what}, its destination")


class RelayAdmin:
    def __init__(self, relay: Relay, operators: Operators) -> None:
        self._relay = relay
        self._operators = operators

    def _authorize(self, principal: Principal, method: str, audit: AuditRecord) -> OperatorScope:
        return self._operators.authorize(principal, f"Relay.{method}", audit)

    async def _route(self, scope: OperatorScope, route_id: str, what: str) -> relay_pb2.Route:
        route = await self._relay.get_route(route_id)
        require_scope(scope, route, what)
        return route

    async def _delivery(
        self, scope: OperatorScope, delivery_id: str, what: str
    ) -> relay_pb2.Delivery:
        delivery = await self._relay.get_delivery(delivery_id)
        await self._route(scope, delivery.route_id, what)
        return delivery

    async def _one_or_all_routes(self, scope: OperatorScope, route_id: str, what: str) -> None:
        """A call about every route needs every chain; naming one route narrows it."""
        if not route_id:
            scope.require_everywhere(f"{what} of every route")
        else:
            await self._route(scope, route_id, what)

    async def create_route(
        self, principal: Principal, route: relay_pb2.Route | None, audit: AuditRecord
    ) -> relay_pb2.Route:
        """Creates `route` (None: not given) between two chains the caller operates."""
        scope = self._authorize(principal, "CreateRoute", audit)
        if route is None:
            raise InvalidInput("route is required")
        require_scope(scope, route, "create a route")
        return await self._relay.create_route(route)

    async def get_route(
        self, principal: Principal, route_id: str, audit: AuditRecord
    ) -> relay_pb2.Route:
        scope = self._authorize(principal, "GetRoute", audit)
        return await self._route(scope, route_id, "show")

    async def list_routes(
        self, principal: Principal, size: int, token: str, audit: AuditRecord
    ) -> Page[relay_pb2.Route]:
        """A page of the routes the caller operates; routes out of its scope are left out,
        while the token still pages the whole list."""
        scope = self._authorize(principal, "ListRoutes", audit)
        size = page_size(size, DEFAULT_PAGE, MAX_PAGE)
        routes, more = split_page(await self._relay.list_routes(id_token(token), size + 1), size)
        return Page(
            [
                r
                for r in routes
                if scope.covers(r.source_chain_id) and scope.covers(r.destination_chain_id)
            ],
            routes[-1].route_id if more else "",
        )

    async def pause_route(
        self, principal: Principal, route_id: str, audit: AuditRecord
    ) -> relay_pb2.Route:
        scope = self._authorize(principal, "PauseRoute", audit)
        await self._route(scope, route_id, "pause")
        return await self._relay.pause(route_id)

    async def resume_route(
        self, principal: Principal, route_id: str, audit: AuditRecord
    ) -> relay_pb2.Route:
        scope = self._authorize(principal, "ResumeRoute", audit)
        await self._route(scope, route_id, "resume")
        return await self._relay.resume(route_id)

    async def delete_route(self, principal: Principal, route_id: str, audit: AuditRecord) -> None:
        scope = self._authorize(principal, "DeleteRoute", audit)
        await self._route(scope, route_id, "delete")
        await self._relay.delete(route_id)

    async def list_deliveries(
        self,
        principal: Principal,
        route_id: str,
        state: int,
        size: int,
        token: str,
        audit: AuditRecord,
    ) -> Page[relay_pb2.Delivery]:
        """A page of the deliveries of one route ("" for every route) in `state` (0: any)."""
        scope = self._authorize(principal, "ListDeliveries", audit)
        await self._one_or_all_routes(scope, route_id, "list deliveries")
        size = page_size(size, DEFAULT_PAGE, MAX_PAGE)
        rows, more = split_page(
            await self._relay.list_deliveries(route_id, state, sequence_token(token), size + 1),
            size,
        )
        # A page also ends at PAGE_BYTES, so large records never exceed the message limit.
        total = 0
        for i, (_, d) in enumerate(rows):
            total += d.ByteSize()
            if total > PAGE_BYTES and i > 0:
                rows, more = rows[:i], True
                break
        return Page([d for _, d in rows], str(rows[-1][0]) if more else "")

    async def get_delivery(
        self, principal: Principal, delivery_id: str, audit: AuditRecord
    ) -> relay_pb2.Delivery:
        scope = self._authorize(principal, "GetDelivery", audit)
        return await self._delivery(scope, delivery_id, "show a delivery")

    async def watch_deliveries(
        self, principal: Principal, route_id: str, audit: AuditRecord
    ) -> AsyncGenerator[relay_pb2.Delivery, None]:
        """Deliveries of one route ("" for every route) as their state changes."""
        scope = self._authorize(principal, "WatchDeliveries", audit)
        await self._one_or_all_routes(scope, route_id, "watch deliveries")
        queue = self._relay.notifier.subscribe()
        try:
            while True:
                d = await queue.get()
                if d is None:
                    raise WatchOverflow(
                        "this watcher fell more than 1000 updates behind and was dropped; "
                        "reconnect and catch up with ListDeliveries"
                    )
                if not route_id or d.route_id == route_id:
                    yield d
        finally:
            self._relay.notifier.unsubscribe(queue)

    async def retry_delivery(
        self, principal: Principal, delivery_id: str, audit: AuditRecord
    ) -> relay_pb2.Delivery:
        scope = self._authorize(principal, "RetryDelivery", audit)
        await self._delivery(scope, delivery_id, "retry a delivery")
        return await self._relay.retry(delivery_id)
