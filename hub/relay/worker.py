"""A source scan: one scan of a source's final blocks (a chain and namespace, or a whole
chain) for every active route that reads it. Each block is read and its proofs
verified once; each route then stores its own deliveries with its own checkpoint.

One store transaction per block (every route's part of it, each guarded by its own
checkpoint and lease epoch) means a crash anywhere resumes each route at the block
after the last one it stored, and the delivery ids make a re-scanned block harmless.
A route that joins (or returns from back-pressure) restarts the scan, once the routes
stop changing, from the lowest checkpoint among the routes; routes already past a
block skip it. Blocks are read and verified ahead of the one being stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.audit.log import AuditLog
from hub.catalog.catalog import SchemaCatalog
from hub.errors import HubError, LeaseLost, ProofRejected, SchemaViolation
from hub.records import matches_route
from hub.registry import ChainRegistry
from hub.relay.delivery_id import delivery_id, proof_digest
from hub.relay.retry import RetryPolicy
from hub.router import Router
from hub.store.base import BlockCommit, Store, TxStep
from hub.verification import Verifier
from tonglian.v1 import adapter_pb2, chains_pb2, relay_pb2

log = logging.getLogger("tonglian.relay")

PROOF_REJECTED = "proof rejected: "
SCHEMA_REJECTED = "schema violation: "
# A route whose blocks carry nothing for it stores its checkpoint at most this often:
# a restart rescans at most this much of the source, and idle routes cost no writes.
IDLE_CHECKPOINT_EVERY = 1.0
# A route change restarts the scan once the routes have not changed for this long (and
# at most this much after the first change): a burst of new routes costs one restart.
JOIN_SETTLE = 0.1
JOIN_SETTLE_MAX = 1.0
# How often a route held back by back-pressure looks at its backlog again.
BACK_PRESSURE_POLL = 0.5

# Blocks read and being verified ahead of the one being stored.
READ_AHEAD = 8

Verdict = tuple[bytes, str, relay_pb2.Rejection.ValueType]
"""(proof digest, rejection reason, rejection kind) of a record."""
_Ahead = tuple[
    list[adapter_pb2.ReadRecordResponse], adapter_pb2.BlockMark, asyncio.Task[dict[int, Verdict]]
]

SourceKey = tuple[str, str]
"""(source chain id, source namespace): the routes that share one scan."""


@dataclass(frozen=True)
class BackPressure:
    # A route stops taking blocks while it has more unconfirmed deliveries than `high`
    # and rejoins the scan below `low`, so a stopped destination cannot grow the store
    # or memory without bound (nor stall the other routes of the source).
    high: int = 5000
    low: int = 2500


class SourceReorganised(HubError):
    """The source reported a block whose parent is not the checkpointed block."""


@dataclass
class _Member:
    """One route's place in the scan."""

    route: relay_pb2.Route
    next_height: int
    parent: bytes
    # Height and hash of the newest block scanned but not yet stored (no deliveries).
    unstored: tuple[int, bytes] | None = None
    stored_at: float = field(default_factory=time.monotonic)


