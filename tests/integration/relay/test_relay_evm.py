"""The relay with an EVM chain on either side (real anvil, real ledger, real hub process)."""

from __future__ import annotations

import asyncio

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from devnets.custom.network import CustomDevnet
from devnets.evm import contracts
from devnets.evm.fixtures import EvmDevnetFactory
from hub.cli.connection import open_channel
from tonglian.v1 import relay_pb2
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


async def test_custom_to_evm_inbox_exactly_once(
    hub_process: HubProcess,
    ledgers: tuple[CustomDevnet, CustomDevnet],
    evm_devnet_factory: EvmDevnetFactory,
) -> None:
    evm = evm_devnet_factory(block_time=0.5)
    src_info = await ledgers[0].up(lambda _: None)
    evm_chain = evm.chain()
    evm_chain.chain_id = "evm-dst"
    async with open_channel(hub_process.address) as channel:
        await register(channel, chain_of(src_info, "src"), evm_chain)
        await create_route(
            channel,
            route_id="to-evm",
            source_chain_id="src",
            source_namespace="licences",
            destination_chain_id="evm-dst",
            destination_namespace=evm.inbox,
        )
        await append_many(src_info.endpoints["http"], "licences", 10)
        found = await wait_confirmed(channel, "to-evm", 10, timeout=120)
    assert all(d.destination_tx_id.startswith("0x") for d in found)
    w3 = AsyncWeb3(AsyncHTTPProvider(evm.rpc_url))
    inbox = w3.eth.contract(address=w3.to_checksum_address(evm.inbox), abi=contracts.abi("Inbox"))
    logs = await inbox.events.Delivered.get_logs(from_block=0)
    ids = [log["args"]["delivery"]["deliveryId"] for log in logs]
    assert sorted(ids) == sorted(d.delivery_id for d in found)
    for d in found:
        assert await inbox.functions.delivered(d.delivery_id).call()


async def test_evm_source_reorg_never_forwards_a_dropped_record(
    hub_process: HubProcess,
    ledgers: tuple[CustomDevnet, CustomDevnet],
    evm_devnet_factory: EvmDevnetFactory,
) -> None:
    evm = evm_devnet_factory()  # automine: blocks only when we write or mine
    dst_info = await ledgers[1].up(lambda _: None)
    evm_chain = evm.chain()
    evm_chain.chain_id = "evm-src"
    w3 = AsyncWeb3(AsyncHTTPProvider(evm.rpc_url))
    registry = w3.to_checksum_address(evm.registry)
    owner = w3.to_checksum_address(evm.owner)
    async with open_channel(hub_process.address) as channel:
        await register(channel, evm_chain, chain_of(dst_info, "dst"))
        await create_route(
            channel,
            route_id="from-evm",
            source_chain_id="evm-src",
            source_namespace=registry,
            destination_chain_id="dst",
            destination_namespace="from-evm",
        )
        await contracts.put_record(w3, registry, owner, "kept-1", "gov.x/v1", b'{"v":1}')
        await w3.provider.make_request("anvil_mine", [3])  # type: ignore[arg-type]
        await wait_confirmed(channel, "from-evm", 1, timeout=60)
        # A record whose block is reorganised away before it is final.
        await contracts.put_record(w3, registry, owner, "doomed", "gov.x/v1", b'{"v":1}')
        await w3.provider.make_request("anvil_reorg", [1, []])  # type: ignore[arg-type]
        await contracts.put_record(w3, registry, owner, "kept-2", "gov.x/v1", b'{"v":2}')
        await w3.provider.make_request("anvil_mine", [4])  # type: ignore[arg-type]
        found = await wait_confirmed(channel, "from-evm", 2, timeout=60)
        await asyncio.sleep(2)
        found = [d for d in await _all(channel)]
    assert sorted(d.record.ref.key for d in found) == ["kept-1", "kept-2"]
    keys = sorted(
        str(e["key"]) for e in await collection_entries(dst_info.endpoints["http"], "from-evm")
    )
    assert keys == ["kept-1", "kept-2"]


async def test_routes_joining_a_live_evm_source_all_receive_every_record(
    hub_process: HubProcess,
    ledgers: tuple[CustomDevnet, CustomDevnet],
    evm_devnet_factory: EvmDevnetFactory,
) -> None:
    """Each route that joins restarts the source's scan, cancelling its calls to the node
    mid-flight (block and proof reads of a backlog); the EVM client must stay usable
    (a client stuck after a cancelled call stalled every scan of the hub)."""
    routes, records = 20, 60
    evm = evm_devnet_factory(block_time=0.5)
    dst_info = await ledgers[1].up(lambda _: None)
    evm_chain = evm.chain()
    evm_chain.chain_id = "evm-src"
    w3 = AsyncWeb3(AsyncHTTPProvider(evm.rpc_url))
    registry = w3.to_checksum_address(evm.registry)
    owner = w3.to_checksum_address(evm.owner)

    async def write() -> None:
        """Sends the records one after another (nonces in order), then waits for them."""
        contract = w3.eth.contract(address=registry, abi=contracts.abi("RecordRegistry"))
        sent = []
        for i in range(records):
            put = contract.functions.put(f"rec:{i:05d}", "gov.x/v1", b'{"n":%d}' % i)
            sent.append(await put.transact({"from": owner}))
        for tx in sent:
            receipt = await w3.eth.wait_for_transaction_receipt(tx, timeout=60)
            assert receipt["status"] == 1

    async with open_channel(hub_process.address) as channel:
        await register(channel, evm_chain, chain_of(dst_info, "dst"))
        await write()
        for r in range(routes):
            await create_route(
                channel,
                route_id=f"join-{r:02d}",
                source_chain_id="evm-src",
                source_namespace=registry,
                destination_chain_id="dst",
                destination_namespace=f"in-{r:02d}",
            )
        for r in range(routes):
            await wait_confirmed(channel, f"join-{r:02d}", records, timeout=120)
    for r in range(routes):
        entries = await collection_entries(dst_info.endpoints["http"], f"in-{r:02d}")
        assert_exactly_once(entries, records)
    await w3.provider.disconnect()


async def _all(channel: object) -> list[relay_pb2.Delivery]:
    from .conftest import deliveries

    return await deliveries(channel, "from-evm")  # type: ignore[arg-type]
