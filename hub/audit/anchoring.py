"""Writes the audit log's head on a chain now and then, so the hub cannot rewrite its past.

The head goes out through the destination chain's adapter like a relay delivery
(the adapter is the only code that talks to chains; the inbox deduplicates by
delivery id, so a retried anchor is written once). The hub then reads the head
record back through the verified query path and keeps its proof bundle in the
anchor: anyone holding an export can check, offline, that the chain holds that head.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from hub.audit.log import AuditLog
from hub.errors import KNOWN_ERRORS, ChainUnreachable, HubError
from hub.principal import HUB
from hub.records import RecordReader
from hub.registry import ChainRegistry
from hub.router import Router
from tonglian.v1 import adapter_pb2, audit_pb2, records_pb2, relay_pb2
from tonglian_proof.canonical import canonical_json

log = logging.getLogger("tonglian.hub")

HEAD_SCHEMA = "tonglian.audit.head/v1"
HEAD_FORMAT = "tonglian.audit-head/v1"
CONFIRM_TIMEOUT = 30.0
# How often the anchorer looks at the log's length between timed anchors.
POLL_SECONDS = 1.0
# How long a stopping hub waits for an anchoring under way (a chain write and a table row).
STOP_GRACE = 10.0
S = adapter_pb2.SubmissionState


def head_key(sequence: int) -> str:
    return f"head-{sequence:012d}"


def head_value(sequence: int, head_hash: bytes) -> bytes:
    return canonical_json(
        {"format": HEAD_FORMAT, "sequence": sequence, "head_hash": head_hash.hex()}
    )


class Anchorer:
    def __init__(
        self,
        audit: AuditLog,
        registry: ChainRegistry,
        router: Router,
        reader: RecordReader,
        *,
        chain_id: str,
        namespace: str,
        interval: float,
        every: int = 100,
    ) -> None:
        self._audit = audit
        self._registry = registry
        self._router = router
        self._reader = reader
        self.chain_id = chain_id
        self.namespace = namespace
        self.interval = interval
        self.every = every
        # Sequence of our own last "audit.anchor" event: nothing new happened since.
        self._quiet_at = -1
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def anchor_once(self) -> audit_pb2.AuditAnchor | None:
        """Anchors the current head unless it is anchored already; the anchor, or None."""
        sequence, head = await self._audit.head()
        anchors = await self._audit.anchors()
        if (
            sequence == 0
            or sequence == self._quiet_at
            or (anchors and anchors[-1].sequence >= sequence)
        ):
            return None
        chain = await self._registry.get(self.chain_id)
        adapter = await self._router.adapter_for(chain)
        key = head_key(sequence)
        delivery = relay_pb2.Delivery(
            delivery_id=f"tonglian-audit-head-{sequence}",
            record=records_pb2.Record(
                ref=records_pb2.RecordRef(chain_id="tonglian-hub", namespace="audit", key=key),
                schema=HEAD_SCHEMA,
                value=head_value(sequence, head),
                version=1,
                tx_id=f"audit-{sequence}",
            ),
            proof_digest=head,
            destination_chain_id=self.chain_id,
            destination_namespace=self.namespace,
        )
        submission = await adapter.submit(delivery)
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        while (
            submission.state not in (S.SUBMISSION_STATE_CONFIRMED, S.SUBMISSION_STATE_DUPLICATE)
            or not submission.block_height
        ):
            if time.monotonic() > deadline:
                raise ChainUnreachable(
                    f"audit head {sequence} not confirmed on {self.chain_id} "
                    f"within {CONFIRM_TIMEOUT:g}s ({submission.detail})"
                )
            await asyncio.sleep(0.2)
            submission = await adapter.submission(delivery.delivery_id)
        ref = records_pb2.RecordRef(chain_id=self.chain_id, namespace=self.namespace, key=key)
        verified = await self._reader.get(ref, 0)
        if verified.record.value != delivery.record.value:
            raise HubError(f"the chain holds a different audit head under {key}")
        anchored_at = Timestamp()
        anchored_at.FromDatetime(datetime.now(UTC))
        anchor = audit_pb2.AuditAnchor(
            sequence=sequence,
            head_hash=head,
            chain_id=self.chain_id,
            tx_id=verified.record.tx_id,
            block_height=verified.record.block_height,
            anchored_at=anchored_at,
            namespace=self.namespace,
            key=key,
            bundle=verified.bundle,
        )
        await self._audit.add_anchor(anchor)
        event = await self._audit.append(
            principal=HUB,
            action="audit.anchor",
            target=f"{self.chain_id}/{self.namespace}/{key}",
            detail={
                "sequence": sequence,
                "head_hash": head.hex(),
                "tx_id": anchor.tx_id,
                "block_height": anchor.block_height,
            },
        )
        self._quiet_at = event.sequence
        return anchor

    async def _due(self, last_anchored_at: float) -> bool:
        """After `every` new events, or `interval` seconds since the last anchor."""
        if time.monotonic() - last_anchored_at >= self.interval:
            return True
        sequence, _ = await self._audit.head()
        anchors = await self._audit.anchors()
        return sequence - (anchors[-1].sequence if anchors else 0) >= self.every

    async def _run(self) -> None:
        # Looks often enough to catch `every` events soon, anchors only when due.
        tick = min(self.interval, POLL_SECONDS)
        last = time.monotonic()
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):  # asyncio.timeout keeps a cancel a cancel
                async with asyncio.timeout(tick):
                    await self._stopping.wait()
            if self._stopping.is_set():
                return
            try:
                if not await self._due(last):
                    continue
                last = time.monotonic()
                await self.anchor_once()
            except KNOWN_ERRORS as exc:
                log.warning("could not anchor the audit log on %s: %s", self.chain_id, exc)
            except Exception:
                log.exception("anchoring the audit log failed")

    def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="audit-anchorer")

    async def stop(self) -> None:
        """Lets an anchoring under way finish: a head written on the chain but not in the
        hub's table would read as tampering at the next `audit verify`."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE)
        except TimeoutError:
            log.warning("audit anchoring did not finish within %ss; stopping it", STOP_GRACE)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
