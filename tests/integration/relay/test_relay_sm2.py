"""The relay between a national-cryptography ledger (SM2 validators, SM3 hashing) and an
Ed25519/SHA-256 one, both ways, through a real hub process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

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

pytestmark = pytest.mark.integration


@pytest.fixture
def mixed_ledgers(tmp_path: Path) -> Iterator[tuple[CustomDevnet, CustomDevnet]]:
    gm = CustomDevnet(tmp_path / "gm", block_interval_ms=100, crypto="sm2")
    ed = CustomDevnet(tmp_path / "ed", block_interval_ms=100, crypto="ed25519")
    try:
        yield gm, ed
    finally:
        asyncio.run(gm.down())
        asyncio.run(ed.down())


async def test_relay_forwards_sm2_to_ed25519_and_back(
    hub_process: HubProcess, mixed_ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    gm, ed = mixed_ledgers
    gm_info, ed_info = await gm.up(lambda _: None), await ed.up(lambda _: None)
    assert gm_info.extra["crypto"] == "sm2" and ed_info.extra["crypto"] == "ed25519"
    gm_url, ed_url = gm_info.endpoints["http"], ed_info.endpoints["http"]
    async with open_channel(hub_process.address) as channel:
        await register(channel, chain_of(gm_info, "gm"), chain_of(ed_info, "ed"))
        await create_route(
            channel,
            route_id="gm-to-ed",
            source_chain_id="gm",
            source_namespace="licences",
            destination_chain_id="ed",
            destination_namespace="from-gm",
        )
        await create_route(
            channel,
            route_id="ed-to-gm",
            source_chain_id="ed",
            source_namespace="permits",
            destination_chain_id="gm",
            destination_namespace="from-ed",
        )
        await append_many(gm_url, "licences", 8, prefix="gm")
        await append_many(ed_url, "permits", 8, prefix="ed")
        out = await wait_confirmed(channel, "gm-to-ed", 8, timeout=90)
        back = await wait_confirmed(channel, "ed-to-gm", 8, timeout=90)
    assert {d.record.ref.chain_id for d in out} == {"gm"}
    assert {d.record.ref.chain_id for d in back} == {"ed"}
    at_ed = await collection_entries(ed_url, "from-gm")
    at_gm = await collection_entries(gm_url, "from-ed")
    assert sorted(e["key"] for e in at_ed) == [f"gm:{i:05d}" for i in range(8)]
    assert sorted(e["key"] for e in at_gm) == [f"ed:{i:05d}" for i in range(8)]
    first = next(e for e in at_gm if e["key"] == "ed:00000")
    assert first["source"]["chain_id"] == "ed"
    assert json.loads(str(first["value_canonical"])) == {"n": 0, "status": "active"}
