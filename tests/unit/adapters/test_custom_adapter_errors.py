"""The custom adapter against a fake ledger: options, error mapping and garbage answers."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.base import (
    Adapter,
    AdapterContext,
    AdapterError,
    AdapterMisconfigured,
    ChainUnavailable,
    InvalidAdapterRequest,
    RecordNotFound,
)
from adapters.custom import create_adapter
from devnets.process import free_port
from tonglian.v1 import adapter_pb2, records_pb2, relay_pb2

Reply = Callable[[web.Request], web.StreamResponse]
HEADER = json.dumps(
    {
        "height": 1,
        "ledger_id": "fake",
        "merkle_root": "00" * 32,
        "previous_hash": "11" * 32,
        "record_count": 1,
        "time": 1000,
    },
    separators=(",", ":"),
    sort_keys=True,
)
BLOCK = {
    "height": 1,
    "hash": hashlib.sha256(HEADER.encode()).hexdigest(),
    "header": HEADER,
    "signatures": [{"validator_id": "v1", "signature": "ab" * 64}],
}
ENTRY = {
    "tx_id": "t" * 32,
    "collection": "c",
    "key": "k",
    "schema": "s/v1",
    "value_canonical": '{"a":1}',
    "version": 1,
    "deleted": False,
    "block_height": 1,
    "leaf_index": 0,
    "time_ms": 1000,
}


INFO = {"ledger_id": "fake", "validators": [], "threshold": 1, "crypto": "ed25519"}


class FakeLedger:
    """Answers every request with whatever the test set for its path."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.delays: dict[str, float] = {}
        self.seen: list[web.Request] = []
        self.bodies: list[bytes] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request)
        self.bodies.append(await request.read())
        await asyncio.sleep(self.delays.get(request.path, 0))
        reply = self.replies.get(request.path)
        if reply is None:
            return web.json_response({"error": "not_found", "detail": "no route"}, status=404)
        return reply(request)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeLedger, Adapter]]:
    ledger = FakeLedger()
    # Scans ask once how the ledger hashes its blocks.
    ledger.replies["/v1/info"] = json_reply(INFO)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ledger.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    adapter = create_adapter(
        AdapterContext(chain_id="fake-1", options={"url": str(server.make_url("/"))}, timeout=1.0)
    )
    yield ledger, adapter
    await adapter.close()
    await server.close()


def json_reply(body: Any, status: int = 200) -> Reply:
    return lambda _req: web.json_response(body, status=status)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"url": "not a url"},
        {"url": "http://x", "typo": 1},
        {"url": "http://x", "page_blocks": 0},
    ],
)
def test_bad_options_are_misconfiguration(options: dict[str, Any]) -> None:
    with pytest.raises(AdapterMisconfigured, match="custom adapter options"):
        create_adapter(AdapterContext(chain_id="c", options=options))


