"""EvmRpc's JSON-RPC batches: proofs asked for together travel as one batch, answers are
matched by id whatever their order, a node's error fails the batch precisely, and a call
alone stays a plain request. A small real HTTP server plays the node."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from adapters.evm.wire import BATCH_CALLS, EvmRpc, NodeError


class Node:
    """Answers eth_getProof with the params it was asked, last answer first in a batch."""

    def __init__(self) -> None:
        self.posts: list[Any] = []
        self.fail_slot = ""

    def answer(self, call: dict[str, Any]) -> dict[str, Any]:
        if call["params"][1] == [self.fail_slot]:
            return {"jsonrpc": "2.0", "id": call["id"], "error": {"code": -32000, "message": "no"}}
        return {"jsonrpc": "2.0", "id": call["id"], "result": {"asked": call["params"][1]}}

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posts.append(body)
        if isinstance(body, list):
            return web.json_response([self.answer(c) for c in reversed(body)])
        return web.json_response(self.answer(body))


@pytest.fixture
async def node() -> AsyncIterator[tuple[Node, EvmRpc]]:
    fake = Node()
    app = web.Application()
    app.router.add_post("/", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rpc = EvmRpc(f"http://127.0.0.1:{port}/", timeout=5)
    yield fake, rpc
    await rpc.close()
    await runner.cleanup()


async def test_proofs_asked_together_go_as_batches_matched_by_id(
    node: tuple[Node, EvmRpc],
) -> None:
    fake, rpc = node
    n = BATCH_CALLS + 5
    got = await asyncio.gather(*(rpc.proof("0xa", [f"0x{i:x}"], "0xb") for i in range(n)))
    assert [g["asked"] for g in got] == [[f"0x{i:x}"] for i in range(n)]
    assert [len(p) for p in fake.posts] == [BATCH_CALLS, 5]  # two batches, not 105 posts
    assert all(c["method"] == "eth_getProof" for p in fake.posts for c in p)


async def test_a_call_alone_is_a_plain_request(node: tuple[Node, EvmRpc]) -> None:
    fake, rpc = node
    assert (await rpc.proof("0xa", ["0x1"], "0xb"))["asked"] == ["0x1"]
    assert isinstance(fake.posts[0], dict) and fake.posts[0]["method"] == "eth_getProof"


async def test_an_error_in_a_batch_fails_every_call_of_it(node: tuple[Node, EvmRpc]) -> None:
    fake, rpc = node
    fake.fail_slot = "0x2"
    got = await asyncio.gather(
        *(rpc.proof("0xa", [f"0x{i}"], "0xb") for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(g, NodeError) for g in got)
    assert str(got[0]) == "eth_getProof: node error -32000: no"


async def test_blocks_are_one_batch(node: tuple[Node, EvmRpc]) -> None:
    fake, rpc = node
    fake.answer = lambda call: {  # type: ignore[method-assign]
        "jsonrpc": "2.0", "id": call["id"], "result": {"number": call["params"][0]},
    }  # fmt: skip
    got = await rpc.blocks([5, 6, 7])
    assert [b["number"] for b in got if b is not None] == ["0x5", "0x6", "0x7"]
    assert len(fake.posts) == 1 and json.dumps(fake.posts[0]).count("eth_getBlockByNumber") == 3
