"""The hub over a real socket against a real custom ledger process: the query path end to end."""

from __future__ import annotations

import asyncio
import signal

import grpc
import pytest
from google.protobuf.json_format import ParseDict
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from devnets.base import DevnetInfo
from devnets.custom.writer import write_record
from hub.cli.connection import open_channel
from tonglian.v1 import chains_pb2, chains_pb2_grpc, query_pb2, query_pb2_grpc, records_pb2
from tonglian_proof.bundle import ReaderTrust, decode_bundle, encode_bundle, verify_bundle
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration

SCHEMA = "gov.license.business/v1"


def devnet_chain(info: DevnetInfo, chain_id: str = "custom-1") -> chains_pb2.Chain:
    chain = chains_pb2.Chain()
    ParseDict(info.chain, chain)
    chain.chain_id = chain_id
    return chain


async def register(channel: grpc.aio.Channel, chain: chains_pb2.Chain) -> chains_pb2.Chain:
    stub = chains_pb2_grpc.ChainRegistryStub(channel)
    resp = await stub.RegisterChain(chains_pb2.RegisterChainRequest(chain=chain))
    return resp.chain


def ref(key: str, chain_id: str = "custom-1", namespace: str = "licences") -> records_pb2.RecordRef:
    return records_pb2.RecordRef(chain_id=chain_id, namespace=namespace, key=key)


