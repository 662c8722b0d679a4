"""The relay as the hub runs it: routes (create, pause, resume, delete), one scan per
source shared by the active routes that read it, one deliverer, and the delivery views
for the Relay service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from datetime import UTC, datetime

from hub.audit.log import AuditLog
from hub.catalog.catalog import SchemaCatalog
from hub.errors import ChainUnreachable, FailedPrecondition, InvalidInput, NotFound
from hub.registry import ChainRegistry
from hub.relay.deliverer import Deliverer
from hub.relay.leases import LEASE_TTL, LeaseKeeper
from hub.relay.notifier import DeliveryNotifier
from hub.relay.retry import RetryPolicy
from hub.relay.worker import BackPressure, SourceKey, SourceScan
from hub.router import Router
from hub.store.base import DeliveryUpdate, Store
from hub.verification import Verifier
from tonglian.v1 import relay_pb2

log = logging.getLogger("tonglian.relay")

ROUTE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_FIELD = 256
RETRYABLE = (
    relay_pb2.DELIVERY_STATE_PARKED,
    relay_pb2.DELIVERY_STATE_FAILED,
    relay_pb2.DELIVERY_STATE_REJECTED,
)
# Rejections of the record itself: retrying cannot make it valid.
RECORD_REJECTIONS = (relay_pb2.REJECTION_PROOF, relay_pb2.REJECTION_SCHEMA)


class Relay:
    def __init__(
        self,
        store: Store,
        registry: ChainRegistry,
        router: Router,
        verifier: Verifier,
        catalog: SchemaCatalog,
        audit: AuditLog,
        retry: RetryPolicy | None = None,
        back_pressure: BackPressure | None = None,
        lease_ttl: float = LEASE_TTL,
    ) -> None:
        self._store = store
        self._registry = registry
        self._router = router
        self._verifier = verifier
        self._catalog = catalog
        self._audit = audit
        self._retry = retry or RetryPolicy()
        self._bp = back_pressure or BackPressure()
        self.notifier = DeliveryNotifier()
        # Deliveries other replicas moved reach this replica's watchers too.
        store.on_delivery_changed(self.notifier.publish)
        self._wakeup = asyncio.Event()
        # One scan per source, and which source each active route reads.
        self._sources: dict[SourceKey, tuple[SourceScan, asyncio.Task[None]]] = {}
        self._source_of: dict[str, SourceKey] = {}
        # The lease epoch under which this replica works each route it holds.
        self._epochs: dict[str, int] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._deliverer_task: asyncio.Task[None] | None = None
        self._leases = LeaseKeeper(store, self._reconcile, lease_ttl)
        self._lease_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._leases.sweep()
        self._lease_task = asyncio.create_task(self._leases.run(), name="route leases")
        deliverer = Deliverer(
            self._store,
            self._registry,
            self.notifier,
            self._wakeup,
            self._retry,
            self._audit,
        )
        self._deliverer_task = asyncio.create_task(deliverer.run(), name="deliverer")

    async def stop(self) -> None:
        tasks = [task for _, task in self._sources.values()]
        for extra in (self._deliverer_task, self._lease_task):
            if extra:
                tasks.append(extra)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._sources.clear()
        self._source_of.clear()
        self._epochs.clear()
        await self._leases.release_all()

    def sources(self) -> dict[SourceKey, SourceScan]:
        """The running source scans (what the routes share), for status and tests."""
        return {key: scan for key, (scan, _) in self._sources.items()}

    def _reconcile(self, route: relay_pb2.Route, epoch: int | None) -> None:
        """Keeps `route` in its source's scan exactly while this replica holds its lease
        (under that epoch) and the route is active."""
        route_id = route.route_id
        held = self._epochs.get(route_id)
        wanted = epoch is not None and route.state == relay_pb2.ROUTE_STATE_ACTIVE
        if route_id in self._source_of and held != epoch:
            log.warning(
                "route %s: lease epoch %s lost (now %s); this replica stops working it",
                route_id, held, "another replica's" if epoch is None else epoch,
            )  # fmt: skip
        if route_id in self._source_of and (not wanted or held != epoch):
            self._epochs.pop(route_id, None)
            task = asyncio.ensure_future(self._stop_worker(route_id))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
            if not wanted:
                return
        if wanted and epoch is not None and route_id not in self._source_of:
            self._epochs[route_id] = epoch
            self._start_worker(route, epoch)

    def _start_worker(self, route: relay_pb2.Route, epoch: int | None = None) -> None:
        """Joins the route to its source's scan (fenced by `epoch`), starting the scan if
        none runs."""
        key = (route.source_chain_id, route.source_namespace)
        entry = self._sources.get(key)
        if entry is None or entry[1].done():
            scan = SourceScan(
                key,
                self._store,
                self._registry,
                self._router,
                self._verifier,
                self._catalog,
                self._audit,
                self._wakeup,
                self._bp,
                self._retry,
            )
            task = asyncio.create_task(scan.run(), name=f"source {key[0]}/{key[1]}")
            entry = self._sources[key] = (scan, task)
        entry[0].add(route.route_id, epoch)
        self._source_of[route.route_id] = key

    async def _stop_worker(self, route_id: str) -> None:
        """Takes the route out of its source's scan; the scan ends with its last route."""
        key = self._source_of.pop(route_id, None)
        entry = self._sources.get(key) if key else None
        if key is None or entry is None:
            return
        scan, task = entry
        if scan.route_ids - {route_id}:
            await scan.remove(route_id)
            return
        del self._sources[key]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # Routes.

    async def create_route(self, route: relay_pb2.Route) -> relay_pb2.Route:
        route_id = route.route_id or f"route-{secrets.token_hex(4)}"
        if not ROUTE_ID.match(route_id):
            raise InvalidInput(
                f"route id {route_id[:80]!r} is not valid: use 1 to 63 lower-case letters, "
                "digits and '-', starting with a letter or digit"
            )
        for name in ("source_namespace", "schema", "key_prefix", "destination_namespace"):
            if len(getattr(route, name).encode()) > MAX_FIELD:
                raise InvalidInput(f"route.{name} is longer than {MAX_FIELD} bytes")
        if not route.destination_namespace:
            raise InvalidInput("route.destination_namespace is required")
        source = await self._registry.get(route.source_chain_id)
        destination = await self._registry.get(route.destination_chain_id)
        try:
            await (await self._router.adapter_for(destination)).require_submit()
        except ChainUnreachable:
            pass  # down now: the deliverer asks again before its first submit
        if (source.chain_id, route.source_namespace) == (
            destination.chain_id,
            route.destination_namespace,
        ):
            raise InvalidInput("a route cannot forward a namespace into itself")
        stored = relay_pb2.Route()
        stored.CopyFrom(route)
        stored.route_id = route_id
        stored.state = relay_pb2.ROUTE_STATE_ACTIVE
        stored.ClearField("checkpoint_height")
        stored.ClearField("checkpoint_block_hash")
        stored.ClearField("backlog")
        stored.created_at.FromDatetime(datetime.now(UTC))
        await self._store.add_route(stored)
        await self._leases.take(stored)
        return await self.get_route(route_id)

    async def get_route(self, route_id: str) -> relay_pb2.Route:
        route = await self._store.get_route(route_id) if route_id else None
        if route is None:
            raise NotFound(f"no route {route_id[:80]!r}; `tonglian routes list` shows them")
        await self._fill_backlog(route)
        return route

    async def _fill_backlog(self, route: relay_pb2.Route) -> None:
        b = await self._store.backlog(route.route_id)
        route.backlog.CopyFrom(
            relay_pb2.RouteBacklog(
                pending=b.pending,
                submitted=b.submitted,
                parked=b.parked + b.rejected,
                oldest_pending_age_seconds=b.oldest_pending_age,
            )
        )

    async def list_routes(self, after: str, limit: int) -> list[relay_pb2.Route]:
        routes = await self._store.list_routes(after, limit)
        for route in routes:
            await self._fill_backlog(route)
        return routes

    async def pause(self, route_id: str) -> relay_pb2.Route:
        await self.get_route(route_id)
        await self._store.set_route_state(route_id, relay_pb2.ROUTE_STATE_PAUSED)
        await self._stop_worker(route_id)
        return await self.get_route(route_id)

    async def resume(self, route_id: str) -> relay_pb2.Route:
        await self.get_route(route_id)
        await self._store.set_route_state(route_id, relay_pb2.ROUTE_STATE_ACTIVE)
        await self._leases.take(await self.get_route(route_id))
        return await self.get_route(route_id)

    async def delete(self, route_id: str) -> None:
        await self._stop_worker(route_id)
        if not await self._store.delete_route(route_id):
            raise NotFound(f"no route {route_id[:80]!r}")

    # Deliveries.

    async def get_delivery(self, delivery_id: str) -> relay_pb2.Delivery:
        d = await self._store.get_delivery(delivery_id) if delivery_id else None
        if d is None:
            raise NotFound(f"no delivery {delivery_id[:80]!r}")
        return d

    async def list_deliveries(
        self, route_id: str, state: int, after_seq: int, limit: int
    ) -> list[tuple[int, relay_pb2.Delivery]]:
        return await self._store.list_deliveries(route_id, state, after_seq, limit)

    async def retry(self, delivery_id: str) -> relay_pb2.Delivery:
        d = await self.get_delivery(delivery_id)
        if d.state not in RETRYABLE:
            raise FailedPrecondition(
                f"delivery {delivery_id} is {relay_pb2.DeliveryState.Name(d.state)}; "
                "only a parked, failed or destination-rejected delivery can be retried"
            )
        if d.state == relay_pb2.DELIVERY_STATE_REJECTED and d.rejection in RECORD_REJECTIONS:
            raise FailedPrecondition(
                f"delivery {delivery_id} was parked because it failed verification "
                f"({d.last_error}); a forged or invalid record "
                "is never forwarded"
            )
        await self._store.update_deliveries(
            [
                DeliveryUpdate(
                    delivery_id,
                    state=relay_pb2.DELIVERY_STATE_PENDING,
                    attempts=0,
                    next_attempt_at=0,
                    last_error="",
                    dest_tx_id=d.destination_tx_id,
                    dest_block_height=d.destination_block_height,
                )
            ]
        )
        self._wakeup.set()
        return await self.get_delivery(delivery_id)
