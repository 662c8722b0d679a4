"""PutRecord: an agency puts a record on a chain through the hub.

Order of checks, each refusing before anything is written: the request's fields, the
purpose, the policy (a rule with access "write" on the chain, namespace and schema),
the catalog schema, the chain's ability to submit. The write then goes through the
chain's adapter as the relay's deliveries do (`submit`, idempotent on the delivery id,
which the agency's request id determines), and is followed to its final block as the
deliverer follows a delivery (new final heights where the adapter reports them).

Idempotency lives on the chain, not in the hub: a request id the chain's inbox already
holds is never applied again. Its content is then compared with what the chain holds
for that write (read back through the verified read path at the write's block): the
same content answers the first write's receipt, other content is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator

from hub.errors import (
    AlreadyExists,
    ChainUnreachable,
    FailedPrecondition,
    HubError,
    NotFound,
    SchemaViolation,
)
from hub.guarded_adapter import GuardedAdapter
from hub.policy import WRITE, Request
from hub.principal import Principal
from hub.registry import ChainRegistry
from hub.relay.deliverer import CONFIRM_POLL
from hub.relay.finality import submission_final
from hub.usecases.audit_record import AuditRecord
from hub.usecases.purpose import declare_purpose
from hub.usecases.record_access import RecordAccess, enforce, proof_digest
from hub.usecases.write_request import WriteRequest, check_write
from tonglian.v1 import adapter_pb2, query_pb2, records_pb2, relay_pb2
from tonglian_proof.canonical import canonical_json
from tonglian_proof.errors import MalformedInput

S = adapter_pb2
# Longest the hub follows one write to its final block within a call.
WAIT_LIMIT = 120.0


class RecordWrites:
    def __init__(self, access: RecordAccess, registry: ChainRegistry) -> None:
        self._access = access
        self._registry = registry

    async def put(
        self, principal: Principal, request: query_pb2.PutRecordRequest, audit: AuditRecord
    ) -> query_pb2.PutRecordResponse:
        write = check_write(request)
        audit.detail["request_id"] = write.request_id
        declare_purpose(audit, request.purpose)
        ref = write.ref
        policy = self._access.policy.current()
        decision = policy.decide(
            principal.agency,
            Request(ref.chain_id, ref.namespace, write.schema, request.purpose, WRITE),
        )
        enforce(audit, decision)
        self._check_schema(write)
        adapter = await self._registry.adapter(ref.chain_id)
        await adapter.require_submit()
        delivery = write.delivery(principal.agency)
        audit.detail.update(
            schema=write.schema, write_id=delivery.delivery_id, value_digest=write.value_digest
        )
        sub, repeated = await self._submit_once(adapter, delivery)
        self._check_submitted(write, sub)
        record: records_pb2.VerifiedRecord | None = None
        if repeated or request.wait:
            sub = await self._final(adapter, write, sub)
            record = await self._written(principal, write, sub)
        receipt = _receipt(write, delivery.delivery_id, sub, repeated)
        audit.detail.update(
            tx_id=sub.tx_id,
            block_height=receipt.block_height,
            repeated=repeated,
            state=query_pb2.WriteState.Name(receipt.state),
        )
        if record is not None and request.wait:
            audit.detail["proof_digest"] = proof_digest(record)
            return query_pb2.PutRecordResponse(receipt=receipt, record=record)
        return query_pb2.PutRecordResponse(receipt=receipt)

    @staticmethod
    async def _submit_once(
        adapter: GuardedAdapter, delivery: relay_pb2.Delivery
    ) -> tuple[adapter_pb2.Submission, bool]:
        """Submits unless the chain already holds the write id (asked first, so that a
        retry costs no transaction); True when it did: nothing was applied again."""
        sub = await adapter.submission(delivery.delivery_id)
        if sub.state != S.SUBMISSION_STATE_UNKNOWN:
            return sub, True
        sub = await adapter.submit(delivery)
        return sub, sub.state == S.SUBMISSION_STATE_DUPLICATE

    def _check_schema(self, write: WriteRequest) -> None:
        """A write must name a catalog schema and conform to it (reads may meet unknown
        schemas on chains the hub does not own; what the hub writes it checks)."""
        catalog = self._access.catalog
        if not catalog.knows(write.schema):
            raise SchemaViolation(
                f"schema {write.schema!r} is not in the catalog: a write must name a "
                "schema the hub can check the value against"
            )
        catalog.check_value(write.schema, write.value, f"record {write.target}")

    @staticmethod
    def _check_submitted(write: WriteRequest, sub: adapter_pb2.Submission) -> None:
        chain = write.ref.chain_id
        if sub.state == S.SUBMISSION_STATE_STALE:
            raise FailedPrecondition(
                f"chain {chain!r} holds a newer write of {write.target} by the same agency: "
                f"{sub.detail}; nothing was written"
            )
        if sub.state == S.SUBMISSION_STATE_FAILED:
            raise FailedPrecondition(
                f"chain {chain!r} did not apply request {write.request_id!r}: "
                f"{sub.detail or 'the write failed'}"
            )

    async def _final(
        self, adapter: GuardedAdapter, write: WriteRequest, sub: adapter_pb2.Submission
    ) -> adapter_pb2.Submission:
        """Asks about the write at each new final block of the chain (or every
        CONFIRM_POLL where the adapter cannot tell) until a final block holds it."""
        if submission_final(sub):
            return sub
        try:
            blocks_of = contextlib.aclosing(self._blocks(adapter))
            async with asyncio.timeout(WAIT_LIMIT), blocks_of as blocks:
                async for _ in blocks:
                    sub = await adapter.submission(sub.delivery_id)
                    self._check_submitted(write, sub)
                    if submission_final(sub):
                        return sub
        except TimeoutError:
            pass
        raise ChainUnreachable(
            f"request {write.request_id!r} to chain {write.ref.chain_id!r} is not final after "
            f"{WAIT_LIMIT:g}s; send the same request again to follow it (it is applied once)",
            chain_id=write.ref.chain_id,
        )

    @staticmethod
    async def _blocks(adapter: GuardedAdapter) -> AsyncGenerator[None, None]:
        """A tick at each final height the chain reports from now on (the current one
        first), or every CONFIRM_POLL where the adapter cannot tell."""
        if adapter.follows_final_heights:
            try:
                async for _ in adapter.final_heights(0):
                    yield None
            except HubError:
                pass  # asked on a timer instead, as the deliverer's fallback does
        while True:
            await asyncio.sleep(CONFIRM_POLL)
            yield None

    async def _written(
        self, principal: Principal, write: WriteRequest, sub: adapter_pb2.Submission
    ) -> records_pb2.VerifiedRecord:
        """The record the write put on chain, verified, read at the write's block; a
        request id whose first write carried other content is refused."""
        refused = AlreadyExists(
            f"request id {write.request_id!r} of {principal.agency} was already used on chain "
            f"{write.ref.chain_id!r} for a different record; nothing was written: use a new "
            "request id for new content"
        )
        try:
            record = await self._access.reader.get(write.ref, sub.block_height)
        except NotFound:
            raise refused from None
        held = record.record
        if held.tx_id != sub.tx_id or held.schema != write.schema or held.deleted:
            raise refused
        if not _same_value(held.value, write):
            raise refused
        return record


def _receipt(
    write: WriteRequest, write_id: str, sub: adapter_pb2.Submission, repeated: bool
) -> query_pb2.WriteReceipt:
    final = submission_final(sub)
    return query_pb2.WriteReceipt(
        request_id=write.request_id,
        write_id=write_id,
        ref=write.ref,
        schema=write.schema,
        value_digest=write.value_digest,
        state=query_pb2.WRITE_STATE_FINAL if final else query_pb2.WRITE_STATE_PENDING,
        tx_id=sub.tx_id,
        block_height=sub.block_height if final else 0,
        repeated=repeated,
    )


def _same_value(held: bytes, write: WriteRequest) -> bool:
    """Whether the chain holds the write's value. A family that keeps the schema inside
    the value (Fabric: a top-level "schema" member) holds it with that member added."""
    try:
        value = json.loads(held)
        if canonical_json(value) == write.canonical:
            return True
    except (ValueError, MalformedInput):
        return False
    if not isinstance(value, dict) or not isinstance(write.value, dict):
        return False
    if "schema" in write.value or value.get("schema") != write.schema:
        return False
    return {k: v for k, v in value.items() if k != "schema"} == write.value
