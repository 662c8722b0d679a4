"""RemoteAdapter against real gRPC servers on loopback: typed errors, deadlines, restarts, TLS,
and adapters that hang, cut streams, answer garbage or lie; the hub survives all of them."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf.json_format import ParseDict

from adapters.base import (
    AdapterContext,
    AdapterError,
    ChainUnavailable,
    InvalidAdapterRequest,
    RecordNotFound,
)
from adapters.custom import create_adapter as create_custom
from adapters.remote import RemoteAdapter, RemoteOptions
from adapters.serve import start_server
from devnets.base import DevnetInfo
from devnets.custom.writer import write_record
from tests.self_signed import self_signed
from tonglian.v1 import chains_pb2, chains_pb2_grpc, query_pb2, query_pb2_grpc, records_pb2
from tonglian_tools.hub_process import HubProcess

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file
import misbehaving

pytestmark = pytest.mark.integration


def custom_chain(info: DevnetInfo) -> chains_pb2.Chain:
    return ParseDict(info.chain, chains_pb2.Chain())


def custom_adapter(info: DevnetInfo, chain_id: str = "custom-1") -> object:
    chain = custom_chain(info)
    return create_custom(
        AdapterContext(
            chain_id=chain_id,
            options={"url": info.endpoints["http"]},
            trust_anchor=chain.trust_anchor,
            timeout=5,
        )
    )


def remote(address: str, timeout: float = 2.0, **tls: str) -> RemoteAdapter:
    return RemoteAdapter("hub-name-1", RemoteOptions(address=address, **tls), timeout)


async def test_round_trip_typed_errors_and_hub_chain_id(custom_ledger: DevnetInfo) -> None:
    url = custom_ledger.endpoints["http"]
    await write_record(url, "remote", "r1", "gov.r/v1", {"n": 1})
    server, address = await misbehaving.serve(custom_adapter(custom_ledger))
    client = remote(address)
    try:
        described = await client.describe()
        assert described.adapter == "custom/0.1.0"
        answer = await client.read("remote", "r1")
        assert answer.record.ref.chain_id == "hub-name-1"  # the hub's name, not the server's
        assert answer.proof.HasField("signed_merkle")
        with pytest.raises(RecordNotFound, match="NOT_FOUND"):
            await client.read("remote", "absent")
        with pytest.raises(InvalidAdapterRequest, match="INVALID_ARGUMENT"):
            await client.read("remote", "")
        with pytest.raises(InvalidAdapterRequest):
            async for _ in client.scan("remote", 9, 3):
                pass
        events = [e async for e in client.scan("remote", answer.record.block_height, 0)]
        assert events[-1].HasField("block")
    finally:
        await client.close()
        await server.stop(None)


async def test_server_restart_is_reached_again(custom_ledger: DevnetInfo) -> None:
    server, address = await misbehaving.serve(custom_adapter(custom_ledger))
    client = remote(address)
    try:
        await client.head()
        await server.stop(None)
        with pytest.raises(ChainUnavailable, match="UNAVAILABLE"):
            await client.head()
        port = int(address.rsplit(":", 1)[1])
        server, _ = await start_server(custom_adapter(custom_ledger), f"127.0.0.1:{port}")
        for _ in range(50):  # the channel was rebuilt; the first call after the restart works
            try:
                await client.head()
                break
            except ChainUnavailable:
                await asyncio.sleep(0.1)
        else:
            pytest.fail("the remote adapter did not reconnect")
    finally:
        await client.close()
        await server.stop(None)


async def test_hang_garbage_and_cut_stream(custom_ledger: DevnetInfo) -> None:
    await write_record(custom_ledger.endpoints["http"], "cut", "c1", "gov.c/v1", {"n": 1})
    hang, hang_at = await misbehaving.serve(
        misbehaving.Distorting(custom_adapter(custom_ledger), "hang")
    )
    junk, junk_at = await misbehaving.garbage_server()
    cut, cut_at = await misbehaving.serve(
        misbehaving.Distorting(custom_adapter(custom_ledger), "cut-stream")
    )
    clients = [remote(hang_at, 0.5), remote(junk_at), remote(cut_at)]
    try:
        with pytest.raises(ChainUnavailable, match="DEADLINE_EXCEEDED"):
            await clients[0].read("cut", "c1")
        with pytest.raises(AdapterError, match="not a DescribeResponse") as err:
            await clients[1].describe()
        assert not isinstance(err.value, ChainUnavailable | RecordNotFound)
        first = (await clients[2].head()).height
        with pytest.raises(AdapterError, match=r"inside block|nothing"):
            async for _ in clients[2].scan("", max(first - 1, 0), first):
                pass
    finally:
        for c in clients:
            await c.close()
        for s in (hang, junk, cut):
            await s.stop(None)


async def test_tls(custom_ledger: DevnetInfo, tmp_path: Path) -> None:
    from adapters.tls import TlsFiles

    cert, key = self_signed(tmp_path)
    server, port = await start_server(
        custom_adapter(custom_ledger), "127.0.0.1:0", TlsFiles(cert=cert, key=key)
    )
    good = remote(f"127.0.0.1:{port}", ca=cert, server_name="localhost")
    plain = remote(f"127.0.0.1:{port}")
    try:
        assert (await good.describe()).adapter == "custom/0.1.0"
        with pytest.raises(ChainUnavailable):
            await plain.describe()
    finally:
        await good.close()
        await plain.close()
        await server.stop(None)


async def test_hub_reports_misbehaving_remote_adapters_and_stays_up(
    hub_process: HubProcess, hub_channel: grpc.aio.Channel, custom_ledger: DevnetInfo
) -> None:
    url = custom_ledger.endpoints["http"]
    await write_record(url, "bad", "k1", "gov.b/v1", {"n": 1})
    servers = {}
    for mode in ("hang", "other-key", "flip-value", "lying-head"):
        servers[mode] = await misbehaving.serve(
            misbehaving.Distorting(custom_adapter(custom_ledger), mode)
        )
    servers["garbage"] = await misbehaving.garbage_server()
    try:
        registry = chains_pb2_grpc.ChainRegistryStub(hub_channel)
        query = query_pb2_grpc.QueryStub(hub_channel)
        for mode, (_, address) in servers.items():
            chain = custom_chain(custom_ledger)
            chain.chain_id = f"{mode}-1"
            chain.adapter.Clear()
            chain.adapter.adapter = "remote"
            chain.adapter.address = address
            chain.adapter.timeout_ms = 1000
            await registry.RegisterChain(chains_pb2.RegisterChainRequest(chain=chain))

        async def get(chain_id: str) -> grpc.aio.AioRpcError:
            ref = records_pb2.RecordRef(chain_id=chain_id, namespace="bad", key="k1")
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await query.GetRecord(query_pb2.GetRecordRequest(ref=ref, purpose="t"))
            return err.value

        err = await get("hang-1")
        assert err.code() == grpc.StatusCode.UNAVAILABLE
        assert "of chain 'hang-1' did not answer read of bad/k1 within 1s" in (err.details() or "")
        err = await get("other-key-1")
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "adapter 'remote' of chain 'other-key-1' returned key 'k1-other'" in (
            err.details() or ""
        )
        err = await get("flip-value-1")
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "Merkle path" in (err.details() or "")
        err = await get("garbage-1")
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "adapter 'remote' of chain 'garbage-1' failed" in (err.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as status_err:
            await registry.GetChainStatus(chains_pb2.GetChainStatusRequest(chain_id="lying-head-1"))
        assert "final height" in (status_err.value.details() or "")
        # Still serving, and an honest answer still works.
        listed = await registry.ListChains(chains_pb2.ListChainsRequest())
        assert len(listed.chains) == 5
        assert hub_process.proc is not None and hub_process.proc.poll() is None
    finally:
        for server, _ in servers.values():
            await server.stop(None)
