"""Node down and slow node: ChainUnavailable from the adapter, ChainUnreachable from the oracle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.base import AdapterMisconfigured, ChainUnavailable
from devnets.evm.fixtures import EvmDevnetFactory, RunningEvmDevnet
from devnets.process import free_port
from hub.errors import ChainUnreachable
from hub.oracles.evm_headers import attest_header
from tests.integration.evm.conftest import Chain, make_adapter

pytestmark = pytest.mark.integration


@pytest.fixture
async def silent_node() -> AsyncIterator[str]:
    """A TCP endpoint that accepts connections and never answers."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()


async def test_stopped_node_is_chain_unavailable(evm_devnet_factory: EvmDevnetFactory) -> None:
    devnet = evm_devnet_factory()
    adapter = make_adapter(devnet)
    try:
        assert (await adapter.head()).height > 0
        await devnet.devnet.down()
        with pytest.raises(ChainUnavailable, match="cannot reach"):
            await adapter.head()
        with pytest.raises(ChainUnavailable):
            await adapter.read(devnet.registry, "any")
        status = await devnet.devnet.status()
        assert not status.running
    finally:
        await adapter.close()


async def test_slow_node_times_out(evm_devnet: RunningEvmDevnet, silent_node: str) -> None:
    adapter = make_adapter(evm_devnet, timeout=0.5, rpc_url=silent_node)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ChainUnavailable, match="no answer"):
            await adapter.describe()
        assert asyncio.get_running_loop().time() - started < 3
    finally:
        await adapter.close()
    anchor = evm_devnet.chain().trust_anchor.evm
    anchor.rpc_endpoints.append(silent_node)
    anchor.endpoint_quorum = 2
    with pytest.raises(ChainUnreachable, match=r"no answer within 0\.5s"):
        await attest_header(anchor, 1, timeout=0.5)


async def test_node_of_another_chain_id_is_refused(evm_devnet: RunningEvmDevnet) -> None:
    adapter = make_adapter(evm_devnet, chain_id=1)
    try:
        with pytest.raises(AdapterMisconfigured, match="serves chain id 31337"):
            await adapter.describe()
    finally:
        await adapter.close()


async def test_devnet_status_reports_the_head(evm_devnet: RunningEvmDevnet) -> None:
    status = await evm_devnet.devnet.status()
    assert status.running and status.heights["anvil"] >= 3
    unused = make_adapter(evm_devnet, rpc_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ChainUnavailable):
        await unused.head()
    await unused.close()


async def test_cancelled_calls_leave_the_client_usable(evm_devnet: RunningEvmDevnet) -> None:
    """A scan restarted when a route joins cancels its calls in flight; the next call
    of this adapter (and of every other in the process) still gets its answer."""
    adapter = make_adapter(evm_devnet, timeout=3.0)
    other = make_adapter(evm_devnet, timeout=3.0)
    try:
        await adapter.head()
        for round_ in range(30):
            calls = [asyncio.create_task(adapter.head()) for _ in range(20)]
            await asyncio.sleep(0.0005 * round_)
            for call in calls:
                call.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
        started = asyncio.get_running_loop().time()
        assert (await adapter.head()).height >= 3
        assert (await other.head()).height >= 3
        assert asyncio.get_running_loop().time() - started < 2
    finally:
        await adapter.close()
        await other.close()


async def test_answers_larger_than_one_read_arrive_whole(evm_devnet: RunningEvmDevnet) -> None:
    """eth_getLogs over blocks with many records answers in several network reads; the
    client reads to the end (a first-read-only client saw half a JSON answer and the
    scan failed forever)."""
    chain = Chain(evm_devnet)
    adapter = make_adapter(evm_devnet)
    try:
        start = await chain.head() + 1
        value = b'{"pad":"' + b"x" * 4000 + b'"}'
        for i in range(40):
            await chain.put(f"big-{i:03d}", value)
        end = await chain.head()
        await chain.mine(evm_devnet.devnet.finality_depth)  # the records' blocks are final
        keys = [
            item.record.record.ref.key
            async for item in adapter.scan(evm_devnet.registry, start, end)
            if item.HasField("record")
        ]
        assert sorted(keys) == [f"big-{i:03d}" for i in range(40)]
    finally:
        await adapter.close()
        await chain.close()