async def test_read_translates_a_proof(fake: tuple[FakeLedger, Adapter]) -> None:
    ledger, adapter = fake
    ledger.replies["/v1/proofs"] = json_reply({"record": ENTRY, "path": [], "block": BLOCK})
    got = await adapter.read("c", "k", at_height=1)
    assert got.record.ref == records_pb2.RecordRef(chain_id="fake-1", namespace="c", key="k")
    assert got.record.value == b'{"a":1}'
    assert got.record.commit_time.seconds == 1
    assert got.proof.signed_merkle.header == HEADER.encode()
    assert got.proof.signed_merkle.signatures[0].signature == bytes.fromhex("ab" * 64)
    assert ledger.seen[-1].query["at_height"] == "1"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, RecordNotFound),
        (400, InvalidAdapterRequest),
        (413, InvalidAdapterRequest),
        (503, ChainUnavailable),
        (500, ChainUnavailable),
    ],
)
async def test_http_statuses_map_to_typed_errors(
    fake: tuple[FakeLedger, Adapter], status: int, error: type[Exception]
) -> None:
    ledger, adapter = fake
    ledger.replies["/v1/proofs"] = json_reply({"error": "x", "detail": "why"}, status)
    with pytest.raises(error, match=f"HTTP {status}\\) x: why"):
        await adapter.read("c", "k")


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (lambda _r: web.Response(text="<html>"), "not JSON"),
        (json_reply({"record": ENTRY}), "malformed body: path"),
        (
            json_reply({"record": {**ENTRY, "version": "1"}, "path": [], "block": BLOCK}),
            "record.version",
        ),
        (json_reply({"record": ENTRY, "path": [], "block": {**BLOCK, "hash": "zz"}}), "block.hash"),
        (
            json_reply({"record": {**ENTRY, "block_height": 2}, "path": [], "block": BLOCK}),
            "of block 2 with the header of block 1",
        ),
        (
            json_reply(
                {
                    "record": ENTRY,
                    "path": [],
                    "block": {**BLOCK, "signatures": [{"validator_id": "v1", "signature": "zz"}]},
                }
            ),
            "not hex",
        ),
    ],
)
async def test_garbage_answers_are_adapter_errors(
    fake: tuple[FakeLedger, Adapter], reply: Reply, why: str
) -> None:
    ledger, adapter = fake
    ledger.replies["/v1/proofs"] = reply
    with pytest.raises(AdapterError, match=why) as err:
        await adapter.read("c", "k")
    assert type(err.value) is AdapterError


async def test_scan_refuses_a_block_whose_hash_is_not_its_header(
    fake: tuple[FakeLedger, Adapter],
) -> None:
    ledger, adapter = fake
    bad = {**BLOCK, "hash": "22" * 32, "entries": []}
    ledger.replies["/v1/blocks"] = json_reply(
        {"blocks": [bad], "head_height": 1, "next_from_height": 2}
    )
    with pytest.raises(AdapterError, match="hash does not match its header"):
        async for _ in adapter.scan("", 1):
            pass


async def test_scan_marks_blocks_of_an_sm2_ledger_with_sm3(
    fake: tuple[FakeLedger, Adapter],
) -> None:
    ledger, adapter = fake
    ledger.replies["/v1/info"] = json_reply({**INFO, "crypto": "sm2"})
    sm3_block = {**BLOCK, "hash": hashlib.new("sm3", HEADER.encode()).hexdigest(), "entries": []}
    ledger.replies["/v1/blocks"] = json_reply(
        {"blocks": [sm3_block], "head_height": 1, "next_from_height": 2}
    )
    marks = [r.block async for r in adapter.scan("", 1)]
    assert [m.block_hash.hex() for m in marks] == [sm3_block["hash"]]
    ledger.replies["/v1/blocks"] = json_reply(
        {"blocks": [{**BLOCK, "entries": []}], "head_height": 1, "next_from_height": 2}
    )
    with pytest.raises(AdapterError, match="hash does not match its header"):
        async for _ in adapter.scan("", 1):  # a SHA-256 hash from an SM3 ledger
            pass


async def test_scan_refuses_a_gap(fake: tuple[FakeLedger, Adapter]) -> None:
    ledger, adapter = fake
    ledger.replies["/v1/blocks"] = json_reply(
        {"blocks": [{**BLOCK, "entries": []}], "head_height": 1, "next_from_height": 2}
    )
    with pytest.raises(AdapterError, match="sent block 1 when 0 was next"):
        async for _ in adapter.scan("", 0):
            pass


async def test_slow_ledger_is_unavailable(fake: tuple[FakeLedger, Adapter]) -> None:
    ledger, adapter = fake
    ledger.delays["/v1/head"] = 1.5
    ledger.replies["/v1/head"] = json_reply({})
    with pytest.raises(ChainUnavailable, match="did not answer GET /v1/head"):
        await adapter.head()


async def test_nothing_listening_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    adapter = create_adapter(AdapterContext(chain_id="c", options={"url": url}, timeout=1.0))
    try:
        with pytest.raises(ChainUnavailable, match=url):
            await adapter.head()
    finally:
        await adapter.close()


