"""The relay with the live Fabric devnet on either side. Skipped without Fabric's binaries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from google.protobuf.json_format import ParseDict

from adapters.fabric import FabricAdapter
from devnets.base import DevnetInfo
from devnets.custom.network import CustomDevnet
from devnets.fabric.client import devnet_adapter
from hub.cli.connection import open_channel
from tonglian.v1 import adapter_pb2, chains_pb2
from tonglian_tools.hub_process import HubProcess

from .conftest import (
    append_many,
    chain_of,
    collection_entries,
    create_route,
    register,
    wait_confirmed,
)

pytestmark = [pytest.mark.integration, pytest.mark.fabric_live]


@pytest.fixture
async def fabric_writer(fabric_network: DevnetInfo) -> AsyncIterator[FabricAdapter]:
    adapter = devnet_adapter(fabric_network, "fab")
    try:
        yield adapter
    finally:
        await adapter.close()


def fabric_chain(info: DevnetInfo, chain_id: str) -> chains_pb2.Chain:
    chain = ParseDict(info.chain, chains_pb2.Chain())
    chain.chain_id = chain_id
    return chain


async def test_custom_to_fabric_deliver_exactly_once(
    hub_process: HubProcess,
    ledgers: tuple[CustomDevnet, CustomDevnet],
    fabric_network: DevnetInfo,
    fabric_writer: FabricAdapter,
) -> None:
    src_info = await ledgers[0].up(lambda _: None)
    async with open_channel(hub_process.address) as channel:
        await register(channel, chain_of(src_info, "src"), fabric_chain(fabric_network, "fab"))
        await create_route(
            channel,
            route_id="to-fab",
            source_chain_id="src",
            source_namespace="licences",
            destination_chain_id="fab",
            destination_namespace=fabric_writer.namespace,
            key_prefix="fab:",
        )
        await append_many(src_info.endpoints["http"], "licences", 8, prefix="fab")
        found = await wait_confirmed(channel, "to-fab", 8, timeout=120)
    for d in found:
        seen = await fabric_writer.submission(d.delivery_id)
        assert seen.state == adapter_pb2.SUBMISSION_STATE_CONFIRMED
        assert seen.tx_id == d.destination_tx_id
        again = await fabric_writer.submit(d)  # a re-sent delivery is recognised
        assert again.state == adapter_pb2.SUBMISSION_STATE_DUPLICATE
        assert again.tx_id == d.destination_tx_id


async def test_fabric_to_custom(
    hub_process: HubProcess,
    ledgers: tuple[CustomDevnet, CustomDevnet],
    fabric_network: DevnetInfo,
    fabric_writer: FabricAdapter,
) -> None:
    dst_info = await ledgers[1].up(lambda _: None)
    head = await fabric_writer.head()
    async with open_channel(hub_process.address) as channel:
        await register(channel, fabric_chain(fabric_network, "fab"), chain_of(dst_info, "dst"))
        await create_route(
            channel,
            route_id="from-fab",
            source_chain_id="fab",
            source_namespace=fabric_writer.namespace,
            destination_chain_id="dst",
            destination_namespace="from-fabric",
            key_prefix="relay:",
            start_height=head.height,
        )
        for i in range(3):
            await fabric_writer.put(
                f"relay:{i}", "gov.license.business/v1", {"status": "active", "n": i}
            )
        await wait_confirmed(channel, "from-fab", 3, timeout=120)
    entries = await collection_entries(dst_info.endpoints["http"], "from-fabric")
    assert sorted(str(e["key"]) for e in entries) == ["relay:0", "relay:1", "relay:2"]
    assert all(e["source"]["chain_id"] == "fab" for e in entries)  # type: ignore[index]
