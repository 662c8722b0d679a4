"""AuditLog: the one way anything in the hub records an action.

    event = await audit.append(
        principal="hub", action="relay.deliver", target="custom-2/inbox/K",
        purpose="route:licences-to-tax", outcome="ok", detail={"delivery_id": ...},
    )

Events are chained by hash (tonglian_proof/audit_hash.py) and durable when `append`
returns. Outcome vocabulary: "ok", "denied: <rule or reason>", "error: <STATUS>".

Group commit: `append` queues its event and waits; one writer takes every queued
event into one store transaction (`AuditStore.audit_append`), so concurrent calls
share a commit instead of each paying its own; an answer that waited for it is in
the log even if the hub is SIGKILLed right after
(tests/integration/hub/test_audit_group_commit.py). How a commit reaches the disk is
the store's: SQLite writes it to its WAL and flushes within a fraction of a second
(hub/store/sqlite.py), PostgreSQL commits durably.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from hub.observability.audit_events import appended, with_trace_id
from hub.store.base import AuditAppend, AuditStore
from tonglian.v1 import audit_pb2
from tonglian_proof.audit_hash import timestamp_of
from tonglian_proof.canonical import canonical_text

MAX_FIELD = 2000
EXPORT_PAGE = 500
# Events per group-commit transaction, at most.
MAX_BATCH = 256

_Pending = tuple[audit_pb2.AuditEvent, bytes | None, "asyncio.Future[audit_pb2.AuditEvent]"]


def _draft(
    principal: str,
    action: str,
    target: str,
    purpose: str,
    outcome: str,
    detail: Mapping[str, Any] | None,
) -> audit_pb2.AuditEvent:
    return audit_pb2.AuditEvent(
        time=timestamp_of(time.time_ns() // 1000),
        principal=_clip(principal),
        action=_clip(action),
        target=_clip(target),
        purpose=_clip(purpose),
        outcome=_clip(outcome),
        detail_json=canonical_text(with_trace_id(detail)),
    )


def _clip(text: str) -> str:
    return text if len(text) <= MAX_FIELD else text[:MAX_FIELD] + "…"


class AuditLog:
    def __init__(self, store: AuditStore) -> None:
        self._store = store
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(
        self,
        *,
        principal: str,
        action: str,
        target: str = "",
        purpose: str = "",
        outcome: str = "ok",
        detail: Mapping[str, Any] | None = None,
        evidence: bytes | None = None,
    ) -> audit_pb2.AuditEvent:
        """Appends one event and returns it with its sequence and hash, once committed.

        `evidence` (a serialized ProofBundle) is kept at the hub beside the event,
        for answers whose record is not handed out (predicates). A cancelled caller's
        event is still written: the call it records did happen.
        """
        draft = _draft(principal, action, target, purpose, outcome, detail)
        done: asyncio.Future[audit_pb2.AuditEvent] = asyncio.get_running_loop().create_future()
        self._queue.append((draft, evidence, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())
        return await asyncio.shield(done)

    async def _write(self) -> None:
        """Commits queued events, a batch per transaction, until the queue is empty."""
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                events = await self._store.audit_append(
                    [AuditAppend(draft, evidence) for draft, evidence, _ in batch]
                )
            except asyncio.CancelledError:
                for *_, done in batch + self._queue:
                    done.cancel()
                self._queue = []
                raise
            except BaseException as exc:
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for event, (*_, done) in zip(events, batch, strict=True):
                appended(event)
                if not done.done():
                    done.set_result(event)

    @staticmethod
    def step(
        *,
        principal: str,
        action: str,
        target: str = "",
        purpose: str = "",
        outcome: str = "ok",
        detail: Mapping[str, Any] | None = None,
    ) -> AuditAppend:
        """One event as a step of a store transaction (`also=` of the relay's store
        writes): it commits with the state change it records, or not at all."""
        draft = _draft(principal, action, target, purpose, outcome, detail)
        return AuditAppend(draft, on_chained=appended)

    async def head(self) -> tuple[int, bytes]:
        """(sequence, hash) of the last event; (0, 32 zero bytes) for an empty log."""
        return await self._store.audit_head()

    async def events(
        self, from_sequence: int, limit: int, principal: str = "", action: str = ""
    ) -> list[audit_pb2.AuditEvent]:
        return await self._store.audit_events(max(from_sequence, 1), limit, principal, action)

    async def export(self, from_sequence: int = 1) -> AsyncIterator[audit_pb2.AuditEvent]:
        """Every event from `from_sequence` on, in order, page by page."""
        start = max(from_sequence, 1)
        while True:
            page = await self.events(start, EXPORT_PAGE)
            for event in page:
                yield event
            if len(page) < EXPORT_PAGE:
                return
            start = page[-1].sequence + 1

    async def add_anchor(self, anchor: audit_pb2.AuditAnchor) -> None:
        await self._store.audit_add_anchor(anchor)

    async def anchors(self) -> list[audit_pb2.AuditAnchor]:
        return await self._store.audit_anchors()

    async def evidence(self, sequence: int) -> bytes | None:
        return await self._store.audit_evidence(sequence)
