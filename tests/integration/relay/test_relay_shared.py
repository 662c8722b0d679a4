"""One scan per source and event-driven delivery, with real ledgers, a real hub and a
counting HTTP relay in front of a ledger so the test sees the hub's requests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from adapters.custom.adapter import HEADERS_ONLY
from devnets.custom.network import CustomDevnet
from hub.cli.connection import open_channel
from tonglian_tools.hub_process import HubProcess

from .conftest import (
    append_many,
    chain_of,
    collection_entries,
    create_route,
    register,
    wait_confirmed,
)
from .test_relay_custom import assert_exactly_once

pytestmark = pytest.mark.integration

ROUTES = 20
RECORDS = 30


@dataclass
class Tap:
    """Forwards every request to a ledger and remembers what the hub asked and got."""

    upstream: str
    url: str = ""
    # Per block height holding entries: how many scan answers carried it.
    served: Counter[int] = field(default_factory=Counter)
    # Query strings of GET /v1/blocks.
    block_queries: list[dict[str, str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and request.path == "/v1/blocks":
            self.block_queries.append(dict(request.query))
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http,
            http.request(
                request.method,
                self.upstream + request.path_qs,
                data=await request.read(),
                headers={"Content-Type": request.headers.get("Content-Type", "")},
            ) as resp,
        ):
            body = await resp.read()
            # A long poll the hub gave up (its scan restarted to take in a new route)
            # still ends here later: what nobody received was not read.
            gone = request.transport is None or request.transport.is_closing()
            if request.path == "/v1/blocks" and resp.status == 200 and not gone:
                for block in (await resp.json())["blocks"]:
                    if block["entries"]:
                        self.served[block["height"]] += 1
            return web.Response(
                status=resp.status, body=body, content_type=resp.content_type or None
            )


async def start_tap(upstream: str) -> tuple[Tap, web.AppRunner]:
    tap = Tap(upstream)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", tap.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    tap.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    return tap, runner


async def test_twenty_routes_on_one_source_share_one_scan(
    hub_process: HubProcess, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    src, dst = ledgers
    src_info, dst_info = await src.up(lambda _: None), await dst.up(lambda _: None)
    src_url, dst_url = src_info.endpoints["http"], dst_info.endpoints["http"]
    tap, runner = await start_tap(src_url)
    try:
        async with open_channel(hub_process.address) as channel:
            await register(channel, chain_of(src_info, "src", tap.url), chain_of(dst_info, "dst"))
            for r in range(ROUTES):
                await create_route(
                    channel,
                    route_id=f"fan-{r:02d}",
                    source_chain_id="src",
                    source_namespace="licences",
                    destination_chain_id="dst",
                    destination_namespace=f"imported-{r:02d}",
                )
            await append_many(src_url, "licences", RECORDS)
            for r in range(ROUTES):
                found = await wait_confirmed(channel, f"fan-{r:02d}", RECORDS, timeout=120)
                assert len(found) == RECORDS
        for r in range(ROUTES):
            assert_exactly_once(await collection_entries(dst_url, f"imported-{r:02d}"), RECORDS)
        # Every block that holds records was read from the source once, for all 20
        # routes (20 scans would have read each one 20 times).
        assert tap.served, "the hub read no block with records through the tap"
        assert set(tap.served.values()) == {1}, tap.served
    finally:
        await runner.cleanup()


async def test_new_blocks_reach_the_hub_through_follow_calls(
    hub_process: HubProcess, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    """The scan long-polls the source for its next block and the deliverer long-polls
    the destination for its next final block (headers only) before asking about a
    submitted delivery: no timer between a block and the hub's reaction to it."""
    src, dst = ledgers
    src_info, dst_info = await src.up(lambda _: None), await dst.up(lambda _: None)
    src_url, dst_url = src_info.endpoints["http"], dst_info.endpoints["http"]
    src_tap, src_runner = await start_tap(src_url)
    dst_tap, dst_runner = await start_tap(dst_url)
    try:
        async with open_channel(hub_process.address) as channel:
            await register(
                channel,
                chain_of(src_info, "src", src_tap.url),
                chain_of(dst_info, "dst", dst_tap.url),
            )
            await create_route(
                channel,
                route_id="live",
                source_chain_id="src",
                source_namespace="licences",
                destination_chain_id="dst",
                destination_namespace="imported",
            )
            await append_many(src_url, "licences", RECORDS)
            await wait_confirmed(channel, "live", RECORDS, timeout=60)
        assert_exactly_once(await collection_entries(dst_url, "imported"), RECORDS)
        scans = [q for q in src_tap.block_queries if q.get("collection") == "licences"]
        assert scans and all(int(q["wait_ms"]) > 0 for q in scans)
        follows = [q for q in dst_tap.block_queries if q.get("collection") == HEADERS_ONLY]
        assert follows, "the deliverer never followed the destination's blocks"
        assert all(int(q["wait_ms"]) > 0 for q in follows)
        # The deliverer follows the destination's blocks, never scans its records.
        assert all(q.get("collection") == HEADERS_ONLY for q in dst_tap.block_queries)
    finally:
        await src_runner.cleanup()
        await dst_runner.cleanup()
