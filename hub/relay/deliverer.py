"""The deliverer: submits stored deliveries to their destination and follows them
to finality.

States move pending → submitted → confirmed. A destination that cannot be reached
is retried with backoff for as long as it takes (nothing is lost while it is
down); a delivery the destination refuses is retried a bounded number of times,
then parked for an operator. Every transition is stored before the next step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from hub.audit.log import AuditLog
from hub.errors import ChainUnreachable, HubError
from hub.observability.tracing import span
from hub.registry import ChainRegistry
from hub.relay.notifier import DeliveryNotifier
from hub.relay.retry import RetryPolicy
from hub.router import Router
from hub.store.sqlite import SqliteStore
from tonglian.v1 import adapter_pb2, relay_pb2

log = logging.getLogger("tonglian.relay")

S = adapter_pb2
D = relay_pb2
# How often a submitted delivery is asked about while it is not yet final.
CONFIRM_POLL = 0.2


class Deliverer:
    def __init__(
        self,
        store: SqliteStore,
        registry: ChainRegistry,
        router: Router,
        notifier: DeliveryNotifier,
        wakeup: asyncio.Event,
        retry: RetryPolicy,
        audit: AuditLog,
        concurrency: int = 32,
    ) -> None:
        self._store = store
        self._registry = registry
        self._router = router
        self._notifier = notifier
        self._wakeup = wakeup
        self._retry = retry
        self._audit = audit
        self._concurrency = concurrency
        self._inflight: dict[str, asyncio.Task[None]] = {}
        # Consecutive unreachable answers per destination, for backoff.
        self._unreachable: dict[str, int] = {}

    async def run(self) -> None:
        try:
            while True:
                room = self._concurrency - len(self._inflight)
                due = (
                    await self._store.due_deliveries(room, set(self._inflight)) if room > 0 else []
                )
                for d in due:
                    task = asyncio.create_task(self._handle(d))
                    self._inflight[d.delivery_id] = task
                    task.add_done_callback(self._done)
                if not due or room <= len(due):
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), CONFIRM_POLL)
        finally:
            for task in self._inflight.values():
                task.cancel()
            await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    def _done(self, task: asyncio.Task[None]) -> None:
        for delivery_id, t in list(self._inflight.items()):
            if t is task:
                del self._inflight[delivery_id]
        self._wakeup.set()

    async def _handle(self, d: relay_pb2.Delivery) -> None:
        with span("relay.deliver", route=d.route_id, delivery=d.delivery_id):
            await self._deliver(d)

    async def _deliver(self, d: relay_pb2.Delivery) -> None:
        try:
            chain = await self._registry.get(d.destination_chain_id)
            adapter = await self._router.adapter_for(chain)
            if d.state == D.DELIVERY_STATE_SUBMITTED:
                sub = await adapter.submission(d.delivery_id)
                if sub.state == S.SUBMISSION_STATE_UNKNOWN:
                    sub = await adapter.submit(d)
            else:
                sub = await adapter.submit(d)
            self._unreachable.pop(d.destination_chain_id, None)
            await self._apply(d, sub)
        except asyncio.CancelledError:
            raise
        except ChainUnreachable as exc:
            n = self._unreachable.get(d.destination_chain_id, 0) + 1
            self._unreachable[d.destination_chain_id] = n
            # Not the record's fault: wait and try again, without counting an attempt.
            await self._save(d, d.state, d.attempts, self._retry.delay(n), str(exc))
        except HubError as exc:
            await self._failed(d, str(exc))
        except Exception as exc:
            log.exception("delivery %s failed unexpectedly", d.delivery_id)
            await self._failed(d, f"{type(exc).__name__}: {exc}")

    async def _apply(self, d: relay_pb2.Delivery, sub: adapter_pb2.Submission) -> None:
        final = sub.state == S.SUBMISSION_STATE_CONFIRMED or (
            sub.state == S.SUBMISSION_STATE_DUPLICATE and sub.block_height > 0
        )
        if final:
            await self._save(d, D.DELIVERY_STATE_CONFIRMED, d.attempts, 0, "", sub)
        elif sub.state in (S.SUBMISSION_STATE_PENDING, S.SUBMISSION_STATE_DUPLICATE):
            # Sent (now or before a crash), not yet final: ask again shortly.
            await self._save(d, D.DELIVERY_STATE_SUBMITTED, d.attempts, CONFIRM_POLL, "", sub)
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
    ) -> None:
        tx_id = sub.tx_id if sub else d.destination_tx_id
        height = sub.block_height if sub else d.destination_block_height
        await self._store.update_delivery(
            d.delivery_id,
            state=state,
            attempts=attempts,
            next_attempt_at=time.time() + delay,
            last_error=error,
            dest_tx_id=tx_id,
            dest_block_height=height,
        )
        d.state, d.attempts, d.last_error = state, attempts, error
        d.destination_tx_id, d.destination_block_height = tx_id, height
        self._notifier.publish(d)
        if state in (D.DELIVERY_STATE_CONFIRMED, D.DELIVERY_STATE_PARKED):
            src = d.record.ref
            await self._audit.append(
                principal="hub",
                action="relay.deliver",
                target=f"{d.destination_chain_id}/{d.destination_namespace}/{src.key}",
                outcome="ok" if state == D.DELIVERY_STATE_CONFIRMED else f"parked: {error}",
                detail={
                    "delivery_id": d.delivery_id,
                    "route_id": d.route_id,
                    "source": f"{src.chain_id}/{src.namespace}/{src.key}@{d.record.version}",
                    "destination_tx_id": tx_id,
                    "proof_digest": d.proof_digest.hex(),
                },
            )
