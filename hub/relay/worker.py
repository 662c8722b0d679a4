"""A route worker: scans the source's final blocks from the checkpoint, verifies each
record, and stores the block's deliveries together with the new checkpoint.

One store transaction per block means a crash anywhere resumes at the block after
the last one stored, and the delivery ids make a re-scanned block harmless.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from hub.audit.log import AuditLog
from hub.catalog.catalog import SchemaCatalog
from hub.errors import HubError, LeaseLost, ProofRejected, SchemaViolation
from hub.records import matches_route
from hub.registry import ChainRegistry
from hub.relay.delivery_id import delivery_id, proof_digest
from hub.relay.retry import RetryPolicy
from hub.router import Router
from hub.store.base import Store, TxStep
from hub.verification import Verifier
from tonglian.v1 import adapter_pb2, chains_pb2, relay_pb2

log = logging.getLogger("tonglian.relay")

PROOF_REJECTED = "proof rejected: "
SCHEMA_REJECTED = "schema violation: "


@dataclass(frozen=True)
class BackPressure:
    # Scanning pauses while a route has more unconfirmed deliveries than `high`
    # and resumes below `low`, so a stopped destination cannot grow the store or
    # memory without bound.
    high: int = 5000
    low: int = 2500


class RouteStopped(Exception):
    """The route was paused or deleted: the worker ends."""


class SourceReorganised(HubError):
    """The source reported a block whose parent is not the checkpointed block."""


class RouteWorker:
    def __init__(
        self,
        route_id: str,
        store: Store,
        registry: ChainRegistry,
        router: Router,
        verifier: Verifier,
        catalog: SchemaCatalog,
        audit: AuditLog,
        on_block: asyncio.Event,
        back_pressure: BackPressure,
        retry: RetryPolicy,
        lease_epoch: int | None = None,
    ) -> None:
        """`lease_epoch`: the route lease this worker runs under; every commit is
        fenced by it (None: unfenced, for a store used without leases)."""
        self.route_id = route_id
        self._store = store
        self._registry = registry
        self._router = router
        self._verifier = verifier
        self._catalog = catalog
        self._audit = audit
        self._on_block = on_block
        self._bp = back_pressure
        self._retry = retry
        self._lease_epoch = lease_epoch
        self.last_error = ""

    async def run(self) -> None:
        """Scans until cancelled; errors back off and resume from the stored checkpoint."""
        failures = 0
        while True:
            try:
                await self._scan_once()
                failures = 0
            except RouteStopped:
                return
            except LeaseLost as exc:
                log.warning("route %s: %s; stopping here", self.route_id, exc)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: log, back off, resume from the store
                failures += 1
                self.last_error = str(exc)
                level = logging.WARNING if isinstance(exc, HubError) else logging.ERROR
                log.log(
                    level,
                    "route %s: scan failed (%s); retrying",
                    self.route_id,
                    exc,
                    exc_info=not isinstance(exc, HubError),
                )
                await asyncio.sleep(self._retry.delay(failures))

    async def _scan_once(self) -> None:
        route = await self._store.get_route(self.route_id)
        if route is None or route.state != relay_pb2.ROUTE_STATE_ACTIVE:
            raise RouteStopped
        source = await self._registry.get(route.source_chain_id)
        adapter = await self._router.adapter_for(source)
        started = bool(route.checkpoint_block_hash)
        start = route.checkpoint_height + 1 if started else route.start_height
        parent = route.checkpoint_block_hash if started else b""
        batch: list[adapter_pb2.ReadRecordResponse] = []
        async for event in adapter.scan(route.source_namespace, start, follow=True):
            if event.HasField("record"):
                if matches_route(event.record.record, route):
                    batch.append(event.record)
                continue
            mark = event.block
            if parent and mark.parent_hash and mark.parent_hash != parent:
                raise SourceReorganised(
                    f"block {mark.height} of {route.source_chain_id} does not follow the "
                    f"checkpointed block {route.checkpoint_height}; rescanning"
                )
            await self._wait_for_room()
            deliveries = await self._deliveries(source, route, batch) if batch else []
            audit = [self._rejected_event(d) for d in deliveries if d.rejection]
            if not await self._store.commit_block(
                self.route_id,
                deliveries,
                mark.height,
                mark.block_hash,
                also=audit,
                lease_epoch=self._lease_epoch,
            ):
                raise RouteStopped  # deleted meanwhile
            parent = mark.block_hash
            batch = []
            if deliveries:
                self._on_block.set()

    async def _deliveries(
        self,
        source: chains_pb2.Chain,
        route: relay_pb2.Route,
        answers: list[adapter_pb2.ReadRecordResponse],
    ) -> list[relay_pb2.Delivery]:
        """One pending delivery per record of a block, or a REJECTED one for a record
        whose proof or schema fails: the block's proofs are verified as one batch."""
        out = []
        for answer in answers:
            record = answer.record
            out.append(
                relay_pb2.Delivery(
                    delivery_id=delivery_id(
                        record, route.destination_chain_id, route.destination_namespace
                    ),
                    route_id=route.route_id,
                    record=record,
                    proof_digest=proof_digest(answer.proof),
                    destination_chain_id=route.destination_chain_id,
                    destination_namespace=route.destination_namespace,
                    state=relay_pb2.DELIVERY_STATE_PENDING,
                )
            )
        verdicts = await self._verifier.verify_batch(source, [(a.record, a.proof) for a in answers])
        for d, verdict in zip(out, verdicts, strict=True):
            try:
                if isinstance(verdict, ProofRejected):
                    raise verdict
                self._catalog.check(d.record)
            except (ProofRejected, SchemaViolation) as exc:
                self._reject(route, d, exc)
        return out

    @staticmethod
    def _reject(
        route: relay_pb2.Route, d: relay_pb2.Delivery, exc: ProofRejected | SchemaViolation
    ) -> None:
        """Marks a delivery whose record failed its own checks: it is never forwarded."""
        proof = isinstance(exc, ProofRejected)
        d.state = relay_pb2.DELIVERY_STATE_REJECTED
        d.rejection = relay_pb2.REJECTION_PROOF if proof else relay_pb2.REJECTION_SCHEMA
        d.last_error = (PROOF_REJECTED if proof else SCHEMA_REJECTED) + str(exc)
        log.warning("route %s: rejected %s: %s", route.route_id, d.record.ref.key, d.last_error)

    def _rejected_event(self, d: relay_pb2.Delivery) -> TxStep:
        """The audit event of a rejected record, written in its block's transaction, so
        a rescan of the block neither loses nor repeats it."""
        ref = d.record.ref
        return self._audit.step(
            principal="hub",
            action="relay.reject",
            target=f"{ref.chain_id}/{ref.namespace}/{ref.key}",
            outcome=f"rejected: {d.last_error}",
            detail={"route_id": d.route_id, "delivery_id": d.delivery_id},
        )

    async def _wait_for_room(self) -> None:
        backlog = await self._store.backlog(self.route_id)
        if backlog.pending + backlog.submitted < self._bp.high:
            return
        log.info(
            "route %s: %d unconfirmed deliveries; pausing the scan",
            self.route_id,
            backlog.pending + backlog.submitted,
        )
        while backlog.pending + backlog.submitted >= self._bp.low:
            await asyncio.sleep(0.5)
            backlog = await self._store.backlog(self.route_id)
