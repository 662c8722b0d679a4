"""EvmRpc's merged proofs and JSON-RPC batches: proofs asked for together at one block
travel as one eth_getProof and come back split per caller, a node's error fails them
precisely, and blocks go as one batch with answers matched by id whatever their order.
A small real HTTP server plays the node."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from adapters.evm.wire import MERGED_SLOTS, EvmRpc, NodeError
from tests.local_http import serving


class Node:
    """Answers eth_getProof with one storage proof per slot asked (its slot as proof)."""

    def __init__(self) -> None:
        self.posts: list[Any] = []
        self.fail = False

    def answer(self, call: dict[str, Any]) -> dict[str, Any]:
        if self.fail:
            return {"jsonrpc": "2.0", "id": call["id"], "error": {"code": -32000, "message": "no"}}
        address, slots, at = call["params"]
        block = at["blockHash"] if isinstance(at, dict) else at
        result = {
            "accountProof": [f"{address}@{block}"],
            "storageProof": [{"key": slot, "proof": [slot]} for slot in slots],
        }
        return {"jsonrpc": "2.0", "id": call["id"], "result": result}

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
    async with serving(app) as url:
        rpc = EvmRpc(f"{url}/", timeout=5)
        yield fake, rpc
        await rpc.close()


async def test_proofs_at_one_block_go_as_one_call_and_come_back_split(
    node: tuple[Node, EvmRpc],
) -> None:
    fake, rpc = node
    n = MERGED_SLOTS // 2 + 5  # two slots per record: one call more than fits
    asks = [[f"0x{i:x}a", f"0x{i:x}b"] for i in range(n)]
    b1, b2 = "0x" + "b1" * 32, "0x" + "b2" * 32
    got = await asyncio.gather(
        *(rpc.proof("0xreg", slots, b1) for slots in asks),
        rpc.proof("0xreg", ["0xc"], b2),  # another block: a call of its own
        rpc.proof("0xreg", ["0xd"], "0x10"),  # a block number: asked as it is
    )
    assert [[p["key"] for p in g["storageProof"]] for g in got] == [*asks, ["0xc"], ["0xd"]]
    assert got[0]["accountProof"] == [f"0xreg@{b1}"]
    assert got[-2]["accountProof"] == [f"0xreg@{b2}"]
    assert got[-1]["accountProof"] == ["0xreg@0x10"]
    assert sorted(len(p["params"][1]) for p in fake.posts) == [1, 1, 10, MERGED_SLOTS]
    assert all(p["method"] == "eth_getProof" for p in fake.posts)
    ats = sorted(str(p["params"][2]) for p in fake.posts)
    assert ats[0] == "0x10"  # a number goes as it is; hashes as EIP-1898 canonical references
    assert all(
        p["params"][2] == {"blockHash": p["params"][2]["blockHash"], "requireCanonical": True}
        for p in fake.posts
        if isinstance(p["params"][2], dict)
    )


async def test_a_node_error_fails_every_call_merged_with_it(node: tuple[Node, EvmRpc]) -> None:
    fake, rpc = node
    fake.fail = True
    got = await asyncio.gather(
        *(rpc.proof("0xa", [f"0x{i}"], "0x" + "bb" * 32) for i in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(g, NodeError) for g in got)
    assert str(got[0]) == "eth_getProof: node error -32000: no"
    assert len(fake.posts) == 1


async def test_blocks_are_one_batch(node: tuple[Node, EvmRpc]) -> None:
    fake, rpc = node
    fake.answer = lambda call: {  # type: ignore[method-assign]
        "jsonrpc": "2.0", "id": call["id"], "result": {"number": call["params"][0]},
    }  # fmt: skip
    got = await rpc.blocks([5, 6, 7])
    assert [b["number"] for b in got if b is not None] == ["0x5", "0x6", "0x7"]
    assert len(fake.posts) == 1 and json.dumps(fake.posts[0]).count("eth_getBlockByNumber") == 3
