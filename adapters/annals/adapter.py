"""AnnalsAdapter: the Adapter protocol over an Annals node's REST API."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

from adapters.annals import translate
from adapters.annals.client import AnnalsClient, Duplicate
from adapters.annals.options import AnnalsOptions
from adapters.base import AdapterContext, AdapterError, InvalidAdapterRequest, RecordNotFound
from tonglian.v1 import adapter_pb2, chains_pb2, relay_pb2

ADAPTER_NAME = "annals/0.1.0"
FIRST_BLOCK = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
S = adapter_pb2.SubmissionState


class AnnalsAdapter:
    def __init__(self, ctx: AdapterContext, options: AnnalsOptions) -> None:
        self.chain_id = ctx.chain_id
        self.options = options
        self.client = AnnalsClient(str(options.url), ctx.timeout)

    async def describe(self) -> adapter_pb2.DescribeResponse:
        ledger = await self.client.ledger()
        return adapter_pb2.DescribeResponse(
            adapter=ADAPTER_NAME,
            kind=chains_pb2.CHAIN_KIND_SIGNED_MERKLE,
            network_id=ledger.network,
            namespaces=ledger.spaces,
            can_submit=True,
        )

    async def head(self) -> chains_pb2.ChainHead:
        latest = await self.client.latest()
        mark = translate.block_mark(latest)
        time_ms = latest.header_fields().get("time", 0)
        # Sealed blocks are final at once.
        return chains_pb2.ChainHead(
            height=latest.number,
            block_hash=mark.block_hash,
            final_height=latest.number,
            time=translate.timestamp(time_ms if isinstance(time_ms, int) else 0),
        )

    async def read(
        self, namespace: str, key: str, at_height: int = 0
    ) -> adapter_pb2.ReadRecordResponse:
        if not _NAME.match(namespace) or not key or len(key.encode()) > 256:
            raise InvalidAdapterRequest(
                "an annals record needs a space (namespace) and a key of 1..256 bytes"
            )
        cursor: str | None = None
        while True:
            page = await self.client.revisions(namespace, key, cursor)
            for rev in page.items:  # newest first
                if not at_height or rev.block <= at_height:
                    block = await self.client.block(rev.block)
                    answer = translate.read_response(block, rev.position, self.chain_id)
                    ref = answer.record.ref
                    if (ref.namespace, ref.key) != (namespace, key):
                        raise AdapterError(
                            f"annals revision of {namespace}/{key} points at {ref.namespace}/"
                            f"{ref.key} (block {rev.block} position {rev.position})"
                        )
                    return answer
            if page.next_cursor is None:
                raise RecordNotFound(f"no record {namespace}/{key} at or below block {at_height}")
            cursor = page.next_cursor

    async def scan(
        self, namespace: str, from_height: int, to_height: int = 0, follow: bool = False
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        if from_height < 0 or to_height < 0 or (to_height and to_height < from_height):
            raise InvalidAdapterRequest(f"bad scan range {from_height}..{to_height}")
        if namespace and not _NAME.match(namespace):
            raise InvalidAdapterRequest(f"space {namespace[:80]!r} is not a valid name")
        height = max(from_height, FIRST_BLOCK)
        cursor: str | None = None
        while not to_height or height <= to_height:
            page = await self.client.blocks(height, to_height, self.options.page_size, cursor)
            for block in page.items:
                if block.number != height:
                    raise AdapterError(f"annals sent block {block.number} when {height} was next")
                for position, tx in enumerate(block.txs):
                    if not namespace or tx.space == namespace:
                        answer = translate.read_response(block, position, self.chain_id)
                        yield adapter_pb2.ScanResponse(record=answer)
                yield adapter_pb2.ScanResponse(block=translate.block_mark(block))
                height += 1
            cursor = page.next_cursor
            if cursor is None:
                if not follow:
                    return
                await asyncio.sleep(self.options.poll_ms / 1000)

    async def submit(self, delivery: relay_pb2.Delivery) -> adapter_pb2.Submission:
        body = _transaction(delivery)
        try:
            txid = await self.client.post_tx(body)
        except Duplicate as dup:
            status = await self.client.tx(dup.txid)
            return _submission(delivery.delivery_id, status.txid, status.block, duplicate=True)
        return _submission(delivery.delivery_id, txid, None)

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        if not _DELIVERY_ID.match(delivery_id):
            raise InvalidAdapterRequest(f"delivery id {delivery_id[:80]!r} is malformed")
        status = await self.client.tx_by_ref(delivery_id)
        if status is None:
            return adapter_pb2.Submission(delivery_id=delivery_id, state=S.SUBMISSION_STATE_UNKNOWN)
        return _submission(delivery_id, status.txid, status.block)

    async def close(self) -> None:
        await self.client.close()


def _transaction(d: relay_pb2.Delivery) -> dict[str, object]:
    """The Annals transaction for a delivery; client_ref = delivery id makes it idempotent."""
    if not _DELIVERY_ID.match(d.delivery_id):
        raise InvalidAdapterRequest(f"delivery id {d.delivery_id[:80]!r} is malformed")
    if not _NAME.match(d.destination_namespace):
        raise InvalidAdapterRequest("delivery destination_namespace is not a valid annals space")
    if len(d.proof_digest) != 32:
        raise InvalidAdapterRequest(f"proof_digest is {len(d.proof_digest)} bytes, not 32")
    r = d.record
    if not r.ref.key or not r.schema:
        raise InvalidAdapterRequest("delivery record needs a key and a schema")
    body: dict[str, object] = {
        "space": d.destination_namespace,
        "key": r.ref.key,
        "kind": r.schema,
        "client_ref": d.delivery_id,
    }
    if r.deleted:
        body["tombstone"] = True
    else:
        try:
            body["doc"] = json.loads(r.value.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidAdapterRequest(f"delivery value is not JSON: {exc}") from None
    return body


def _submission(
    delivery_id: str, txid: str, block: int | None, *, duplicate: bool = False
) -> adapter_pb2.Submission:
    where = f"sealed in block {block}" if block is not None else "queued"
    if duplicate:
        state, detail = S.SUBMISSION_STATE_DUPLICATE, f"client_ref already used ({where})"
    elif block is not None:
        state, detail = S.SUBMISSION_STATE_CONFIRMED, where
    else:
        state, detail = S.SUBMISSION_STATE_PENDING, where
    return adapter_pb2.Submission(
        delivery_id=delivery_id, state=state, tx_id=txid, block_height=block or 0, detail=detail
    )
