"""The adapter's read on a node that limits log queries to one block and leaves
`blockTimestamp` out of its logs (as many nodes and providers do): the same record as
on anvil itself, from the write's block; and versions written later never leak into a
read at an earlier height."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.evm.adapter import EvmAdapter
from devnets.evm.fixtures import RunningEvmDevnet
from hub.oracles.evm_headers import attest_header
from tests.integration.evm.conftest import Chain, make_adapter
from tonglian_proof.verify.evm import verify_evm_record

pytestmark = pytest.mark.integration


class NarrowNode:
    """Forwards JSON-RPC to anvil; refuses log queries over more than one block (as a
    node error) and strips `blockTimestamp` from logs. Counts what it was asked."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.url = ""
        self.refused = 0
        self.asked: list[str] = []
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
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.Response:
        assert self._session is not None
        call: dict[str, Any] = await request.json()
        self.asked.append(str(call.get("method")))
        if call.get("method") == "eth_getLogs":
            flt = call["params"][0]
            if "blockHash" not in flt and flt.get("fromBlock") != flt.get("toBlock"):
                self.refused += 1
                error = {"code": -32005, "message": "query exceeds max block range 1"}
                return web.json_response({"jsonrpc": "2.0", "id": call["id"], "error": error})
        async with self._session.post(self.upstream, json=call) as response:
            answer: dict[str, Any] = await response.json()
        if call.get("method") == "eth_getLogs":
            for log in answer.get("result") or []:
                log.pop("blockTimestamp", None)
        return web.json_response(answer)


@pytest.fixture
async def narrow(evm_devnet: RunningEvmDevnet) -> AsyncIterator[NarrowNode]:
    node = NarrowNode(evm_devnet.rpc_url)
    await node.start()
    yield node
    await node.stop()


async def test_a_narrow_node_gives_the_same_verified_record(
    evm_devnet: RunningEvmDevnet, chain: Chain, adapter: EvmAdapter, narrow: NarrowNode
) -> None:
    first = await chain.put("nn-1", b'{"status":"active"}')
    await chain.mine(1)
    await chain.put("nn-1", b'{"status":"revoked"}')
    await chain.mine(3)
    depth = evm_devnet.chain().trust_anchor.evm.finality_depth
    at_first = first + depth - 1  # final, and before the second version

    on_narrow = make_adapter(evm_devnet, rpc_url=narrow.url)
    try:
        for height in (0, at_first):
            plain = await adapter.read(evm_devnet.registry, "nn-1", height)
            answer = await on_narrow.read(evm_devnet.registry, "nn-1", height)
            assert answer == plain
        # Twice from the block cache, each time with the write block's own time.
        again = await on_narrow.read(evm_devnet.registry, "nn-1", at_first)
    finally:
        await on_narrow.close()
    assert again.record.value == b'{"status":"active"}' and again.record.version == 1
    assert again.record.block_height == first
    assert narrow.refused == 3  # the wide query of each read, then its write's block only
    assert narrow.asked.count("eth_getBlockByHash") == 2  # one per write block, then cached

    anchor = evm_devnet.chain().trust_anchor.evm
    trusted = await attest_header(anchor, again.proof.evm.block_number, timeout=3)
    verify_evm_record(again.record, again.proof.evm, anchor, trusted)
