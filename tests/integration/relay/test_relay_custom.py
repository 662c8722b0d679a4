"""The relay between two real custom ledgers, through a real hub process, with faults."""

from __future__ import annotations

import asyncio
import json
import random
import signal
from collections.abc import AsyncIterator

import grpc
import pytest
from aiohttp import web

from devnets.custom.network import CustomDevnet
from devnets.custom.writer import write_record
from hub.cli.connection import open_channel
from tests.local_http import serving
from tonglian.v1 import chains_pb2, chains_pb2_grpc, relay_pb2, relay_pb2_grpc
from tonglian_tools.hub_process import HubProcess

from .conftest import (
    append_many,
    chain_of,
    collection_entries,
    create_route,
    register,
    wait_confirmed,
)

pytestmark = pytest.mark.integration


async def setup_route(
    hub: HubProcess, src: CustomDevnet, dst: CustomDevnet, route_id: str = "lic"
) -> tuple[str, str]:
    src_info = await src.up(lambda _: None)
    dst_info = await dst.up(lambda _: None)
    async with open_channel(hub.address) as channel:
        await register(channel, chain_of(src_info, "src"), chain_of(dst_info, "dst"))
        await create_route(
            channel,
            route_id=route_id,
            source_chain_id="src",
            source_namespace="licences",
            destination_chain_id="dst",
            destination_namespace="imported",
        )
    return src_info.endpoints["http"], dst_info.endpoints["http"]


def assert_exactly_once(entries: list[dict[str, object]], n: int, prefix: str = "rec") -> None:
    keys = sorted(str(e["key"]) for e in entries)
    assert keys == [f"{prefix}:{i:05d}" for i in range(n)], f"{len(keys)} entries for {n} records"
    ids = [e["delivery_id"] for e in entries]
    assert len(set(ids)) == len(ids) == n


