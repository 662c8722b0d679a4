"""Header attestations are memoised per (anchor, block) once the block is final, asked
once for concurrent callers, and over one reused HTTP session (hub/oracles/evm_headers.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from hub.oracles import evm_headers
from hub.oracles.evm_headers import attest_header
from tests.local_http import serving
from tonglian.v1 import chains_pb2

BLOCK_HASH = "0x" + "ab" * 32


class FakeNode:
    """A JSON-RPC endpoint on a real socket that counts batches and connections."""

    def __init__(self) -> None:
        self.head = 20
        self.batches = 0
        self.peers: set[tuple[str, int]] = set()

    async def handle(self, request: web.Request) -> web.Response:
        self.batches += 1
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.peers.add((peer[0], peer[1]))
        await asyncio.sleep(0.05)  # long enough for concurrent callers to overlap
        out: list[dict[str, Any]] = []
        for call in await request.json():
            if call["method"] == "eth_chainId":
                result: Any = hex(7)
            elif call["method"] == "eth_blockNumber":
                result = hex(self.head)
            else:
                result = {"number": call["params"][0], "hash": BLOCK_HASH}
            out.append({"jsonrpc": "2.0", "id": call["id"], "result": result})
        return web.json_response(out)


@pytest.fixture
async def node() -> AsyncIterator[tuple[FakeNode, str]]:
    fake = FakeNode()
    app = web.Application()
    app.router.add_post("/", fake.handle)
    evm_headers._attested.clear()
    async with serving(app) as url:
        try:
            yield fake, url
        finally:
            await evm_headers.close_session()


def anchor(url: str) -> chains_pb2.EvmTrustAnchor:
    return chains_pb2.EvmTrustAnchor(
        chain_id=7, registry_address=b"\x11" * 20, finality_depth=2,
        consensus=chains_pb2.EVM_CONSENSUS_ENDPOINT_QUORUM, rpc_endpoints=[url],
        endpoint_quorum=1,
    )  # fmt: skip


async def test_a_final_block_is_asked_once(node: tuple[FakeNode, str]) -> None:
    fake, url = node
    got = await asyncio.gather(*(attest_header(anchor(url), 10, 5.0) for _ in range(30)))
    again = await attest_header(anchor(url), 10, 5.0)
    assert fake.batches == 1
    assert {t.block_hash.hex() for t in [*got, again]} == {"ab" * 32}
    await attest_header(anchor(url), 11, 5.0)
    await attest_header(anchor(url), 12, 5.0)
    assert fake.batches == 3
    # One session: the questions share one kept-alive connection.
    assert len(fake.peers) == 1


async def test_a_block_not_yet_final_is_asked_again(node: tuple[FakeNode, str]) -> None:
    fake, url = node
    first = await attest_header(anchor(url), 19, 5.0)  # head 20: 1 block on top, 2 needed
    fake.head = 21
    second = await attest_header(anchor(url), 19, 5.0)
    assert (first.head_number, second.head_number, fake.batches) == (20, 21, 2)
    await attest_header(anchor(url), 19, 5.0)
    assert fake.batches == 2


async def test_the_cache_is_bounded(
    node: tuple[FakeNode, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = node
    fake.head = 100
    monkeypatch.setattr(evm_headers, "HEADER_CACHE", 3)
    for block in range(1, 6):
        await attest_header(anchor(url), block, 5.0)
    assert len(evm_headers._attested) == 3
    await attest_header(anchor(url), 1, 5.0)  # evicted: asked again
    assert fake.batches == 6