async def test_health_and_reflection(hub_channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(hub_channel)
    for service in ("", "tonglian.v1.ChainRegistry", "tonglian.v1.Query"):
        resp = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(hub_channel)
    call = refl.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    answer = await call.read()
    await call.done_writing()
    names = {s.name for s in answer.list_services_response.service}
    assert {"tonglian.v1.ChainRegistry", "tonglian.v1.Query", "grpc.health.v1.Health"} <= names


async def test_register_query_and_verify_offline(
    hub_channel: grpc.aio.Channel, custom_ledger: DevnetInfo
) -> None:
    chain = await register(hub_channel, devnet_chain(custom_ledger))
    assert chain.HasField("registered_at")
    url = custom_ledger.endpoints["http"]
    tx = await write_record(url, "licences", "91310000MA1K000001", SCHEMA, {"status": "active"})

    query = query_pb2_grpc.QueryStub(hub_channel)
    resp = await query.GetRecord(
        query_pb2.GetRecordRequest(ref=ref("91310000MA1K000001"), purpose="business-registration")
    )
    vr = resp.record
    assert vr.record.value == b'{"status":"active"}'
    assert vr.record.schema == SCHEMA
    assert vr.record.tx_id == tx.tx_id
    assert vr.record.block_height == tx.block_height
    assert vr.verification.verified and vr.verification.proof_kind == "signed_merkle"
    verdict = verify_bundle(
        decode_bundle(encode_bundle(vr.bundle)), ReaderTrust(chain.trust_anchor)
    )
    assert verdict.record == vr.record
    assert verdict.anchored and verdict.anchored_in == "the trust anchor you gave"
    # Every bundle served is signed by the hub: "the hub said so at T" is checkable.
    assert vr.bundle.HasField("hub_signature")
    assert "over the bundle digest is intact" in verdict.checks[-1]


async def test_get_record_errors(hub_channel: grpc.aio.Channel, custom_ledger: DevnetInfo) -> None:
    await register(hub_channel, devnet_chain(custom_ledger, "errs-1"))
    query = query_pb2_grpc.QueryStub(hub_channel)
    cases = [
        (ref("k", chain_id="nope"), grpc.StatusCode.NOT_FOUND, "no chain 'nope' is registered"),
        (
            ref("absent-key", chain_id="errs-1"),
            grpc.StatusCode.NOT_FOUND,
            "no record licences/absent-key",
        ),
        (
            records_pb2.RecordRef(chain_id="errs-1", namespace="licences"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ref.key is required",
        ),
        (
            ref("k" * 2000, chain_id="errs-1"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ref.key is longer than 1024 bytes",
        ),
    ]
    for r, code, text in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await query.GetRecord(query_pb2.GetRecordRequest(ref=r, purpose="test"))
        assert err.value.code() == code
        assert text in (err.value.details() or "")


async def test_registration_errors(
    hub_channel: grpc.aio.Channel, custom_ledger: DevnetInfo
) -> None:
    stub = chains_pb2_grpc.ChainRegistryStub(hub_channel)
    good = devnet_chain(custom_ledger, "dup-1")
    await register(hub_channel, good)

    async def refused(chain: chains_pb2.Chain) -> grpc.aio.AioRpcError:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RegisterChain(chains_pb2.RegisterChainRequest(chain=chain))
        return err.value

    dup = await refused(good)
    assert dup.code() == grpc.StatusCode.ALREADY_EXISTS
    assert (
        dup.details()
        == "chain 'dup-1' is already registered; remove it first or choose another chain id"
    )

    bad_id = devnet_chain(custom_ledger, "Bad ID!")
    err = await refused(bad_id)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "chain id 'Bad ID!' is not valid" in (err.details() or "")

    wrong_kind = devnet_chain(custom_ledger, "kind-1")
    wrong_kind.kind = chains_pb2.CHAIN_KIND_EVM
    err = await refused(wrong_kind)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        err.details()
        == "chain.trust_anchor must be a evm anchor for this chain kind, got signed_merkle"
    )

    no_adapter = devnet_chain(custom_ledger, "adapter-1")
    no_adapter.adapter.adapter = "nonesuch"
    err = await refused(no_adapter)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no adapter named 'nonesuch' is installed" in (err.details() or "")

    bad_anchor = devnet_chain(custom_ledger, "anchor-1")
    bad_anchor.trust_anchor.signed_merkle.threshold = 99
    err = await refused(bad_anchor)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT

    err = await refused(chains_pb2.Chain())
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT

    # None of it touched what was stored.
    listed = await stub.ListChains(chains_pb2.ListChainsRequest())
    assert [c.chain_id for c in listed.chains] == ["dup-1"]


async def test_oversized_request_is_refused(hub_channel: grpc.aio.Channel) -> None:
    stub = chains_pb2_grpc.ChainRegistryStub(hub_channel)
    chain = chains_pb2.Chain(chain_id="big-1", display_name="x" * (17 * 1024 * 1024))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.RegisterChain(chains_pb2.RegisterChainRequest(chain=chain))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # and the hub is still up
    await stub.ListChains(chains_pb2.ListChainsRequest())


async def test_list_records_pages_and_filters(
    hub_channel: grpc.aio.Channel, custom_ledger: DevnetInfo
) -> None:
    await register(hub_channel, devnet_chain(custom_ledger, "list-1"))
    url = custom_ledger.endpoints["http"]
    writes = [
        await write_record(url, "permits", f"permit:{i:03d}", "gov.permit/v1", {"n": i})
        for i in range(7)
    ]
    await write_record(url, "permits", "other:1", "gov.other/v1", {"n": 99})
    query = query_pb2_grpc.QueryStub(hub_channel)
    flt = query_pb2.RecordFilter(
        chain_id="list-1",
        namespace="permits",
        key_prefix="permit:",
        from_height=writes[0].block_height,
    )
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        resp = await query.ListRecords(
            query_pb2.ListRecordsRequest(filter=flt, page_size=3, page_token=token, purpose="audit")
        )
        pages += 1
        assert len(resp.records) <= 3
        assert all(r.verification.verified for r in resp.records)
        seen += [r.record.ref.key for r in resp.records]
        token = resp.next_page_token
        if not token:
            break
    assert seen == [f"permit:{i:03d}" for i in range(7)]
    assert pages == 3

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await query.ListRecords(query_pb2.ListRecordsRequest(filter=flt, page_token="garbage!"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == "page_token is not one this hub issued"


async def test_watch_records_streams_new_final_records(
    hub_channel: grpc.aio.Channel, custom_ledger: DevnetInfo
) -> None:
    await register(hub_channel, devnet_chain(custom_ledger, "watch-1"))
    query = query_pb2_grpc.QueryStub(hub_channel)
    stream = query.WatchRecords(
        query_pb2.WatchRecordsRequest(
            filter=query_pb2.RecordFilter(chain_id="watch-1", namespace="watched"), purpose="watch"
        )
    )
    await asyncio.sleep(0.5)
    await write_record(custom_ledger.endpoints["http"], "watched", "w1", "gov.w/v1", {"w": 1})
    first = await asyncio.wait_for(stream.read(), 15)
    assert first.record.record.ref.key == "w1"
    assert first.record.verification.verified
    stream.cancel()


async def test_ledger_down_is_unavailable_and_hub_survives(
    hub_channel: grpc.aio.Channel,
) -> None:
    chain = chains_pb2.Chain(chain_id="down-1", kind=chains_pb2.CHAIN_KIND_SIGNED_MERKLE)
    chain.adapter.adapter = "custom"
    chain.adapter.options.update({"url": "http://127.0.0.1:9"})
    chain.adapter.timeout_ms = 2000
    sm = chain.trust_anchor.signed_merkle
    sm.ledger_id = "gone"
    sm.validators.add(id="v1", ed25519_public_key=b"\x01" * 32)
    sm.threshold = 1
    await register(hub_channel, chain)
    query = query_pb2_grpc.QueryStub(hub_channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await query.GetRecord(
            query_pb2.GetRecordRequest(ref=ref("k", chain_id="down-1"), purpose="t")
        )
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "chain 'down-1' is unreachable" in (err.value.details() or "")
    stub = chains_pb2_grpc.ChainRegistryStub(hub_channel)
    assert (
        await stub.GetChain(chains_pb2.GetChainRequest(chain_id="down-1"))
    ).chain.chain_id == "down-1"


async def test_every_service_is_served(hub_channel: grpc.aio.Channel) -> None:
    # The last unimplemented service (Audit) landed: it answers, for an operator.
    from tonglian.v1 import audit_pb2, audit_pb2_grpc

    resp = await audit_pb2_grpc.AuditStub(hub_channel).ListAnchors(audit_pb2.ListAnchorsRequest())
    assert list(resp.anchors) == []


async def test_sigterm_shuts_down_cleanly_and_store_survives(
    hub_process: HubProcess, custom_ledger: DevnetInfo
) -> None:
    async with open_channel(hub_process.address) as channel:
        await register(channel, devnet_chain(custom_ledger, "keep-1"))
    assert hub_process.stop(signal.SIGTERM) == 0
    assert "hub stopped" in hub_process.log_tail()
    hub_process.start()
    await hub_process.wait_serving()
    async with open_channel(hub_process.address) as channel:
        stub = chains_pb2_grpc.ChainRegistryStub(channel)
        listed = await stub.ListChains(chains_pb2.ListChainsRequest())
    assert [c.chain_id for c in listed.chains] == ["keep-1"]
