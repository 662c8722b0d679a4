"""The endpoints a registration names, normalised so that two spellings of one node match."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from hub.chain_endpoints import LOOPBACK, Endpoint, endpoints, node_keys
from tonglian.v1 import chains_pb2


def evm(rpc: str, *anchor_rpcs: str) -> chains_pb2.Chain:
    chain = chains_pb2.Chain(chain_id="c")
    chain.adapter.options.update({"rpc_url": rpc, "poll_interval": 0.5})
    chain.trust_anchor.evm.rpc_endpoints.extend(anchor_rpcs)
    return chain


def test_loopback_spellings_default_ports_and_paths_are_one_node() -> None:
    spellings = [
        "http://127.0.0.1:8545",
        "http://localhost:8545/",
        "HTTP://LOCALHOST:8545/rpc",
        "http://[::1]:8545",
        "http://127.1.2.3:8545",
        "http://0.0.0.0:8545",
        "ws://[::ffff:127.0.0.1]:8545",
        "localhost:8545",
    ]
    for text in spellings:
        assert [(e.host, e.port) for e in endpoints(evm(text))] == [(LOOPBACK, 8545)], text
    assert [(e.host, e.port) for e in endpoints(evm("https://node.example"))] == [
        ("node.example", 443)
    ]


def test_every_field_that_names_a_node_is_found() -> None:
    chain = evm("http://10.0.0.1:1", "http://10.0.0.2:2")
    chain.adapter.address = "10.0.0.3:3"
    chain.adapter.options.update(
        {"peers": [{"endpoint": "peer0.org1:7051", "msp_id": "Org1MSP"}], "note": "not a url"}
    )
    found = {(e.field, e.host, e.port) for e in endpoints(chain)}
    assert found == {
        ("adapter.address", "10.0.0.3", 3),
        ("adapter.options.rpc_url", "10.0.0.1", 1),
        ("adapter.options.peers[0].endpoint", "peer0.org1", 7051),
        ("trust_anchor.evm.rpc_endpoints[0]", "10.0.0.2", 2),
    }


async def test_a_name_is_compared_by_what_it_resolves_to(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def getaddrinfo(host: str, *_args: Any, **_kw: Any) -> list[Any]:
        table = {"node.internal": ["127.0.1.1", "10.0.0.7"], "evm.example": ["::ffff:10.0.0.7"]}
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in table[host]]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    assert await node_keys(Endpoint("f", "node.internal", 8545)) == {
        ("node.internal", 8545),
        (LOOPBACK, 8545),
        ("10.0.0.7", 8545),
    }
    assert await node_keys(Endpoint("f", "evm.example", 8545)) == {
        ("evm.example", 8545),
        ("10.0.0.7", 8545),
    }
    assert await node_keys(Endpoint("f", "no-such-host.invalid", 1)) == {
        ("no-such-host.invalid", 1)
    }
    assert await node_keys(Endpoint("f", LOOPBACK, 1)) == {(LOOPBACK, 1)}
