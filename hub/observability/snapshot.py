"""The hub's state at one moment, as the status page shows it and /metrics exports it.

Taken on demand (each scrape, each page view) from the store and the last heads
the chains reported; a watcher asks every chain for its head in the background,
so neither a scrape nor a page view waits on a slow chain. A snapshot for one
operator holds only what that operator may see (`Visible`, decided by the operator
use cases in hub/observability/operator_view.py); a section it may not see is left
empty and named in `hidden` with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hub.audit.log import AuditLog
from hub.errors import HubError
from hub.observability.activity import DELIVERIES, QUERIES
from hub.observability.adapter_calls import HEADS, head_failed
from hub.observability.metrics import DELIVERY_STATES, METRICS, HubMetrics
from hub.registry import ChainRegistry
from hub.relay.relay import Relay
from hub.router import Router
from hub.store.base import Store
from tonglian.v1 import audit_pb2, chains_pb2, relay_pb2

log = logging.getLogger("tonglian.hub")

# At most this many chains and routes are shown and exported (ids are operator-chosen).
MAX_LISTED = 200
RECENT_DELIVERIES = 15
# A viewer who sees some routes only gets its latest deliveries among this many.
RECENT_SCANNED = 4 * RECENT_DELIVERIES
HEAD_POLL = 10.0
# Sections of the snapshot a viewer may be refused (keys of `Snapshot.hidden`).
HUB_WIDE = "hub-wide"
AUDIT = "audit"


@dataclass(frozen=True)
class AuditView:
    sequence: int
    head: bytes
    anchors: list[audit_pb2.AuditAnchor]


@dataclass(frozen=True)
class Visible:
    """What one viewer may see: chains `covers` accepts, these routes (and their
    deliveries), the audit log when `audit` is given, and no section named in `hidden`."""

    covers: Callable[[str], bool]
    routes: list[relay_pb2.Route]
    audit: AuditView | None
    hidden: dict[str, str]


@dataclass(frozen=True)
class ChainView:
    chain_id: str
    kind: str
    adapter: str
    # "ok", "unreachable: <why>", or "unknown" before the first answer.
    health: str
    final_height: int | None
    last_block_time: datetime | None


@dataclass(frozen=True)
class RouteView:
    route_id: str
    source: str
    destination: str
    state: str
    backlog: int
    oldest_pending_seconds: float
    # The replica working the route (holder@epoch), "-" while none holds its lease.
    lease_owner: str


@dataclass(frozen=True)
class Snapshot:
    chains: list[ChainView]
    routes: list[RouteView]
    deliveries: dict[str, int]
    recent: list[relay_pb2.Delivery]
    audit_sequence: int
    audit_head: bytes
    last_anchor_at: datetime | None
    last_anchor_chain: str
    queries_per_minute: list[int] = field(default_factory=list)
    deliveries_per_minute: list[int] = field(default_factory=list)
    # Sections (HUB_WIDE, AUDIT) the viewer may not see, with why: they are left empty.
    hidden: dict[str, str] = field(default_factory=dict)
    taken_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def delivery_states(counts: dict[int, int]) -> dict[str, int]:
    """Store counts per DeliveryState as the exported states. A superseded delivery (the
    destination already held a newer version) counts as confirmed: its effect is there."""
    out = {state: 0 for state in DELIVERY_STATES}
    for number, n in counts.items():
        name = (
            relay_pb2.DeliveryState.Name(relay_pb2.DeliveryState.ValueType(number))
            .removeprefix("DELIVERY_STATE_")
            .lower()
        )
        name = "confirmed" if name == "superseded" else name
        if name in out:
            out[name] += n
    return out


def _chain_view(chain: chains_pb2.Chain) -> ChainView:
    seen = HEADS.get(chain.chain_id)
    head = seen.head if seen else None
    if seen is None:
        health = "unknown"
    elif seen.error:
        health = f"unreachable: {seen.error}"
    else:
        health = "ok"
    block_time = None
    if head is not None and head.HasField("time"):
        block_time = head.time.ToDatetime(UTC)
    return ChainView(
        chain_id=chain.chain_id,
        kind=chains_pb2.ChainKind.Name(chain.kind).removeprefix("CHAIN_KIND_").lower(),
        adapter=chain.adapter.adapter,
        health=health,
        final_height=None if head is None else head.final_height,
        last_block_time=block_time,
    )


def _route_view(r: relay_pb2.Route) -> RouteView:
    return RouteView(
        route_id=r.route_id,
        source=f"{r.source_chain_id}/{r.source_namespace or '*'}",
        destination=f"{r.destination_chain_id}/{r.destination_namespace}",
        state=relay_pb2.RouteState.Name(r.state).removeprefix("ROUTE_STATE_").lower(),
        backlog=r.backlog.pending + r.backlog.submitted,
        oldest_pending_seconds=r.backlog.oldest_pending_age_seconds,
        lease_owner=f"{r.lease_holder}@{r.lease_epoch}" if r.lease_holder else "-",
    )


class HubState:
    """Reads the parts of a running hub that operators look at."""

    def __init__(
        self,
        store: Store,
        registry: ChainRegistry,
        router: Router,
        relay: Relay,
        audit: AuditLog,
        metrics: HubMetrics = METRICS,
    ) -> None:
        self._store = store
        self._registry = registry
        self._router = router
        self._relay = relay
        self._audit = audit
        self._metrics = metrics
        self._watcher: asyncio.Task[None] | None = None

    async def take(self, visible: Visible | None = None) -> Snapshot:
        """Everything (None: for /metrics, and on a plaintext listener), or what `visible`
        lets one operator see."""
        chains = await self._registry.list("", MAX_LISTED)
        if visible is None:
            routes = await self._relay.list_routes("", MAX_LISTED)
            recent = await self._store.recent_deliveries(RECENT_DELIVERIES)
            sequence, head = await self._audit.head()
            audit = AuditView(sequence, head, await self._audit.anchors())
            hidden: dict[str, str] = {}
        else:
            chains = [c for c in chains if visible.covers(c.chain_id)]
            routes = visible.routes
            shown = {r.route_id for r in routes}
            recent = [
                d
                for d in await self._store.recent_deliveries(RECENT_SCANNED)
                if d.route_id in shown
            ][:RECENT_DELIVERIES]
            audit = visible.audit or AuditView(0, b"", [])
            hidden = visible.hidden
        hub_wide = HUB_WIDE not in hidden
        last = audit.anchors[-1] if audit.anchors else None
        return Snapshot(
            chains=[_chain_view(c) for c in chains],
            routes=[_route_view(r) for r in routes],
            deliveries=delivery_states(await self._store.count_deliveries()) if hub_wide else {},
            recent=recent,
            audit_sequence=audit.sequence,
            audit_head=audit.head,
            last_anchor_at=last.anchored_at.ToDatetime(UTC) if last else None,
            last_anchor_chain=last.chain_id if last else "",
            queries_per_minute=QUERIES.series() if hub_wide else [],
            deliveries_per_minute=DELIVERIES.series() if hub_wide else [],
            hidden=hidden,
        )

    async def export(self) -> Snapshot:
        """Takes a snapshot and sets the gauges from it (before each scrape)."""
        snap = await self.take()
        m = self._metrics
        m.set_routes({r.route_id: (r.backlog, r.oldest_pending_seconds) for r in snap.routes})
        m.set_chains(
            {c.chain_id: c.final_height for c in snap.chains if c.final_height is not None}
        )
        m.set_deliveries(snap.deliveries)
        m.audit_head.set(snap.audit_sequence)
        if snap.last_anchor_at is not None:
            m.audit_last_anchor.set(snap.last_anchor_at.timestamp())
        return snap

    async def poll_heads(self) -> None:
        """Asks every registered chain for its head once (each answer lands in HEADS)."""
        chains = await self._registry.list("", MAX_LISTED)

        async def one(chain: chains_pb2.Chain) -> None:
            try:
                adapter = await self._router.adapter_for(chain)
                await adapter.head()
            except HubError as exc:
                head_failed(chain.chain_id, str(exc))

        await asyncio.gather(*(one(c) for c in chains))

    async def _watch(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.poll_heads()
            except Exception:
                log.exception("polling chain heads for the status page failed")
            await asyncio.sleep(max(1.0, HEAD_POLL - (time.monotonic() - started)))

    def start(self) -> None:
        self._watcher = asyncio.create_task(self._watch(), name="chain-heads")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
