"""EVM freshness through a real hub: an RPC endpoint that lies about the chain's head.

A lying endpoint is an aiohttp JSON-RPC proxy on 127.0.0.1 in front of a real
anvil: it forwards every call but reports a head `offset` blocks off (and
answers "latest" with that block when the lie is low). Before the head rule,
a head 40 blocks low made the hub serve a superseded version as final, and with
k = 1 of [liar, honest] a head 2 blocks high made the newest block "final".
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp import web
from web3 import AsyncHTTPProvider, AsyncWeb3

from devnets.evm import contracts
from devnets.evm.fixtures import RunningEvmDevnet
from tonglian.v1 import chains_pb2_grpc, query_pb2, query_pb2_grpc, records_pb2
from tonglian_client.secret_files import register_staged

pytestmark = pytest.mark.integration

SCHEMA = "gov.license.business/v1"


def licence(status: str) -> bytes:
    value = {"holder": "Acme", "issued_on": "2026-01-05", "licence_no": "L-9", "status": status}
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


ACTIVE, REVOKED = licence("active"), licence("revoked")


class LyingRpc:
    """Forwards JSON-RPC to `upstream`, reporting the head `offset` blocks off."""

    def __init__(self, upstream: str, offset: int) -> None:
        self.upstream = upstream
        self.offset = offset
        self.url = ""
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, body: Any) -> Any:
        assert self._session is not None
        async with self._session.post(self.upstream, json=body) as response:
            return await response.json()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        calls = body if isinstance(body, list) else [body]
        head = int(
            (
                await self._forward(
                    {"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []}
                )
            )["result"],
            16,
        )
        lie = hex(head + self.offset)
        for call in calls:
            params = call.get("params") or []
            if call.get("method") == "eth_getBlockByNumber" and params[:1] == ["latest"]:
                if self.offset < 0:
                    call["params"] = [lie, *params[1:]]
        answers = await self._forward(calls)
        by_id = {a["id"]: a for a in answers}
        for call in calls:
            if call.get("method") == "eth_blockNumber":
                by_id[call["id"]]["result"] = lie
        out = [by_id[c["id"]] for c in calls]
        return web.json_response(out if isinstance(body, list) else out[0])


LiarFactory = Callable[[int], Awaitable[LyingRpc]]


@pytest.fixture
async def liar(evm_devnet: RunningEvmDevnet) -> AsyncIterator[LiarFactory]:
    started: list[LyingRpc] = []

    async def make(offset: int) -> LyingRpc:
        proxy = LyingRpc(evm_devnet.rpc_url, offset)
        await proxy.start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        await proxy.stop()


@pytest.fixture
async def w3(evm_devnet: RunningEvmDevnet) -> AsyncIterator[AsyncWeb3[AsyncHTTPProvider]]:
    client = AsyncWeb3(AsyncHTTPProvider(evm_devnet.rpc_url))
    yield client
    await client.provider.disconnect()


async def put(
    w3: AsyncWeb3[AsyncHTTPProvider], devnet: RunningEvmDevnet, key: str, value: bytes
) -> int:
    receipt = await contracts.put_record(
        w3,
        w3.to_checksum_address(devnet.registry),
        w3.to_checksum_address(devnet.owner),
        key,
        SCHEMA,
        value,
    )
    return int(receipt["blockNumber"])


async def mine(w3: AsyncWeb3[AsyncHTTPProvider], blocks: int) -> int:
    await w3.provider.make_request("anvil_mine", [blocks])  # type: ignore[arg-type]
    return int(await w3.eth.block_number)


async def register(
    channel: grpc.aio.Channel,
    devnet: RunningEvmDevnet,
    chain_id: str,
    adapter_url: str,
    endpoints: list[str],
    k: int = 1,
) -> None:
    chain = devnet.chain()
    chain.chain_id = chain_id
    chain.adapter.options.update({"rpc_url": adapter_url})
    del chain.trust_anchor.evm.rpc_endpoints[:]
    chain.trust_anchor.evm.rpc_endpoints.extend(endpoints)
    chain.trust_anchor.evm.endpoint_quorum = k
    await register_staged(chains_pb2_grpc.ChainRegistryStub(channel), chain)


async def get(
    channel: grpc.aio.Channel, devnet: RunningEvmDevnet, chain_id: str, key: str
) -> records_pb2.VerifiedRecord:
    ref = records_pb2.RecordRef(
        chain_id=chain_id, namespace=AsyncWeb3.to_checksum_address(devnet.registry), key=key
    )
    response = await query_pb2_grpc.QueryStub(channel).GetRecord(
        query_pb2.GetRecordRequest(ref=ref, purpose="business-registration")
    )
    return response.record


async def superseded(
    w3: AsyncWeb3[AsyncHTTPProvider], devnet: RunningEvmDevnet, key: str
) -> tuple[int, int]:
    """v1 "active", then 45 blocks later v2 "revoked", final by 10 blocks; (v2 block, head)."""
    await put(w3, devnet, key, ACTIVE)
    await mine(w3, 45)
    v2_block = await put(w3, devnet, key, REVOKED)
    return v2_block, await mine(w3, 10)


async def test_an_adapter_node_40_blocks_low_cannot_serve_a_superseded_version(
    hub_channel: grpc.aio.Channel,
    evm_devnet: RunningEvmDevnet,
    w3: AsyncWeb3[AsyncHTTPProvider],
    liar: LiarFactory,
) -> None:
    low = await liar(-40)
    await register(hub_channel, evm_devnet, "evm-low", low.url, [evm_devnet.rpc_url])
    _, head = await superseded(w3, evm_devnet, "fresh-1")

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await get(hub_channel, evm_devnet, "evm-low", "fresh-1")
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert err.value.details() == (
        f"chain 'evm-low' is unreachable: block {head - 2} is not final on {low.url} "
        f"(it reports head {head - 40}, final height {head - 42}): the node lags behind "
        "the chain or lies about its head"
    )

    # The same chain through an honest node answers the newest final version.
    await register(hub_channel, evm_devnet, "evm-ok", evm_devnet.rpc_url, [evm_devnet.rpc_url])
    vr = await get(hub_channel, evm_devnet, "evm-ok", "fresh-1")
    assert (vr.record.value, vr.record.version) == (REVOKED, 2)
    assert vr.verification.final_height == head - 2
    assert vr.bundle.proof.evm.block_number == head - 2


async def test_an_anchor_endpoint_40_blocks_low_is_a_contradiction(
    hub_channel: grpc.aio.Channel,
    evm_devnet: RunningEvmDevnet,
    w3: AsyncWeb3[AsyncHTTPProvider],
    liar: LiarFactory,
) -> None:
    low = await liar(-40)
    await register(
        hub_channel, evm_devnet, "evm-split", low.url, [low.url, evm_devnet.rpc_url], k=1
    )
    _, head = await superseded(w3, evm_devnet, "fresh-2")

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await get(hub_channel, evm_devnet, "evm-split", "fresh-2")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.value.details() == (
        f"RPC endpoints disagree on the chain's head: {low.url} reports block {head - 40}, "
        f"{evm_devnet.rpc_url} reports block {head}, 40 apart, more than the finality depth "
        "2: one of them lags or lies about the chain; repair it or remove it from the "
        "chain's trust anchor"
    )


async def test_a_head_claimed_2_high_makes_nothing_final(
    hub_channel: grpc.aio.Channel,
    evm_devnet: RunningEvmDevnet,
    w3: AsyncWeb3[AsyncHTTPProvider],
    liar: LiarFactory,
) -> None:
    high = await liar(+2)
    await register(
        hub_channel, evm_devnet, "evm-high", high.url, [high.url, evm_devnet.rpc_url], k=1
    )
    await put(w3, evm_devnet, "fresh-3", ACTIVE)
    await mine(w3, 5)
    newest = await put(w3, evm_devnet, "fresh-3", REVOKED)  # the newest block, not final

    vr = await get(hub_channel, evm_devnet, "evm-high", "fresh-3")
    # Answered at the newest block that is final by the honest head, not the liar's.
    assert (vr.record.value, vr.record.version) == (ACTIVE, 1)
    assert vr.verification.final_height == newest - 2
    assert vr.bundle.proof.evm.block_number == newest - 2
    assert f"block {newest - 2} is final: 2 block(s) on top, 2 required" in vr.verification.checks

    # Once the chain really is 2 blocks longer, the revocation is what is served.
    head = await mine(w3, 2)
    vr = await get(hub_channel, evm_devnet, "evm-high", "fresh-3")
    assert (vr.record.value, vr.record.version, vr.verification.final_height) == (
        REVOKED,
        2,
        head - 2,
    )


async def test_a_height_not_yet_final_is_refused_before_the_adapter_is_asked(
    hub_channel: grpc.aio.Channel, evm_devnet: RunningEvmDevnet, w3: AsyncWeb3[AsyncHTTPProvider]
) -> None:
    await register(hub_channel, evm_devnet, "evm-at", evm_devnet.rpc_url, [evm_devnet.rpc_url])
    head = await mine(w3, 1)
    ref = records_pb2.RecordRef(
        chain_id="evm-at", namespace=AsyncWeb3.to_checksum_address(evm_devnet.registry), key="k"
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await query_pb2_grpc.QueryStub(hub_channel).GetRecord(
            query_pb2.GetRecordRequest(ref=ref, purpose="business-registration", at_height=head)
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == (
        f"block {head} of chain 'evm-at' is not final yet: the newest final block its trust "
        f"anchor's endpoints agree on is {head - 2}"
    )