async def test_submit_builds_the_inbox_body(fake: tuple[FakeLedger, Adapter]) -> None:
    ledger, adapter = fake
    ledger.replies["/v1/inbox"] = json_reply(
        {"tx_id": "t1", "status": "pending", "block_height": None, "duplicate": True}
    )
    delivery = relay_pb2.Delivery(
        delivery_id="d" * 64,
        record=records_pb2.Record(
            ref=records_pb2.RecordRef(chain_id="evm-1", namespace="0xabc", key="k"),
            schema="s/v1",
            value=b'{"a":1}',
            version=3,
            tx_id="0x01",
        ),
        proof_digest=b"\x07" * 32,
        destination_namespace="incoming",
    )
    sub = await adapter.submit(delivery)
    assert sub.state == adapter_pb2.SUBMISSION_STATE_DUPLICATE
    assert sub.tx_id == "t1" and "pending" in sub.detail
    body = json.loads(ledger.bodies[0])
    assert body == {
        "delivery_id": "d" * 64,
        "collection": "incoming",
        "key": "k",
        "schema": "s/v1",
        "value": {"a": 1},
        "source": {
            "chain_id": "evm-1",
            "namespace": "0xabc",
            "key": "k",
            "tx_id": "0x01",
            "version": 3,
        },
        "proof_digest": "07" * 32,
    }


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda d: setattr(d, "delivery_id", "bad id/"), "delivery id"),
        (lambda d: setattr(d, "destination_namespace", ""), "destination_namespace"),
        (lambda d: setattr(d, "proof_digest", b"\x00"), "proof_digest is 1 bytes"),
        (lambda d: setattr(d.record, "value", b"{not json"), "not JSON"),
        # Text after one JSON value would become fields of the request (a second "key").
        (
            lambda d: setattr(d.record, "value", b'1, "key": "other"'),
            r"delivery value is not JSON: Extra data: line 1 column 2 \(char 1\)",
        ),
        (lambda d: setattr(d.record, "value", b"\xff"), "delivery value is not JSON: 'utf-8'"),
    ],
)
async def test_submit_refuses_bad_deliveries_before_sending(
    fake: tuple[FakeLedger, Adapter], edit: Callable[[relay_pb2.Delivery], None], why: str
) -> None:
    ledger, adapter = fake
    d = relay_pb2.Delivery(
        delivery_id="d1",
        record=records_pb2.Record(value=b"{}"),
        proof_digest=bytes(32),
        destination_namespace="c",
    )
    edit(d)
    with pytest.raises(InvalidAdapterRequest, match=why):
        await adapter.submit(d)
    assert ledger.seen == []


async def test_submit_sends_the_value_as_the_record_holds_it(
    fake: tuple[FakeLedger, Adapter],
) -> None:
    ledger, adapter = fake
    ledger.replies["/v1/inbox"] = json_reply(
        {"tx_id": "t1", "status": "pending", "block_height": None, "duplicate": False}
    )
    value = '{"a":"\u00e9\u901a","b":[1,2.5,null],"c":{"d":true}}'.encode()
    d = relay_pb2.Delivery(
        delivery_id="d1",
        record=records_pb2.Record(value=value),
        proof_digest=bytes(32),
        destination_namespace="c",
    )
    await adapter.submit(d)
    d.delivery_id, d.record.deleted = "d2", True
    await adapter.submit(d)
    sent, deleted = ledger.bodies
    assert sent.endswith(b', "value": ' + value + b"}")  # byte for byte, not re-encoded
    assert json.loads(sent)["value"] == json.loads(value)
    assert ledger.seen[0].content_type == "application/json"
    assert json.loads(deleted)["deleted"] is True and "value" not in json.loads(deleted)


async def test_unknown_submission(fake: tuple[FakeLedger, Adapter]) -> None:
    _, adapter = fake
    sub = await adapter.submission("never-seen")
    assert sub.state == adapter_pb2.SUBMISSION_STATE_UNKNOWN
