"""Two real custom ledgers (source and destination) and helpers to drive the relay."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf.json_format import ParseDict

from devnets.base import DevnetInfo
from devnets.custom.network import CustomDevnet
from tonglian.v1 import chains_pb2, chains_pb2_grpc, relay_pb2, relay_pb2_grpc
from tonglian_client.secret_files import register_staged


@pytest.fixture
def ledgers(tmp_path: Path) -> Iterator[tuple[CustomDevnet, CustomDevnet]]:
    src = CustomDevnet(tmp_path / "src", block_interval_ms=100)
    dst = CustomDevnet(tmp_path / "dst", block_interval_ms=100)
    try:
        yield src, dst
    finally:
        asyncio.run(src.down())
        asyncio.run(dst.down())


def chain_of(info: DevnetInfo, chain_id: str, url: str | None = None) -> chains_pb2.Chain:
    chain = chains_pb2.Chain()
    ParseDict(info.chain, chain)
    chain.chain_id = chain_id
    if url:
        chain.adapter.options.update({"url": url})
    chain.adapter.timeout_ms = 5000
    return chain


async def register(channel: grpc.aio.Channel, *chains: chains_pb2.Chain) -> None:
    stub = chains_pb2_grpc.ChainRegistryStub(channel)
    for chain in chains:
        await register_staged(stub, chain)


async def create_route(channel: grpc.aio.Channel, **fields: Any) -> relay_pb2.Route:
    resp = await relay_pb2_grpc.RelayStub(channel).CreateRoute(
        relay_pb2.CreateRouteRequest(route=relay_pb2.Route(**fields))
    )
    return resp.route


async def deliveries(channel: grpc.aio.Channel, route_id: str) -> list[relay_pb2.Delivery]:
    stub = relay_pb2_grpc.RelayStub(channel)
    found: list[relay_pb2.Delivery] = []
    token = ""
    while True:
        resp = await stub.ListDeliveries(
            relay_pb2.ListDeliveriesRequest(route_id=route_id, page_size=1000, page_token=token)
        )
        found += resp.deliveries
        if not (token := resp.next_page_token):
            return found


async def wait_confirmed(
    channel: grpc.aio.Channel, route_id: str, count: int, timeout: float
) -> list[relay_pb2.Delivery]:
    deadline = time.monotonic() + timeout
    while True:
        found = await deliveries(channel, route_id)
        done = [d for d in found if d.state == relay_pb2.DELIVERY_STATE_CONFIRMED]
        if len(done) >= count:
            return found
        if time.monotonic() > deadline:
            states: dict[str, int] = {}
            for d in found:
                name = relay_pb2.DeliveryState.Name(d.state)
                states[name] = states.get(name, 0) + 1
            raise AssertionError(f"{len(done)}/{count} confirmed after {timeout}s: {states}")
        await asyncio.sleep(0.5)


async def append_many(url: str, collection: str, n: int, prefix: str = "rec") -> int:
    """Appends n records without waiting for each; returns the height that holds the last."""
    async with aiohttp.ClientSession() as http:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> str:
            async with sem:
                body = {
                    "collection": collection,
                    "key": f"{prefix}:{i:05d}",
                    "schema": "gov.license.business/v1",
                    "value": {"n": i, "status": "active"},
                }
                async with http.post(f"{url}/v1/records", json=body) as resp:
                    assert resp.status == 202, await resp.text()
                    return str((await resp.json())["tx_id"])

        txs = await asyncio.gather(*(one(i) for i in range(n)))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            async with http.get(f"{url}/v1/txs/{txs[-1]}") as resp:
                st = await resp.json()
            if st["status"] == "committed":
                return int(st["block_height"])
            await asyncio.sleep(0.1)
    raise AssertionError("records not committed")


async def collection_entries(url: str, collection: str) -> list[dict[str, Any]]:
    """Every entry of a collection on a custom ledger, read straight from its blocks."""
    entries: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http:
        height = 0
        while True:
            params = {"from_height": str(height), "limit": "100", "collection": collection}
            async with http.get(f"{url}/v1/blocks", params=params) as resp:
                page = await resp.json()
            for block in page["blocks"]:
                entries += block.get("entries", [])
            if page["next_from_height"] > page["head_height"] or not page["blocks"]:
                return entries
            height = page["next_from_height"]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
