"""The deliverer: submits stored deliveries to their destination and follows them
to finality.

States move pending → submitted → confirmed. Versions of one key reach a
destination in source order: the store hands out a delivery only once every older
version of its key is final. A destination that cannot be reached rests: its
deliveries stay where they are (no attempt counted, no delay of their own) while
one probe asks it with bounded exponential backoff; the first answer wakes them
all. A submitted delivery is asked about again when its destination reaches a new
final block (adapters that can tell, `adapters.base.FollowsFinalHeights`), otherwise
every CONFIRM_POLL; a destination's waiting deliveries in one request where its adapter
can ask about many (`adapters.base.ChecksManySubmissions`). New deliveries and finished
ones wake the loop, which otherwise sleeps. A delivery the destination refuses on its
merits is REJECTED at once; other failures of one delivery are retried a bounded
number of times, then parked. Every transition is stored, with its audit event, in
one transaction; the transitions that wait for the store share it (group commits,
hub/relay/group_commit.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable

from hub.audit.log import AuditLog
from hub.errors import ChainUnreachable, DeliveryRefused, HubError, LeaseLost, StoreUnavailable
from hub.guarded_adapter import GuardedAdapter
from hub.observability.tracing import span
from hub.registry import ChainRegistry
from hub.relay.finality import submission_final
from hub.relay.group_commit import GroupCommit
from hub.relay.notifier import DeliveryNotifier
from hub.relay.retry import RetryPolicy
from hub.store.base import DeliveryUpdate, Store, TxStep
from tonglian.v1 import adapter_pb2, relay_pb2

log = logging.getLogger("tonglian.relay")

S = adapter_pb2
D = relay_pb2
# How often a submitted delivery is asked about while it is not yet final, when its
# destination's adapter cannot tell when a new block is final.
CONFIRM_POLL = 0.2
# Otherwise it is asked at each new final block, and after this long in any case (a
# safety net should the destination's block stream fail).
CONFIRM_FALLBACK = 10.0
# Submitted deliveries asked about in one request, where the adapter can
# (`adapters.base.ChecksManySubmissions`).
CHECK_BATCH = 128
# Deliveries in hand at most (answered ones being stored count), in submission slots.
MAX_IN_HAND = 4
# Due deliveries fetched in one query, at most, in submission slots: more than the free
# slots, so that the slots freed one by one under load are refilled from memory.
FETCH_AHEAD = 2
# Longest sleep without a wake-up: deliveries whose retry time comes are found then.
IDLE_WAIT = 1.0
# States that end a delivery's journey, each with its audit outcome.
AUDITED = {
    D.DELIVERY_STATE_CONFIRMED: "ok",
    D.DELIVERY_STATE_PARKED: "parked",
    D.DELIVERY_STATE_REJECTED: "rejected",
    D.DELIVERY_STATE_SUPERSEDED: "superseded",
}


class Deliverer:
    def __init__(
        self,
        store: Store,
        registry: ChainRegistry,
        notifier: DeliveryNotifier,
        wakeup: asyncio.Event,
        retry: RetryPolicy,
        audit: AuditLog,
        concurrency: int = 32,
    ) -> None:
        self._store = store
        self._registry = registry
        self._notifier = notifier
        self._wakeup = wakeup
        self._retry = retry
        self._audit = audit
        self._concurrency = concurrency
        # State changes are stored in group commits (one transaction for all that wait).
        self._writer = GroupCommit(store)
        self._inflight: dict[str, asyncio.Task[None]] = {}
        # Due deliveries fetched from the store and not started yet, oldest first: slots
        # freed one at a time are filled from here, not by a query each.
        self._ready: dict[str, relay_pb2.Delivery] = {}
        # Deliveries of `_inflight` whose destination has not answered yet: the slots.
        # A slot is freed when the destination answers, as the storing of the answer
        # needs none (the delivery stays in `_inflight`, out of the store's hands).
        self._sending: set[str] = set()
        # Destinations that could not be reached -> the task probing them.
        self._resting: dict[str, asyncio.Task[None]] = {}
        # Submitted, not yet final deliveries by destination, and the task following
        # each destination's final blocks to ask about them.
        self._awaiting: dict[str, dict[str, relay_pb2.Delivery]] = {}
        self._watching: dict[str, asyncio.Task[None]] = {}
        # The adapter of each destination with deliveries awaiting a final block.
        self._destinations: dict[str, GuardedAdapter] = {}
        # Destinations whose waiting deliveries are about to be asked about (_ask_soon).
        self._asking: set[str] = set()
        # Deliveries being asked about because their destination reached a new block.
        self._checking: dict[str, asyncio.Task[None]] = {}
        self._check_slots = asyncio.Semaphore(concurrency)
        # Newest final height each followed destination reported, and the one known
        # when each delivery in hand was sent.
        self._seen: dict[str, int] = {}
        self._seen_before: dict[str, int] = {}

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer.run(), name="deliverer store writer")
        try:
            while True:
                try:
                    await self._round()
                except StoreUnavailable as exc:  # the database is back soon: ask again
                    log.warning("deliverer: %s", exc)
                    await asyncio.sleep(IDLE_WAIT)
                except Exception:
                    # A bug or a driver failure nobody foresaw must not end the relay's
                    # only deliverer in silence (every route would stall for good).
                    log.exception("deliverer: unexpected failure; going on")
                    await asyncio.sleep(IDLE_WAIT)
        finally:
            tasks = [
                *self._inflight.values(),
                *self._checking.values(),
                *self._resting.values(),
                *self._watching.values(),
            ]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    async def _round(self) -> None:
        """Fills the free submission slots from the deliveries fetched ahead, fetching
        more when those run short; sleeps when every slot is busy or nothing is due."""
        # Cleared first: a wake-up while this round waits for the store is kept.
        self._wakeup.clear()
        fetched, drained = False, False
        if self._concurrency - len(self._sending) > len(self._ready):
            room = MAX_IN_HAND * self._concurrency - len(self._inflight) - len(self._ready)
            want = min(room, FETCH_AHEAD * self._concurrency)
            if want > 0:
                due = await self._store.due_deliveries(
                    want,
                    {*self._inflight, *self._checking, *self._ready},
                    resting=set(self._resting),
                )
                self._ready.update((d.delivery_id, d) for d in due)
                fetched, drained = True, len(due) < want
        free = self._concurrency - len(self._sending)
        started = 0
        while started < free and self._ready:
            d = self._ready.pop(next(iter(self._ready)))
            if d.destination_chain_id in self._resting:
                continue  # the store hands it out again once its destination answers
            self._sending.add(d.delivery_id)
            answered = functools.partial(self._answered, d.delivery_id)
            task = asyncio.create_task(self._handle(d, answered))
            self._inflight[d.delivery_id] = task
            task.add_done_callback(self._done)
            started += 1
        if started >= free or not fetched:
            # Every slot busy (a freed one wakes the loop), or as many in hand as may be.
            idle = IDLE_WAIT
        elif drained:
            idle = await self._idle_wait()  # nothing more is due now
        else:
            return  # more may be due: the next round asks at once
        # asyncio.timeout, not wait_for: on 3.11 a cancel that comes as wait_for's
        # timeout fires turns into its TimeoutError and is lost (the deliverer then
        # never stopped).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(idle):
                await self._wakeup.wait()

    async def _idle_wait(self) -> float:
        """Until the next delivery falls due (or a wake-up: new work, a finished one)."""
        try:
            due = await self._store.next_due_at()
        except StoreUnavailable:
            return IDLE_WAIT
        now = time.time()
        if due is None or due <= now:
            # Nothing, or only deliveries just found not ready (an older version of their
            # key is not final, their destination rests, they are in flight): what
            # frees them (a confirmation, a probe's answer) wakes the loop.
            return IDLE_WAIT
        return min(IDLE_WAIT, due - now)

    def _answered(self, delivery_id: str) -> None:
        """The destination answered about a delivery in hand: its slot is free."""
        if delivery_id in self._sending:
            self._sending.discard(delivery_id)
            self._wakeup.set()

    def _done(self, task: asyncio.Task[None]) -> None:
        for delivery_id, t in list(self._inflight.items()):
            if t is task:
                del self._inflight[delivery_id]
                self._sending.discard(delivery_id)
                self._released(delivery_id)
        self._wakeup.set()

    def _released(self, delivery_id: str) -> None:
        """The delivery's task is over: when it now waits for a final block and one came
        while the task ran (its `_ask` passed over it, busy), it is asked about at once;
        waiting for the next block could mean waiting for the fallback, as a quiet
        destination makes no more blocks."""
        before = self._seen_before.pop(delivery_id, -1)
        for chain_id, waiting in self._awaiting.items():
            if delivery_id in waiting and self._seen.get(chain_id, -1) != before:
                self._ask_soon(chain_id)

    def _ask_soon(self, chain_id: str) -> None:
        """`_ask` once the tasks ending now have all ended: the deliveries of one group
        commit end one after another, and are asked about together."""
        if chain_id not in self._asking:
            self._asking.add(chain_id)
            asyncio.get_running_loop().call_soon(self._ask_now, chain_id)

    def _ask_now(self, chain_id: str) -> None:
        self._asking.discard(chain_id)
        self._ask(chain_id)

    async def _handle(self, d: relay_pb2.Delivery, answered: Callable[[], None]) -> None:
        with span("relay.deliver", route=d.route_id, delivery=d.delivery_id):
            await self._kept(d, self._deliver(d, answered))

    @staticmethod
    async def _kept(d: relay_pb2.Delivery, step: Awaitable[None]) -> None:
        """Runs one delivery's step; when its state cannot be stored, the store keeps
        the state it had and the delivery is taken up again from there."""
        try:
            await step
        except LeaseLost as exc:  # another replica took the route over: its turn
            log.warning("delivery %s left to the new holder: %s", d.delivery_id, exc)
        except StoreUnavailable as exc:  # kept in the store as it was: tried again
            log.warning("delivery %s not saved: %s", d.delivery_id, exc)

    async def _deliver(self, d: relay_pb2.Delivery, answered: Callable[[], None]) -> None:
        try:
            try:
                adapter = await self._registry.adapter(d.destination_chain_id)
                # The destination's newest final block known before asking: a block that
                # comes while the answer is stored must not go unnoticed (_await_final).
                self._seen_before[d.delivery_id] = self._seen.get(d.destination_chain_id, -1)
                if d.state == D.DELIVERY_STATE_SUBMITTED:
                    sub = await adapter.submission(d.delivery_id)
                    if sub.state == S.SUBMISSION_STATE_UNKNOWN:
                        sub = await adapter.submit(d)
                else:
                    sub = await adapter.submit(d)
            finally:
                answered()  # the destination is done with it: storing the answer takes no slot
            await self._apply(d, sub, adapter)
        except (asyncio.CancelledError, LeaseLost, StoreUnavailable):
            raise
        except ChainUnreachable as exc:
            # Not the record's fault: it keeps its place and its attempts; the
            # destination rests until a probe reaches it.
            self._rest(d.destination_chain_id)
            await self._save(d, d.state, d.attempts, 0, str(exc))
        except DeliveryRefused as exc:
            await self._save(
                d, D.DELIVERY_STATE_REJECTED, d.attempts + 1, 0, str(exc),
                rejection=D.REJECTION_DESTINATION,
            )  # fmt: skip
        except HubError as exc:
            await self._failed(d, str(exc))
        except Exception as exc:
            log.exception("delivery %s failed unexpectedly", d.delivery_id)
            await self._failed(d, f"{type(exc).__name__}: {exc}")

    def _rest(self, chain_id: str) -> None:
        if chain_id not in self._resting:
            log.warning("destination %s unreachable; probing it", chain_id)
            self._resting[chain_id] = asyncio.create_task(
                self._probe(chain_id), name=f"probe {chain_id}"
            )

    async def _probe(self, chain_id: str) -> None:
        """Asks the destination for its head with bounded exponential backoff; the first
        answer ends its rest and wakes every delivery waiting for it."""
        probe = 0
        try:
            while True:
                probe += 1
                await asyncio.sleep(self._retry.probe_delay(probe))
                try:
                    await (await self._registry.adapter(chain_id)).head()
                    log.info("destination %s answers again after %d probes", chain_id, probe)
                    return
                except ChainUnreachable:
                    continue
                except HubError:
                    return  # not a reachability problem: the deliveries will say what
        finally:
            self._resting.pop(chain_id, None)
            self._wakeup.set()

    def _await_final(self, d: relay_pb2.Delivery, adapter: GuardedAdapter) -> None:
        """Asks about `d` at the destination's next final block, or as soon as its task
        ends when one came since `d` was sent (see `_released`)."""
        chain_id = d.destination_chain_id
        self._awaiting.setdefault(chain_id, {})[d.delivery_id] = d
        self._destinations[chain_id] = adapter
        task = self._watching.get(chain_id)
        if task is None or task.done():
            # A new follower reports the current final height first: `d` is asked then.
            self._watching[chain_id] = asyncio.create_task(
                self._watch(chain_id, adapter), name=f"confirm {chain_id}"
            )

    async def _watch(self, chain_id: str, adapter: GuardedAdapter) -> None:
        """Follows the destination's final blocks; at each, asks about its submitted
        deliveries, and ends when none is left."""
        try:
            async for height in adapter.final_heights(0):
                self._seen[chain_id] = height
                if not self._awaiting.get(chain_id):
                    return
                self._ask(chain_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the fallback timer asks about them instead
            log.warning("following the final blocks of %s failed: %s", chain_id, exc)
        finally:
            if self._watching.get(chain_id) is asyncio.current_task():
                del self._watching[chain_id]

    def _ask(self, chain_id: str) -> None:
        """Asks about every waiting delivery of `chain_id` not being asked about already:
        CHECK_BATCH in one request where the adapter can, otherwise one by one."""
        waiting = self._awaiting.get(chain_id, {})
        # One in hand already (fetched to be sent, being sent) is asked about by its task.
        askable = [
            d
            for delivery_id, d in waiting.items()
            if delivery_id not in self._inflight
            and delivery_id not in self._checking
            and delivery_id not in self._ready
        ]
        for d in askable:
            del waiting[d.delivery_id]
        adapter = self._destinations.get(chain_id)
        if adapter is not None and adapter.checks_many:
            for i in range(0, len(askable), CHECK_BATCH):
                batch = askable[i : i + CHECK_BATCH]
                task = asyncio.create_task(self._check_many(batch, adapter))
                for d in batch:
                    self._checking[d.delivery_id] = task
            return
        for d in askable:
            self._checking[d.delivery_id] = asyncio.create_task(self._check(d))

    async def _check_many(self, ds: list[relay_pb2.Delivery], adapter: GuardedAdapter) -> None:
        """Asks about submitted deliveries of one destination in one request; those the
        answer does not settle are then asked about alone."""
        chain_id = adapter.chain.chain_id
        seen = self._seen.get(chain_id, -1)
        for d in ds:
            self._seen_before[d.delivery_id] = seen
        try:
            with span("relay.confirm", destination=chain_id, deliveries=str(len(ds))):
                alone = await self._settle_many(ds, adapter)
        finally:
            for d in ds:
                self._checking.pop(d.delivery_id, None)
            for d in ds:  # after all are out of _checking: one new batch, not one each
                self._released(d.delivery_id)
            self._wakeup.set()
        for d in alone:
            self._checking[d.delivery_id] = asyncio.create_task(self._check(d))

    async def _settle_many(
        self, ds: list[relay_pb2.Delivery], adapter: GuardedAdapter
    ) -> list[relay_pb2.Delivery]:
        """Applies the destination's answers; returns the deliveries to ask about alone:
        one the destination never saw (that path sends it again) and, when the request
        failed otherwise than by an unreachable destination, all of them (that path
        counts each one's attempt)."""
        chain_id = adapter.chain.chain_id
        try:
            async with self._check_slots:
                subs = await adapter.submissions([d.delivery_id for d in ds])
        except ChainUnreachable as exc:
            self._rest(chain_id)
            await asyncio.gather(
                *(self._kept(d, self._save(d, d.state, d.attempts, 0, str(exc))) for d in ds)
            )
            return []
        except HubError as exc:
            log.warning("asking %s about %d deliveries at once: %s", chain_id, len(ds), exc)
            return ds
        answers = list(zip(ds, subs, strict=True))
        await asyncio.gather(
            *(
                self._kept(d, self._apply(d, sub, adapter))
                for d, sub in answers
                if sub.state != S.SUBMISSION_STATE_UNKNOWN
            )
        )
        return [d for d, sub in answers if sub.state == S.SUBMISSION_STATE_UNKNOWN]

    async def _check(self, d: relay_pb2.Delivery) -> None:
        """Asks about a submitted delivery; checks take no submission slot, but are
        bounded too (a check's slot is freed when the destination answers)."""
        freed = False

        def answered() -> None:
            nonlocal freed
            if not freed:
                freed = True
                self._check_slots.release()

        try:
            await self._check_slots.acquire()
            try:
                await self._handle(d, answered)
            finally:
                answered()
        finally:
            self._checking.pop(d.delivery_id, None)
            self._released(d.delivery_id)
            self._wakeup.set()

    async def _apply(
        self, d: relay_pb2.Delivery, sub: adapter_pb2.Submission, adapter: GuardedAdapter
    ) -> None:
        final = submission_final(sub)
        self._awaiting.get(d.destination_chain_id, {}).pop(d.delivery_id, None)
        if final:
            await self._save(d, D.DELIVERY_STATE_CONFIRMED, d.attempts, 0, "", sub)
        elif sub.state == S.SUBMISSION_STATE_STALE:
            await self._save(d, D.DELIVERY_STATE_SUPERSEDED, d.attempts, 0, sub.detail, sub)
        elif sub.state in (S.SUBMISSION_STATE_PENDING, S.SUBMISSION_STATE_DUPLICATE):
            # Sent (now or before a crash), not yet final: ask again at the destination's
            # next final block, or shortly when its adapter cannot tell.
            if not adapter.follows_final_heights:
                await self._save(d, D.DELIVERY_STATE_SUBMITTED, d.attempts, CONFIRM_POLL, "", sub)
                return
            # A check at a final block that finds it still pending writes nothing: the
            # row already says SUBMITTED, with the fallback time.
            if d.state != D.DELIVERY_STATE_SUBMITTED or d.delivery_id not in self._checking:
                await self._save(
                    d, D.DELIVERY_STATE_SUBMITTED, d.attempts, CONFIRM_FALLBACK, "", sub
                )
            self._await_final(d, adapter)
        else:
            await self._failed(
                d, sub.detail or f"destination answered {S.SubmissionState.Name(sub.state)}"
            )

    async def _failed(self, d: relay_pb2.Delivery, reason: str) -> None:
        attempts = d.attempts + 1
        if attempts >= self._retry.max_attempts:
            log.warning("delivery %s parked after %d attempts: %s", d.delivery_id, attempts, reason)
            await self._save(d, D.DELIVERY_STATE_PARKED, attempts, 0, reason)
        else:
            await self._save(
                d, D.DELIVERY_STATE_PENDING, attempts, self._retry.delay(attempts), reason
            )

    async def _save(
        self,
        d: relay_pb2.Delivery,
        state: relay_pb2.DeliveryState.ValueType,
        attempts: int,
        delay: float,
        error: str,
        sub: adapter_pb2.Submission | None = None,
        rejection: relay_pb2.Rejection.ValueType = D.REJECTION_UNSPECIFIED,
    ) -> None:
        tx_id = sub.tx_id if sub else d.destination_tx_id
        height = sub.block_height if sub else d.destination_block_height
        also: list[TxStep] = []
        if state in AUDITED:
            src = d.record.ref
            outcome = AUDITED[state] if state == D.DELIVERY_STATE_CONFIRMED else ""
            also.append(
                self._audit.step(
                    principal="hub",
                    action="relay.deliver",
                    target=f"{d.destination_chain_id}/{d.destination_namespace}/{src.key}",
                    outcome=outcome or f"{AUDITED[state]}: {error}",
                    detail={
                        "delivery_id": d.delivery_id,
                        "route_id": d.route_id,
                        "source": f"{src.chain_id}/{src.namespace}/{src.key}@{d.record.version}",
                        "destination_tx_id": tx_id,
                        "proof_digest": d.proof_digest.hex(),
                    },
                )
            )
        await self._writer.save(
            DeliveryUpdate(
                d.delivery_id,
                state=state,
                attempts=attempts,
                next_attempt_at=time.time() + delay,
                last_error=error,
                dest_tx_id=tx_id,
                dest_block_height=height,
                rejection=rejection,
                also=also,
                claimed=True,
            )
        )
        d.state, d.attempts, d.last_error, d.rejection = state, attempts, error, rejection
        d.destination_tx_id, d.destination_block_height = tx_id, height
        self._notifier.publish(d)