class SourceScan:
    """Scans one source for its routes until cancelled; `add` and `remove` change them."""

    def __init__(
        self,
        source: SourceKey,
        store: Store,
        registry: ChainRegistry,
        router: Router,
        verifier: Verifier,
        catalog: SchemaCatalog,
        audit: AuditLog,
        on_block: asyncio.Event,
        back_pressure: BackPressure,
        retry: RetryPolicy,
    ) -> None:
        self.source = source
        self._store = store
        self._registry = registry
        self._router = router
        self._verifier = verifier
        self._catalog = catalog
        self._audit = audit
        self._on_block = on_block
        self._bp = back_pressure
        self._retry = retry
        self.route_ids: set[str] = set()
        # The lease epoch fencing each route's commits (None: a store used without leases).
        self._epochs: dict[str, int | None] = {}
        # Routes over their back-pressure mark: out of the scan until their backlog falls.
        self._held: dict[str, asyncio.Task[None]] = {}
        # When each route's backlog was last counted against its high mark.
        self._counted: dict[str, float] = {}
        self._changed = asyncio.Event()
        self._pass: asyncio.Task[None] | None = None
        # Number of passes started (a pass reads the source once from the lowest checkpoint).
        self.passes = 0

    def add(self, route_id: str, lease_epoch: int | None = None) -> None:
        """Adds a route, whose every commit is fenced by `lease_epoch`; the scan restarts
        from the lowest checkpoint to include it."""
        self._epochs[route_id] = lease_epoch
        if route_id not in self.route_ids:
            self.route_ids.add(route_id)
            self._changed.set()

    async def remove(self, route_id: str) -> None:
        """Removes a route; when this returns the scan stores nothing more for it."""
        self.route_ids.discard(route_id)
        self._epochs.pop(route_id, None)
        self._counted.pop(route_id, None)
        held = self._held.pop(route_id, None)
        if held:
            held.cancel()
        if self._pass is not None and not self._pass.done():
            self._pass.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pass
        self._changed.set()

    async def run(self) -> None:
        """Scans until cancelled; errors back off and resume from the stored checkpoints."""
        failures = 0
        try:
            while True:
                self._changed.clear()
                if not self.route_ids - set(self._held):
                    await self._changed.wait()
                    continue
                self.passes += 1
                self._pass = asyncio.create_task(self._scan_once())
                changed = asyncio.create_task(self._changed.wait())
                try:
                    await asyncio.wait({self._pass, changed}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    changed.cancel()
                if not self._pass.done():
                    # The routes changed: start again with them, once they stop changing
                    # (routes created one after another restart the scan once, not once
                    # each, and no block is read for a pass about to be dropped).
                    self._pass.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._pass
                    await self._settle()
                    continue
                if self._pass.cancelled():
                    continue  # cancelled by `remove`
                exc = self._pass.exception()
                if exc is None:
                    failures = 0
                    continue
                failures += 1
                level = logging.WARNING if isinstance(exc, HubError) else logging.ERROR
                log.log(
                    level,
                    "source %s/%s (routes %s): scan failed (%s); retrying",
                    *self.source,
                    ", ".join(sorted(self.route_ids)),
                    exc,
                    exc_info=exc if not isinstance(exc, HubError) else None,
                )
                await asyncio.sleep(self._retry.delay(failures))
        finally:
            tasks = [t for t in (self._pass, *self._held.values()) if t is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _settle(self) -> None:
        """Returns once the routes have not changed for JOIN_SETTLE s (JOIN_SETTLE_MAX s
        at most)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + JOIN_SETTLE_MAX
        while (left := deadline - loop.time()) > 0:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(JOIN_SETTLE, left))
            except TimeoutError:
                return

    async def _members(self) -> dict[str, _Member]:
        members: dict[str, _Member] = {}
        for route_id in sorted(self.route_ids - set(self._held)):
            route = await self._store.get_route(route_id)
            if route is None or route.state != relay_pb2.ROUTE_STATE_ACTIVE:
                continue  # paused or deleted: the relay removes it
            started = bool(route.checkpoint_block_hash)
            members[route_id] = _Member(
                route=route,
                next_height=route.checkpoint_height + 1 if started else route.start_height,
                parent=route.checkpoint_block_hash if started else b"",
            )
        return members

    async def _scan_once(self) -> None:
        members = await self._members()
        if not members:
            await asyncio.Event().wait()  # nothing to scan until the routes change
        chain_id, namespace = self.source
        source = await self._registry.get(chain_id)
        adapter = await self._router.adapter_for(source)
        start = min(m.next_height for m in members.values())
        # Blocks are read and verified ahead of the one being stored: the source's
        # answers, the verification pool and the store's disk syncs overlap.
        ahead: asyncio.Queue[_Ahead | BaseException | None] = asyncio.Queue(READ_AHEAD)
        reader = asyncio.create_task(
            self._read_ahead(source, adapter.scan(namespace, start, follow=True), members, ahead)
        )
        try:
            while (item := await ahead.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                if not self._registry.is_current(source):
                    # Its trust changed (here or on another replica): nothing verified
                    # under the old anchors is stored; the next pass reads the chain anew.
                    log.info("source %s: its trust anchors changed; scanning again", chain_id)
                    return
                await self._block(source, members, *item)
                if not members:
                    return
        finally:
            reader.cancel()
            left: list[asyncio.Task[Any]] = [reader]
            while not ahead.empty():
                item = ahead.get_nowait()
                if isinstance(item, tuple):
                    item[2].cancel()
                    left.append(item[2])
            await asyncio.gather(*left, return_exceptions=True)
            # Progress through empty blocks is not lost with the pass (best effort: a
            # cancelled pass leaves it to the next one, which rescans those blocks).
            with contextlib.suppress(Exception):
                await self._store_idle(members, force=True)

    async def _read_ahead(
        self,
        source: chains_pb2.Chain,
        events: AsyncIterator[adapter_pb2.ScanResponse],
        members: dict[str, _Member],
        out: asyncio.Queue[_Ahead | BaseException | None],
    ) -> None:
        """Puts each block of the scan in `out` with the verification of its records
        that any route of the pass forwards, started at once; then None, or the error."""
        batch: list[adapter_pb2.ReadRecordResponse] = []
        try:
            async for event in events:
                if event.HasField("record"):
                    batch.append(event.record)
                    continue
                routes = [m.route for m in members.values()]
                picks = [
                    i
                    for i, a in enumerate(batch)
                    if any(matches_route(a.record, r) for r in routes)
                ]
                verdicts = asyncio.create_task(self._verdicts_of(source, batch, picks))
                # An error is raised where the block is stored; one never asked for (the
                # pass ended first, or no route of the block needed it) is not an error.
                verdicts.add_done_callback(lambda t: t.cancelled() or t.exception())
                try:
                    await out.put((batch, event.block, verdicts))
                except asyncio.CancelledError:
                    verdicts.cancel()
                    raise
                batch = []
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await out.put(exc)
            return
        await out.put(None)

    async def _verdicts_of(
        self,
        source: chains_pb2.Chain,
        batch: list[adapter_pb2.ReadRecordResponse],
        picks: list[int],
    ) -> dict[int, Verdict]:
        verdicts = await self._verdicts(source, [batch[i] for i in picks])
        return dict(zip(picks, verdicts, strict=True))

    async def _block(
        self,
        source: chains_pb2.Chain,
        members: dict[str, _Member],
        batch: list[adapter_pb2.ReadRecordResponse],
        mark: adapter_pb2.BlockMark,
        verified: asyncio.Task[dict[int, Verdict]],
    ) -> None:
        due = [m for m in members.values() if m.next_height == mark.height]
        for m in due:
            if m.parent and mark.parent_hash and mark.parent_hash != m.parent:
                raise SourceReorganised(
                    f"block {mark.height} of {source.chain_id} does not follow block "
                    f"{mark.height - 1} checkpointed by route {m.route.route_id}; rescanning"
                )
        wanted = {
            m.route.route_id: [i for i, a in enumerate(batch) if matches_route(a.record, m.route)]
            for m in due
        }
        # Only a block with records for the route can grow its backlog.
        held = await self._over_high_mark(
            [m.route.route_id for m in due if wanted[m.route.route_id]]
        )
        for route_id in held:
            del members[route_id]
            del wanted[route_id]
        due = [m for m in due if m.route.route_id not in held]
        needed = sorted({i for picks in wanted.values() for i in picks})
        verdict_of = await verified if needed else {}
        if missing := [i for i in needed if i not in verdict_of]:  # (the pass's routes only shrink)
            verdict_of.update(await self._verdicts_of(source, batch, missing))
        commits: list[BlockCommit] = []
        for m in due:
            m.next_height, m.parent = mark.height + 1, mark.block_hash
            picks = wanted[m.route.route_id]
            if not picks:
                m.unstored = (mark.height, mark.block_hash)
                continue
            deliveries = [self._delivery(m.route, batch[i], *verdict_of[i]) for i in picks]
            audit = [self._rejected_event(d) for d in deliveries if d.rejection]
            part = (m.route.route_id, deliveries, mark.height, mark.block_hash, audit)
            commits.append(self._block_commit(*part))
            m.unstored = None
        # Every route's part of the block, and the idle checkpoints due, in one transaction.
        await self._commit(members, commits + self._idle_commits(members, force=False))
        if any(c.deliveries for c in commits):
            self._on_block.set()

    async def _verdicts(
        self, source: chains_pb2.Chain, answers: list[adapter_pb2.ReadRecordResponse]
    ) -> list[Verdict]:
        """(proof digest, rejection reason, rejection kind) per record: each record of a
        block is verified once, whichever routes forward it, the block as one batch."""
        if not answers:
            return []
        # The digest names the proof as the source gave it (before attestations are added).
        digests = [proof_digest(a.proof) for a in answers]
        verdicts = await self._verifier.verify_batch(source, [(a.record, a.proof) for a in answers])
        out: list[Verdict] = []
        for answer, digest, verdict in zip(answers, digests, verdicts, strict=True):
            try:
                if isinstance(verdict, ProofRejected):
                    raise verdict
                self._catalog.check(answer.record)
                out.append((digest, "", relay_pb2.REJECTION_UNSPECIFIED))
            except ProofRejected as exc:
                out.append((digest, PROOF_REJECTED + str(exc), relay_pb2.REJECTION_PROOF))
            except SchemaViolation as exc:
                out.append((digest, SCHEMA_REJECTED + str(exc), relay_pb2.REJECTION_SCHEMA))
        return out

    @staticmethod
    def _delivery(
        route: relay_pb2.Route,
        answer: adapter_pb2.ReadRecordResponse,
        digest: bytes,
        error: str,
        rejection: relay_pb2.Rejection.ValueType,
    ) -> relay_pb2.Delivery:
        """A pending delivery, or a REJECTED one for a record whose proof or schema
        fails its checks: such a record is never forwarded."""
        record = answer.record
        d = relay_pb2.Delivery(
            delivery_id=delivery_id(
                record, route.destination_chain_id, route.destination_namespace
            ),
            route_id=route.route_id,
            record=record,
            proof_digest=digest,
            destination_chain_id=route.destination_chain_id,
            destination_namespace=route.destination_namespace,
            state=relay_pb2.DELIVERY_STATE_PENDING,
        )
        if rejection:
            d.state, d.rejection, d.last_error = relay_pb2.DELIVERY_STATE_REJECTED, rejection, error
            log.warning("route %s: rejected %s: %s", route.route_id, record.ref.key, error)
        return d

    def _idle_commits(self, members: dict[str, _Member], force: bool) -> list[BlockCommit]:
        """Checkpoints of routes that scanned blocks with nothing for them, due to be
        stored (at most every IDLE_CHECKPOINT_EVERY unless `force`)."""
        now = time.monotonic()
        commits: list[BlockCommit] = []
        for route_id, m in members.items():
            if m.unstored is None or (not force and now - m.stored_at < IDLE_CHECKPOINT_EVERY):
                continue
            height, block_hash = m.unstored
            m.unstored, m.stored_at = None, now
            commits.append(self._block_commit(route_id, [], height, block_hash))
        return commits

    async def _store_idle(self, members: dict[str, _Member], force: bool) -> None:
        """Stores the checkpoints of routes that scanned blocks with nothing for them."""
        await self._commit(members, self._idle_commits(members, force))

    def _block_commit(
        self,
        route_id: str,
        deliveries: list[relay_pb2.Delivery],
        height: int,
        block_hash: bytes,
        also: Sequence[TxStep] = (),
    ) -> BlockCommit:
        """A route's part of a block, fenced by the route's lease epoch."""
        epoch = self._epochs.get(route_id)
        return BlockCommit(route_id, deliveries, height, block_hash, also, epoch)

    async def _commit(self, members: dict[str, _Member], commits: list[BlockCommit]) -> None:
        """Stores routes' parts of a block in one transaction. A route whose part was not
        stored leaves the pass: deleted, already past the block, or its lease lost to
        another replica (which then works it; this replica's relay is told by its lease
        keeper, and the scan drops it)."""
        if not commits:
            return
        now = time.monotonic()
        for c, stored in zip(commits, await self._store.commit_blocks(commits), strict=True):
            m = members.get(c.route_id)
            if isinstance(stored, LeaseLost):
                log.warning("route %s: %s; this replica stops working it", c.route_id, stored)
                self.route_ids.discard(c.route_id)
                self._epochs.pop(c.route_id, None)
                members.pop(c.route_id, None)
            elif not stored:
                members.pop(c.route_id, None)
            elif m is not None:
                m.stored_at = now

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

    async def _over_high_mark(self, route_ids: list[str]) -> set[str]:
        """The routes that must stop taking blocks; each rejoins below the low mark.
        A route's backlog is counted at most every BACK_PRESSURE_POLL s (a block more or
        less over the mark is nothing; a count per route and block was), those of a
        block's routes in one query."""
        now = time.monotonic()
        due = [
            route_id
            for route_id in route_ids
            if now - self._counted.get(route_id, -BACK_PRESSURE_POLL) >= BACK_PRESSURE_POLL
        ]
        if not due:
            return set()
        for route_id in due:
            self._counted[route_id] = now
        unconfirmed = await self._store.unconfirmed_by_route(due)
        held = {route_id for route_id in due if unconfirmed[route_id] >= self._bp.high}
        for route_id in sorted(held):
            log.info(
                "route %s: %d unconfirmed deliveries; it stops taking blocks",
                route_id,
                unconfirmed[route_id],
            )
            self._held[route_id] = asyncio.create_task(self._rejoin_later(route_id))
        return held

    async def _rejoin_later(self, route_id: str) -> None:
        while True:
            await asyncio.sleep(BACK_PRESSURE_POLL)
            unconfirmed = await self._store.unconfirmed_by_route([route_id])
            if unconfirmed[route_id] < self._bp.low:
                break
        self._held.pop(route_id, None)
        self._changed.set()
