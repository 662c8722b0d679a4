"""The custom adapter against the real ledger process; everything it returns is verified."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from adapters.base import (
    Adapter,
    AdapterContext,
    ChainUnavailable,
    ChecksManySubmissions,
    InvalidAdapterRequest,
    RecordNotFound,
)
from adapters.custom import create_adapter
from devnets.custom.writer import write_record
from devnets.process import free_port
from tonglian.v1 import adapter_pb2, chains_pb2, records_pb2, relay_pb2
from tonglian_proof.verify.signed_merkle import verify_signed_merkle_record

pytestmark = pytest.mark.integration
SCHEMA = "gov.license.business/v1"


def verify(resp: adapter_pb2.ReadRecordResponse, chain: chains_pb2.Chain) -> None:
    verify_signed_merkle_record(
        resp.record, resp.proof.signed_merkle, chain.trust_anchor.signed_merkle
    )


async def test_describe_and_head(adapter: Adapter, chain: chains_pb2.Chain, url: str) -> None:
    await write_record(url, "described", "d", SCHEMA, {"d": 1})
    d = await adapter.describe()
    assert d.kind == chains_pb2.CHAIN_KIND_SIGNED_MERKLE
    assert d.network_id == chain.trust_anchor.signed_merkle.ledger_id
    assert "described" in d.namespaces and d.can_submit
    head = await adapter.head()
    assert head.height >= 1 and head.final_height == head.height
    assert len(head.block_hash) == 32


async def test_read_and_scan_agree_and_verify(
    adapter: Adapter, chain: chains_pb2.Chain, url: str
) -> None:
    writes = [await write_record(url, "scanned", f"s{i}", SCHEMA, {"i": i}) for i in range(3)]
    start = writes[0].block_height
    scanned: list[records_pb2.Record] = []
    marks: list[adapter_pb2.BlockMark] = []
    async for ev in adapter.scan("scanned", start - 1):
        if ev.HasField("record"):
            verify(ev.record, chain)
            scanned.append(ev.record.record)
        else:
            marks.append(ev.block)
    assert [m.height for m in marks] == list(range(start - 1, marks[-1].height + 1))
    for parent, child in itertools.pairwise(marks):
        assert child.parent_hash == parent.block_hash
    assert {r.ref.namespace for r in scanned} == {"scanned"}
    for i, w in enumerate(writes):
        read = await adapter.read("scanned", f"s{i}")
        verify(read, chain)
        assert read.record.ref.chain_id == chain.chain_id
        assert read.record.tx_id == w.tx_id and read.record.block_height == w.block_height
        assert read.record in scanned
    head = await adapter.head()
    last = [m for m in marks if m.height == head.height]
    assert not last or last[0].block_hash == head.block_hash


async def test_scan_to_height_stops_there(adapter: Adapter, url: str) -> None:
    w = await write_record(url, "bounded", "b", SCHEMA, {})
    marks = [
        ev.block.height async for ev in adapter.scan("", 0, w.block_height) if ev.HasField("block")
    ]
    assert marks == list(range(w.block_height + 1))


async def test_scan_follow_waits_for_new_blocks(
    adapter: Adapter, chain: chains_pb2.Chain, url: str
) -> None:
    start = (await adapter.head()).height + 1

    async def first_record() -> adapter_pb2.ReadRecordResponse:
        async for ev in adapter.scan("followed", start, follow=True):
            if ev.HasField("record"):
                return ev.record
        raise AssertionError("follow ended")

    task = asyncio.create_task(first_record())
    await asyncio.sleep(0.3)
    assert not task.done()
    w = await write_record(url, "followed", "f", SCHEMA, {"f": 1})
    got = await asyncio.wait_for(task, 10)
    assert got.record.tx_id == w.tx_id
    verify(got, chain)


async def test_read_at_height(adapter: Adapter, url: str) -> None:
    first = await write_record(url, "history", "h", SCHEMA, {"v": 1})
    await write_record(url, "history", "h", SCHEMA, {"v": 2})
    old = await adapter.read("history", "h", at_height=first.block_height)
    assert (old.record.version, old.record.value) == (1, b'{"v":1}')
    with pytest.raises(RecordNotFound):
        await adapter.read("history", "h", at_height=first.block_height - 1)


async def test_read_errors(adapter: Adapter) -> None:
    with pytest.raises(RecordNotFound, match="no record nothing/here"):
        await adapter.read("nothing", "here")
    with pytest.raises(InvalidAdapterRequest, match="HTTP 400"):
        await adapter.read("bad namespace!", "k")
    with pytest.raises(InvalidAdapterRequest):
        await adapter.read("", "k")


async def test_submit_is_idempotent_and_confirms(
    adapter: Adapter, chain: chains_pb2.Chain, url: str
) -> None:
    source = records_pb2.Record(
        ref=records_pb2.RecordRef(chain_id="evm-1", namespace="0xregistry", key="lic-9"),
        schema=SCHEMA,
        value=b'{"status":"active"}',
        version=4,
        tx_id="0xfeed",
    )
    d = relay_pb2.Delivery(
        delivery_id="a" * 64,
        record=source,
        proof_digest=b"\x05" * 32,
        destination_namespace="relayed",
    )
    assert (await adapter.submission(d.delivery_id)).state == adapter_pb2.SUBMISSION_STATE_UNKNOWN
    first = await adapter.submit(d)
    assert first.state == adapter_pb2.SUBMISSION_STATE_PENDING
    again = await adapter.submit(d)
    assert again.state == adapter_pb2.SUBMISSION_STATE_DUPLICATE and again.tx_id == first.tx_id
    for _ in range(100):
        sub = await adapter.submission(d.delivery_id)
        if sub.state == adapter_pb2.SUBMISSION_STATE_CONFIRMED:
            break
        await asyncio.sleep(0.05)
    assert sub.state == adapter_pb2.SUBMISSION_STATE_CONFIRMED and sub.block_height > 0
    read = await adapter.read("relayed", "lic-9")
    verify(read, chain)
    assert (read.record.version, read.record.value, read.record.tx_id) == (
        1,
        b'{"status":"active"}',
        first.tx_id,
    )
    third = await adapter.submit(d)
    assert third.state == adapter_pb2.SUBMISSION_STATE_DUPLICATE
    assert third.block_height == sub.block_height


async def test_many_submissions_in_one_request(adapter: Adapter) -> None:
    """More than the ledger takes in one request (256): answered in the order asked,
    UNKNOWN for the ones never sent."""
    assert isinstance(adapter, ChecksManySubmissions)

    def delivery(i: int) -> relay_pb2.Delivery:
        source = records_pb2.Record(
            ref=records_pb2.RecordRef(chain_id="evm-1", namespace="0xr", key=f"many-{i}"),
            schema=SCHEMA,
            value=b"{}",
            version=1,
            tx_id=f"0x{i:04x}",
        )
        return relay_pb2.Delivery(
            delivery_id=f"many-{i:04d}",
            record=source,
            proof_digest=b"\x05" * 32,
            destination_namespace="relayed",
        )

    sent = [delivery(i) for i in range(0, 300, 2)]
    for d in sent:
        assert (await adapter.submit(d)).state == adapter_pb2.SUBMISSION_STATE_PENDING
    ids = [f"many-{i:04d}" for i in range(300)]
    for _ in range(100):
        subs = await adapter.submissions(ids)
        if all(s.state != adapter_pb2.SUBMISSION_STATE_PENDING for s in subs):
            break
        await asyncio.sleep(0.05)
    assert [s.delivery_id for s in subs] == ids
    states = [s.state for s in subs]
    assert states[0::2] == [adapter_pb2.SUBMISSION_STATE_CONFIRMED] * 150
    assert states[1::2] == [adapter_pb2.SUBMISSION_STATE_UNKNOWN] * 150
    assert all(s.block_height > 0 for s in subs[0::2])
    with pytest.raises(InvalidAdapterRequest, match="delivery id 'bad id!' is malformed"):
        await adapter.submissions(["many-0000", "bad id!"])


async def test_ledger_down_is_chain_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    adapter = create_adapter(AdapterContext(chain_id="down-1", options={"url": url}, timeout=2))
    try:
        for call in (adapter.head(), adapter.read("c", "k"), adapter.submission("x")):
            with pytest.raises(ChainUnavailable, match="did not answer"):
                await call
        with pytest.raises(ChainUnavailable):
            async for _ in adapter.scan("", 0):
                pass
    finally:
        await adapter.close()