async def test_forwards_verified_records_once(
    hub_process: HubProcess, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    src_url, dst_url = await setup_route(hub_process, *ledgers)
    await append_many(src_url, "licences", 20)
    await append_many(src_url, "other", 3, prefix="skip")  # not on the route
    async with open_channel(hub_process.address) as channel:
        found = await wait_confirmed(channel, "lic", 20, timeout=60)
        assert len(found) == 20
        d = found[0]
        assert d.destination_tx_id and d.destination_block_height > 0
        stub = relay_pb2_grpc.RelayStub(channel)
        route = (await stub.GetRoute(relay_pb2.GetRouteRequest(route_id="lic"))).route
        assert route.backlog.pending == route.backlog.submitted == route.backlog.parked == 0
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RetryDelivery(relay_pb2.RetryDeliveryRequest(delivery_id=d.delivery_id))
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "only a parked, failed or destination-rejected delivery can be retried" in (
            err.value.details() or ""
        )
    entries = await collection_entries(dst_url, "imported")
    assert_exactly_once(entries, 20)
    first = next(e for e in entries if e["key"] == "rec:00000")
    assert first["source"]["chain_id"] == "src"  # type: ignore[index]
    assert json.loads(str(first["value_canonical"])) == {"n": 0, "status": "active"}


async def test_record_violating_its_schema_is_parked_with_the_field(
    hub_process: HubProcess, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    src_url, dst_url = await setup_route(hub_process, *ledgers)
    await write_record(src_url, "licences", "bad", "gov.license.business/v1", {"status": "bogus"})
    await write_record(src_url, "licences", "good", "gov.license.business/v1", {"status": "active"})
    async with open_channel(hub_process.address) as channel:
        found = await wait_confirmed(channel, "lic", 1, timeout=60)
    bad = next(d for d in found if d.record.ref.key == "bad")
    assert bad.state == relay_pb2.DELIVERY_STATE_REJECTED
    assert bad.rejection == relay_pb2.REJECTION_SCHEMA
    assert bad.last_error.startswith("schema violation: record src/licences/bad version 1 ")
    assert "violates gov.license.business/v1 at $.status" in bad.last_error
    keys = [e["key"] for e in await collection_entries(dst_url, "imported")]
    assert keys == ["good"]


async def test_sigkill_during_transfer_loses_nothing_and_applies_nothing_twice(
    hub_process: HubProcess, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    src_url, dst_url = await setup_route(hub_process, *ledgers)
    n = 1000
    await append_many(src_url, "licences", n)
    rng = random.Random(7)
    for _ in range(10):
        await asyncio.sleep(rng.uniform(0.3, 1.5))
        assert hub_process.stop(signal.SIGKILL) == -signal.SIGKILL
        hub_process.start()
        await hub_process.wait_serving()
    async with open_channel(hub_process.address) as channel:
        found = await wait_confirmed(channel, "lic", n, timeout=240)
    assert len(found) == n
    assert_exactly_once(await collection_entries(dst_url, "imported"), n)


async def test_destination_down_for_30s_then_backlog_drains(
    hub_process: HubProcess, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    src, dst = ledgers
    src_url, dst_url = await setup_route(hub_process, src, dst)
    await dst.down()
    await append_many(src_url, "licences", 50)
    async with open_channel(hub_process.address) as channel:
        await asyncio.sleep(5)
        route = (
            await relay_pb2_grpc.RelayStub(channel).GetRoute(
                relay_pb2.GetRouteRequest(route_id="lic")
            )
        ).route
        assert route.backlog.pending + route.backlog.submitted == 50
        assert route.backlog.parked == 0
        assert route.backlog.oldest_pending_age_seconds > 1
        await asyncio.sleep(25)
        await dst.up(lambda _: None)
        await wait_confirmed(channel, "lic", 50, timeout=120)
    assert_exactly_once(await collection_entries(dst_url, "imported"), 50)


async def test_source_restart_mid_scan_resumes_from_checkpoint(
    hub_process: HubProcess, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    src, dst = ledgers
    src_url, dst_url = await setup_route(hub_process, src, dst)
    await append_many(src_url, "licences", 30)
    await src.down()
    await asyncio.sleep(2)
    await src.up(lambda _: None)
    await append_many(src_url, "licences", 30, prefix="late")
    async with open_channel(hub_process.address) as channel:
        await wait_confirmed(channel, "lic", 60, timeout=120)
    entries = await collection_entries(dst_url, "imported")
    assert len(entries) == 60
    assert len({e["delivery_id"] for e in entries}) == 60


@pytest.fixture
async def lying_proxy(ledgers: tuple[CustomDevnet, CustomDevnet]) -> AsyncIterator[str]:
    """A real HTTP server in front of the source ledger that changes one record's value."""
    import aiohttp

    src_info = await ledgers[0].up(lambda _: None)
    upstream = src_info.endpoints["http"]
    session = aiohttp.ClientSession()

    def forge(doc: object) -> object:
        if isinstance(doc, dict):
            if doc.get("key") == "rec:00001" and "value_canonical" in doc:
                doc["value_canonical"] = '{"n":1,"status":"revoked"}'
            return {k: forge(v) for k, v in doc.items()}
        if isinstance(doc, list):
            return [forge(v) for v in doc]
        return doc

    async def handler(request: web.Request) -> web.Response:
        async with session.request(
            request.method,
            upstream + request.path_qs,
            data=await request.read(),
            headers={"Content-Type": "application/json"},
        ) as resp:
            body = await resp.read()
            if resp.content_type == "application/json":
                body = json.dumps(forge(json.loads(body))).encode()
            return web.Response(body=body, status=resp.status, content_type=resp.content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    try:
        async with serving(app) as url:
            yield url
    finally:
        await session.close()


async def test_forged_record_is_parked_and_route_goes_on(
    hub_process: HubProcess, ledgers: tuple[CustomDevnet, CustomDevnet], lying_proxy: str
) -> None:
    src, dst = ledgers
    src_info = await src.up(lambda _: None)
    dst_info = await dst.up(lambda _: None)
    async with open_channel(hub_process.address) as channel:
        await register(
            channel, chain_of(src_info, "liar", url=lying_proxy), chain_of(dst_info, "dst")
        )
        await create_route(
            channel,
            route_id="lie",
            source_chain_id="liar",
            source_namespace="licences",
            destination_chain_id="dst",
            destination_namespace="imported",
        )
        await append_many(src_info.endpoints["http"], "licences", 3)
        found = await wait_confirmed(channel, "lie", 2, timeout=60)
        parked = [d for d in found if d.state == relay_pb2.DELIVERY_STATE_REJECTED]
        assert len(parked) == 1
        assert parked[0].record.ref.key == "rec:00001"
        assert parked[0].rejection == relay_pb2.REJECTION_PROOF
        assert parked[0].last_error.startswith("proof rejected: ")
        stub = relay_pb2_grpc.RelayStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RetryDelivery(
                relay_pb2.RetryDeliveryRequest(delivery_id=parked[0].delivery_id)
            )
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "a forged or invalid record is never forwarded" in (err.value.details() or "")
        route = (await stub.GetRoute(relay_pb2.GetRouteRequest(route_id="lie"))).route
        assert route.backlog.parked == 1
    keys = sorted(
        str(e["key"]) for e in await collection_entries(dst_info.endpoints["http"], "imported")
    )
    assert keys == ["rec:00000", "rec:00002"]


@pytest.fixture
async def refusing_inbox() -> AsyncIterator[str]:
    """A destination whose inbox refuses every delivery (a poison case for the deliverer).
    It describes itself as a ledger does, so the hub accepts a route to it (the hub asks
    whether a destination can take deliveries before routing to it)."""

    async def refuse(request: web.Request) -> web.Response:
        if request.method == "GET" and request.path == "/v1/info":
            return web.json_response(
                {"ledger_id": "refusing", "validators": [], "threshold": 1, "collections": []}
            )
        return web.json_response({"error": "bad_request", "detail": "inbox closed"}, status=400)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", refuse)
    async with serving(app) as url:
        yield url


async def test_refused_delivery_is_rejected_at_once_then_retried_by_an_operator(
    hub_process: HubProcess, ledgers: tuple[CustomDevnet, CustomDevnet], refusing_inbox: str
) -> None:
    src, dst = ledgers
    src_info = await src.up(lambda _: None)
    dst_info = await dst.up(lambda _: None)
    async with open_channel(hub_process.address) as channel:
        registry = chains_pb2_grpc.ChainRegistryStub(channel)
        await register(
            channel, chain_of(src_info, "src"), chain_of(dst_info, "dst", url=refusing_inbox)
        )
        await create_route(
            channel,
            route_id="poison",
            source_chain_id="src",
            source_namespace="licences",
            destination_chain_id="dst",
            destination_namespace="imported",
        )
        stub = relay_pb2_grpc.RelayStub(channel)
        watch = stub.WatchDeliveries(relay_pb2.WatchDeliveriesRequest(route_id="poison"))
        await write_record(
            src_info.endpoints["http"],
            "licences",
            "p1",
            "gov.license.business/v1",
            {"status": "active"},
        )
        parked: relay_pb2.Delivery | None = None
        async with asyncio.timeout(90):
            async for update in watch:
                if update.delivery.state == relay_pb2.DELIVERY_STATE_REJECTED:
                    parked = update.delivery
                    break
        watch.cancel()
        assert parked is not None
        # Refused on its merits: rejected on the first answer, never retried as transient.
        assert parked.attempts == 1
        assert parked.rejection == relay_pb2.REJECTION_DESTINATION
        assert "refused the delivery: custom ledger refused POST /v1/inbox (HTTP 400)" in (
            parked.last_error
        )
        assert "inbox closed" in parked.last_error
        route = (await stub.GetRoute(relay_pb2.GetRouteRequest(route_id="poison"))).route
        assert route.backlog.parked == 1 and route.backlog.pending == 0

        # The operator fixes the destination's registration, then retries the delivery.
        await registry.RemoveChain(chains_pb2.RemoveChainRequest(chain_id="dst"))
        await register(channel, chain_of(dst_info, "dst"))
        retried = (
            await stub.RetryDelivery(relay_pb2.RetryDeliveryRequest(delivery_id=parked.delivery_id))
        ).delivery
        assert retried.state == relay_pb2.DELIVERY_STATE_PENDING and retried.attempts == 0
        await wait_confirmed(channel, "poison", 1, timeout=60)
    assert [e["key"] for e in await collection_entries(dst_info.endpoints["http"], "imported")] == [
        "p1"
    ]


async def test_large_deliveries_are_paged_within_the_message_limit(
    hub_process: HubProcess, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    src_url, _ = await setup_route(hub_process, *ledgers)
    big = "x" * (250 * 1024)
    for i in range(20):
        await write_record(
            src_url,
            "licences",
            f"big:{i:02d}",
            "gov.license.business/v1",
            {"status": "active", "scope": big[:2000], "blob": big},
        )
    async with open_channel(hub_process.address) as channel:
        found = await wait_confirmed(channel, "lic", 20, timeout=120)
        assert len(found) == 20
        stub = relay_pb2_grpc.RelayStub(channel)
        first = await stub.ListDeliveries(
            relay_pb2.ListDeliveriesRequest(route_id="lic", page_size=1000)
        )
    assert 0 < len(first.deliveries) < 20
    assert first.next_page_token
    assert sum(d.ByteSize() for d in first.deliveries) <= 4 * 1024 * 1024 + 260 * 1024
