"""Route leases as a replica keeps them: take every route it can, renew them, and
tell the relay which routes it gained (with the fencing epoch) and which it lost.

Every `ttl / 3` seconds the keeper asks the store for each route's lease; a
replica that stops renewing (killed, paused, cut off) loses its routes to the
first other replica that asks after the expiry, within `ttl + ttl / 3`. What a
replica lost it cannot commit: the store checks the epoch in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from hub.errors import HubError
from hub.store.base import Store
from tonglian.v1 import relay_pb2

log = logging.getLogger("tonglian.relay")

# Seconds a lease lasts without renewal: a dead holder's routes move on after this.
LEASE_TTL = 6.0
PAGE = 500


class LeaseKeeper:
    def __init__(
        self,
        store: Store,
        reconcile: Callable[[relay_pb2.Route, int | None], None],
        ttl: float = LEASE_TTL,
    ) -> None:
        """`reconcile(route, epoch)` is told, on every pass, the epoch under which this
        replica holds a route (None: it does not): the relay starts, restarts or stops
        the route's worker to match, and to match the route's state."""
        self._store = store
        self._reconcile = reconcile
        self.ttl = ttl
        self.held: dict[str, int] = {}

    async def take(self, route: relay_pb2.Route) -> int | None:
        """Asks for (or renews) one route's lease now, and reconciles its worker."""
        epoch = await self._store.acquire_lease(route.route_id, self.ttl)
        if epoch is None:
            self.held.pop(route.route_id, None)
        else:
            self.held[route.route_id] = epoch
        self._reconcile(route, epoch)
        return epoch

    async def sweep(self) -> None:
        """One pass over every route: take or renew what can be had."""
        seen: set[str] = set()
        after = ""
        while batch := await self._store.list_routes(after, PAGE):
            for route in batch:
                seen.add(route.route_id)
                await self.take(route)
            after = batch[-1].route_id
        for route_id in set(self.held) - seen:  # deleted meanwhile
            del self.held[route_id]
            self._reconcile(relay_pb2.Route(route_id=route_id), None)

    async def run(self) -> None:
        """Sweeps until cancelled; a store that cannot be reached is asked again."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except HubError as exc:
                log.warning("lease sweep failed (%s); trying again", exc)
            except Exception:
                log.exception("lease sweep failed; trying again")

    async def release_all(self) -> None:
        """Hands every held route back at once (a clean stop)."""
        for route_id in list(self.held):
            with contextlib.suppress(Exception):
                await self._store.release_lease(route_id)
        self.held.clear()
