"""CustomAdapter: the Adapter protocol over the reference custom ledger's HTTP API."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence

from adapters.base import AdapterContext, AdapterError, InvalidAdapterRequest, SubmissionRejected
from adapters.custom import translate, wire
from adapters.custom.client import LedgerClient, StaleVersion
from adapters.custom.options import CustomOptions
from tonglian.v1 import adapter_pb2, chains_pb2, relay_pb2

ADAPTER_NAME = "custom/0.1.0"
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
S = adapter_pb2.SubmissionState
# A collection no one writes: asking for it lists blocks without their entries, so
# following the head costs a header, not the block's records.
HEADERS_ONLY = "tonglian.headers-only"
# Deliveries asked about in one request (the ledger takes up to 256).
STATUS_BATCH = 256


class CustomAdapter:
    def __init__(self, ctx: AdapterContext, options: CustomOptions) -> None:
        self.chain_id = ctx.chain_id
        self.options = options
        self.client = LedgerClient(str(options.url), ctx.timeout)
        self._hash: translate.Hash | None = None

    async def _ledger_hash(self) -> translate.Hash:
        """The ledger's block hash function, from its mode, asked once."""
        if self._hash is None:
            self._hash = translate.ledger_hash((await self.client.info()).crypto)
        return self._hash

    async def describe(self) -> adapter_pb2.DescribeResponse:
        info = await self.client.info()
        return adapter_pb2.DescribeResponse(
            adapter=ADAPTER_NAME,
            kind=chains_pb2.CHAIN_KIND_SIGNED_MERKLE,
            network_id=info.ledger_id,
            namespaces=info.collections,
            can_submit=True,
        )

    async def head(self) -> chains_pb2.ChainHead:
        head = await self.client.head()
        # Signed blocks are final at once: head and final height are the same.
        return chains_pb2.ChainHead(
            height=head.height,
            block_hash=bytes.fromhex(head.hash),
            final_height=head.height,
            time=translate.timestamp(head.time_ms),
        )

    async def read(
        self, namespace: str, key: str, at_height: int = 0
    ) -> adapter_pb2.ReadRecordResponse:
        if not namespace or not key:
            raise InvalidAdapterRequest("a custom ledger record needs a namespace and a key")
        if at_height < 0:
            raise InvalidAdapterRequest(f"at_height {at_height} is negative")
        got = await self.client.proof(namespace, key, at_height)
        if (got.record.collection, got.record.key) != (namespace, key):
            raise InvalidAdapterRequest(
                f"ledger answered {got.record.collection}/{got.record.key} for {namespace}/{key}"
            )
        return translate.read_response(
            got.record, translate.seal(got.block), got.path, self.chain_id
        )

    async def scan(
        self, namespace: str, from_height: int, to_height: int = 0, follow: bool = False
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        if from_height < 0 or to_height < 0 or (to_height and to_height < from_height):
            raise InvalidAdapterRequest(f"bad scan range {from_height}..{to_height}")
        height = from_height
        wait_ms = self.options.follow_wait_ms if follow else 0
        h = await self._ledger_hash()
        while not to_height or height <= to_height:
            page = await self.client.blocks(
                height, to_height, self.options.page_blocks, namespace, wait_ms
            )
            for block in page.blocks:
                if block.height != height:
                    raise AdapterError(f"ledger sent block {block.height} when {height} was next")
                if block.entries:
                    sealed = translate.seal(block)
                    for e in block.entries:
                        rec = translate.read_response(e, sealed, e.path, self.chain_id)
                        yield adapter_pb2.ScanResponse(record=rec)
                yield adapter_pb2.ScanResponse(block=translate.block_mark(block, h))
                height += 1
            if not follow and height > page.head_height:
                return

    async def final_heights(self, from_height: int) -> AsyncIterator[int]:
        """Long-polls the ledger for block `from_height` (every signed block is final)."""
        height = from_height
        while True:
            page = await self.client.blocks(
                height, height, 1, HEADERS_ONLY, self.options.follow_wait_ms
            )
            if page.head_height >= height:
                yield page.head_height
                height = page.head_height + 1

    async def submit(self, delivery: relay_pb2.Delivery) -> adapter_pb2.Submission:
        """Refusals of the delivery itself are SubmissionRejected (retrying will not
        help); an older version than the inbox holds is the typed STALE outcome."""
        body = _inbox_body(delivery)
        try:
            got = await self.client.deliver(body)
        except StaleVersion as exc:
            return adapter_pb2.Submission(
                delivery_id=delivery.delivery_id, state=S.SUBMISSION_STATE_STALE, detail=str(exc)
            )
        except InvalidAdapterRequest as exc:
            raise SubmissionRejected(str(exc)) from exc
        return _submission(delivery.delivery_id, got)

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        return _seen(delivery_id, await self.client.delivery(_checked_id(delivery_id)))

    async def submissions(self, delivery_ids: Sequence[str]) -> list[adapter_pb2.Submission]:
        """`adapters.base.ChecksManySubmissions`: one request per STATUS_BATCH ids."""
        ids = [_checked_id(delivery_id) for delivery_id in delivery_ids]
        out: list[adapter_pb2.Submission] = []
        for i in range(0, len(ids), STATUS_BATCH):
            batch = ids[i : i + STATUS_BATCH]
            got = await self.client.deliveries(batch)
            out += [_seen(d, tx) for d, tx in zip(batch, got, strict=True)]
        return out

    async def close(self) -> None:
        await self.client.close()


def _checked_id(delivery_id: str) -> str:
    if not _DELIVERY_ID.match(delivery_id):
        raise InvalidAdapterRequest(f"delivery id {delivery_id[:80]!r} is malformed")
    return delivery_id


def _seen(delivery_id: str, tx: wire.TxStatus | None) -> adapter_pb2.Submission:
    """The inbox's view of a delivery; UNKNOWN when it never saw it."""
    if tx is None:
        return adapter_pb2.Submission(delivery_id=delivery_id, state=S.SUBMISSION_STATE_UNKNOWN)
    return _submission(delivery_id, tx)


def _inbox_body(d: relay_pb2.Delivery) -> bytes:
    """The inbox request's JSON body. The record's value is sent as the record holds it
    (its canonical JSON text, checked to be one JSON value): decoding it and encoding
    it again cost as much as the rest of a submission for large records."""
    _checked_id(d.delivery_id)
    if not d.destination_namespace:
        raise InvalidAdapterRequest("delivery has no destination_namespace (collection)")
    if len(d.proof_digest) != 32:
        raise InvalidAdapterRequest(f"proof_digest is {len(d.proof_digest)} bytes, not 32")
    r = d.record
    body: dict[str, object] = {
        "delivery_id": d.delivery_id,
        "collection": d.destination_namespace,
        "key": r.ref.key,
        "schema": r.schema,
        "source": {
            "chain_id": r.ref.chain_id,
            "namespace": r.ref.namespace,
            "key": r.ref.key,
            "tx_id": r.tx_id,
            "version": r.version,
        },
        "proof_digest": d.proof_digest.hex(),
    }
    if r.deleted:
        body["deleted"] = True
        return json.dumps(body).encode()
    try:
        value = r.value.decode("utf-8")
        # One whole JSON value, or refused here: anything after it (`1, "key": "x"`)
        # would otherwise become fields of the request.
        json.loads(value)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidAdapterRequest(f"delivery value is not JSON: {exc}") from None
    return (json.dumps(body)[:-1] + ', "value": ' + value + "}").encode()


def _submission(delivery_id: str, tx: wire.TxStatus) -> adapter_pb2.Submission:
    committed = tx.status == "committed"
    where = f"committed at block {tx.block_height}" if committed else "pending"
    if tx.duplicate:
        state, detail = S.SUBMISSION_STATE_DUPLICATE, f"inbox already held it ({where})"
    elif committed:
        state, detail = S.SUBMISSION_STATE_CONFIRMED, where
    else:
        state, detail = S.SUBMISSION_STATE_PENDING, where
    return adapter_pb2.Submission(
        delivery_id=delivery_id,
        state=state,
        tx_id=tx.tx_id,
        block_height=tx.block_height or 0,
        detail=detail,
    )
