"""Per-key version order and recovery of the relay, with real ledgers and a real hub."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time

import aiohttp
import pytest

from devnets.custom.network import CustomDevnet
from devnets.custom.writer import write_record
from hub.cli.connection import open_channel
from tonglian.v1 import relay_pb2
from tonglian_tools.hub_process import HubProcess

from .conftest import append_many, collection_entries, deliveries, wait_confirmed
from .test_relay_custom import assert_exactly_once, setup_route

pytestmark = pytest.mark.integration

KEYS = 20
STATUSES = ("active", "suspended", "revoked")


async def write_round(url: str, status: str) -> None:
    """Writes every key once more (one new version each), all committed on return."""
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(
            *(
                write_record(
                    url,
                    "licences",
                    f"lic:{k:02d}",
                    "gov.license.business/v1",
                    {"n": k, "status": status},
                    session=http,
                    timeout=60,
                )
                for k in range(KEYS)
            )
        )


async def test_versions_arrive_in_order_across_an_outage_and_sigkills(
    hub_process: HubProcess, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    src, dst = ledgers
    src_url, dst_url = await setup_route(hub_process, src, dst)
    await write_round(src_url, STATUSES[0])
    async with open_channel(hub_process.address) as channel:
        await wait_confirmed(channel, "lic", 1, timeout=60)  # mid-transfer
    await dst.down()
    await write_round(src_url, STATUSES[1])
    await write_round(src_url, STATUSES[2])
    await asyncio.sleep(30)
    await dst.up(lambda _: None)
    rng = random.Random(11)
    for _ in range(10):
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        assert hub_process.stop(signal.SIGKILL) == -signal.SIGKILL
        hub_process.start()
        await hub_process.wait_serving()
    async with open_channel(hub_process.address) as channel:
        found = await wait_confirmed(channel, "lic", KEYS * 3, timeout=240)
    assert len(found) == KEYS * 3
    entries = await collection_entries(dst_url, "imported")
    ids = [e["delivery_id"] for e in entries]
    assert len(ids) == len(set(ids)) == KEYS * 3  # 0 lost, 0 duplicated
    applied: dict[str, list[int]] = {}
    latest: dict[str, str] = {}
    for e in entries:  # in the order the destination applied them
        key = str(e["key"])
        applied.setdefault(key, []).append(int(e["source"]["version"]))  # type: ignore[index]
        latest[key] = json.loads(str(e["value_canonical"]))["status"]
    assert applied == {f"lic:{k:02d}": [1, 2, 3] for k in range(KEYS)}
    assert latest == {f"lic:{k:02d}": STATUSES[2] for k in range(KEYS)}


async def test_backlog_drains_within_5s_of_the_destination_returning(
    hub_process: HubProcess, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    src, dst = ledgers
    src_url, dst_url = await setup_route(hub_process, src, dst)
    await dst.down()
    down_at = time.monotonic()
    n = 300
    await append_many(src_url, "licences", n)
    async with open_channel(hub_process.address) as channel:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # every record is stored and waiting
            if len(await deliveries(channel, "lic")) == n:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(max(0.0, 30 - (time.monotonic() - down_at)))  # a 30 s outage
        await dst.up(lambda _: None)
        back = time.monotonic()
        while True:
            found = await deliveries(channel, "lic")
            done = sum(d.state == relay_pb2.DELIVERY_STATE_CONFIRMED for d in found)
            if done == n:
                break
            assert time.monotonic() - back < 5.0, f"{done}/{n} confirmed 5 s after the return"
            await asyncio.sleep(0.1)
    assert_exactly_once(await collection_entries(dst_url, "imported"), n)
