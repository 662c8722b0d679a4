"""/metrics, /healthz and /status of a real hub process over HTTPS, after real calls
against a real custom ledger: the exact samples each call changes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import aiohttp
import grpc
import pytest
from google.protobuf.json_format import ParseDict

from devnets.base import DevnetInfo
from devnets.custom.writer import write_record
from hub import pki
from hub.observability.metrics import DELIVERY_STATES
from tonglian.v1 import chains_pb2, relay_pb2, relay_pb2_grpc
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import Credentials
from tonglian_client.errors import ClientError
from tonglian_tools.hub_process import OPERATOR_ORG, HubProcess

from .scrape import Key, changed, client_ssl, key, listening_hub, scrape

pytestmark = pytest.mark.integration

CHAIN = "obs-1"
GET = "/tonglian.v1.Query/GetRecord"
POLICY = f"""\
version: 1
principals:
  {OPERATOR_ORG}:
    operator: true
    rules:
      - name: ops-read
        chains: ["*"]
        purposes: ["*"]
  market-regulator:
    rules:
      - name: regulator-licences
        chains: [{CHAIN}]
        namespaces: [licences]
        purposes: [business-registration]
"""
LICENCE = {"licence_no": "O-1", "holder": "通链", "status": "active", "issued_on": "2026-01-05"}
PURPOSE = "business-registration"


class Scene:
    def __init__(self, hub: HubProcess, url: str, info: DevnetInfo) -> None:
        assert hub.credentials is not None
        self.hub = hub
        self.url = url
        self.info = info
        self.ops = hub.credentials
        self.regulator = hub.issue("alice", org="market-regulator")
        self.ca = hub.pki_dir / pki.CA_CERT
        # /metrics needs an operator whose rule covers every chain: the hub's own operator.
        self.tls = client_ssl(self.ca, self.ops)

    def client(self, creds: Credentials) -> AsyncClient:
        return AsyncClient(self.hub.address, creds)

    async def scrape(self) -> dict[Key, float]:
        return await scrape(self.url, self.tls)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, custom_ledger: DevnetInfo) -> Iterator[Scene]:
    hub, url = listening_hub(tmp_path_factory.mktemp("obs") / "hub", policy=POLICY)
    hub.start()
    try:
        asyncio.run(hub.wait_serving())
        scene = Scene(hub, url, custom_ledger)

        async def setup() -> None:
            url = custom_ledger.endpoints["http"]
            await write_record(url, "licences", "O-1", "gov.license.business/v1", LICENCE)
            chain = chains_pb2.Chain()
            ParseDict(custom_ledger.chain, chain)
            chain.chain_id = CHAIN
            async with scene.client(scene.ops) as ops:
                await ops.register_chain(chain)

        asyncio.run(setup())
        yield scene
    finally:
        hub.stop()


async def test_every_family_is_declared_with_the_pinned_content_type(scene: Scene) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{scene.url}/metrics", ssl=scene.tls) as resp,
    ):
        text = await resp.text()
        assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    for family, kind in (
        ("tonglian_grpc_requests_total", "counter"),
        ("tonglian_grpc_request_seconds", "histogram"),
        ("tonglian_verifications_total", "counter"),
        ("tonglian_verification_seconds", "histogram"),
        ("tonglian_route_backlog", "gauge"),
        ("tonglian_route_oldest_pending_seconds", "gauge"),
        ("tonglian_deliveries", "gauge"),
        ("tonglian_policy_denials_total", "counter"),
        ("tonglian_audit_events_total", "counter"),
        ("tonglian_adapter_errors_total", "counter"),
        ("tonglian_chain_final_height", "gauge"),
        ("tonglian_http_connections_cut_total", "counter"),
    ):
        assert f"# HELP {family} " in text
        assert f"# TYPE {family} {kind}\n" in text
    samples = await scene.scrape()
    for state in DELIVERY_STATES:
        assert key("tonglian_deliveries", state=state) in samples


async def test_healthz_answers_200_while_serving_without_a_client_certificate(
    scene: Scene,
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{scene.url}/healthz", ssl=client_ssl(scene.ca)) as resp,
    ):
        assert resp.status == 200
        assert await resp.text() == "SERVING\n"


async def test_calls_change_exactly_their_samples(scene: Scene) -> None:
    before = await scene.scrape()
    async with scene.client(scene.regulator) as reg:
        vr = await reg.get_record(f"{CHAIN}/licences/O-1", purpose=PURPOSE)
        assert vr.verification.verified
    after = await scene.scrape()
    assert changed(before, after, "tonglian_grpc_requests") == {
        key("tonglian_grpc_requests_total", method=GET, code="OK"): 1.0
    }
    assert changed(before, after, "tonglian_verifications") == {
        key("tonglian_verifications_total", kind="signed_merkle", outcome="ok"): 1.0
    }
    moved = changed(before, after, "tonglian_verification_seconds")
    assert moved[key("tonglian_verification_seconds_count", kind="signed_merkle")] == 1.0
    assert changed(before, after, "tonglian_audit_events") == {
        key("tonglian_audit_events_total"): 1.0
    }
    assert changed(before, after, "tonglian_policy_denials") == {}

    before = after
    async with scene.client(scene.regulator) as reg:
        with pytest.raises(ClientError) as err:
            await reg.get_record(f"{CHAIN}/licences/NO-SUCH-KEY", purpose=PURPOSE)
        assert err.value.status == grpc.StatusCode.NOT_FOUND
    after = await scene.scrape()
    assert changed(before, after, "tonglian_grpc_requests") == {
        key("tonglian_grpc_requests_total", method=GET, code="NOT_FOUND"): 1.0
    }
    assert changed(before, after, "tonglian_verifications") == {}
    assert changed(before, after, "tonglian_adapter_errors") == {}

    before = after
    async with scene.client(scene.regulator) as reg:
        with pytest.raises(ClientError) as err:
            await reg.get_record(f"{CHAIN}/tax/T-1", purpose=PURPOSE)
        assert err.value.status == grpc.StatusCode.PERMISSION_DENIED
    after = await scene.scrape()
    assert changed(before, after, "tonglian_grpc_requests") == {
        key("tonglian_grpc_requests_total", method=GET, code="PERMISSION_DENIED"): 1.0
    }
    # By method: the metrics never name who was refused.
    assert changed(before, after, "tonglian_policy_denials") == {
        key("tonglian_policy_denials_total", method=GET): 1.0
    }

    # Refused before any handler runs: a request whose bytes do not parse.
    before = after
    async with scene.client(scene.regulator) as reg:
        raw = reg.channel.unary_unary(GET, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.aio.AioRpcError) as rpc:
            await raw(b"\xff\xff\xff")
        assert rpc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    after = await scene.scrape()
    assert changed(before, after, "tonglian_grpc_requests") == {
        key("tonglian_grpc_requests_total", method=GET, code="INVALID_ARGUMENT"): 1.0
    }


async def test_a_delivery_moves_the_relay_gauges(scene: Scene) -> None:
    # A namespace of its own: the devnet is shared with other test modules' records.
    source = f"obs-{uuid.uuid4().hex[:8]}"
    await write_record(
        scene.info.endpoints["http"], source, "O-1", "gov.license.business/v1", LICENCE
    )
    before = await scene.scrape()
    async with scene.client(scene.ops) as ops:
        await relay_pb2_grpc.RelayStub(ops.channel).CreateRoute(
            relay_pb2.CreateRouteRequest(
                route=relay_pb2.Route(
                    route_id="obs-lic",
                    source_chain_id=CHAIN,
                    source_namespace=source,
                    destination_chain_id=CHAIN,
                    destination_namespace=f"{source}-imported",
                )
            )
        )
    confirmed = key("tonglian_deliveries", state="confirmed")
    deadline = time.monotonic() + 60
    while True:
        after = await scene.scrape()
        if after[confirmed] >= 1 and key("tonglian_chain_final_height", chain=CHAIN) in after:
            break
        assert time.monotonic() < deadline, {k: v for k, v in after.items() if "deliver" in k[0]}
        await asyncio.sleep(0.5)
    assert after[confirmed] - before[confirmed] == 1.0
    assert after[key("tonglian_route_backlog", route="obs-lic")] == 0.0
    assert after[key("tonglian_route_oldest_pending_seconds", route="obs-lic")] == 0.0
    for state in ("pending", "submitted", "failed", "parked", "rejected"):
        assert after[key("tonglian_deliveries", state=state)] == 0.0
    assert after[key("tonglian_chain_final_height", chain=CHAIN)] >= 1
    # The scan verified the record the route forwarded.
    verified = key("tonglian_verifications_total", kind="signed_merkle", outcome="ok")
    assert after[verified] - before.get(verified, 0.0) >= 1.0


async def test_label_cardinality_stays_bounded_whatever_keys_are_read(scene: Scene) -> None:
    async with scene.client(scene.regulator) as reg:
        for i in range(30):
            with pytest.raises(ClientError):
                await reg.get_record(f"{CHAIN}/licences/missing-{i}", purpose=PURPOSE)
    before = await scene.scrape()
    async with scene.client(scene.regulator) as reg:
        for i in range(200):
            with pytest.raises(ClientError):
                await reg.get_record(f"{CHAIN}/licences/other-{i}", purpose=PURPOSE)
    after = await scene.scrape()
    assert set(after) == set(before)  # 200 new keys read, no new series
    assert len(after) < 1000
    assert not any("other-" in value for _, labels in after for _, value in labels)


async def test_status_needs_an_operator_certificate(scene: Scene) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{scene.url}/status", ssl=client_ssl(scene.ca)) as resp:
            assert resp.status == 401
            assert await resp.text() == (
                "/status needs an operator client certificate of the hub's CA (mutual TLS)\n"
            )
        agency = client_ssl(scene.ca, scene.regulator)
        async with http.get(f"{scene.url}/status", ssl=agency) as resp:
            assert resp.status == 403
            assert await resp.text() == (
                "tonglian.v1.Listener.GetStatus needs operator rights: the certificate of "
                "market-regulator/alice has role agency\n"
            )
        operator = client_ssl(scene.ca, scene.ops)
        async with http.get(f"{scene.url}/status", ssl=operator) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
            page = await resp.text()
    assert f"<code>{CHAIN}</code>" in page
    assert "<code>obs-lic</code>" in page  # the route of the delivery test
    assert "<script" not in page and 'http-equiv="refresh"' in page
    assert "<svg" in page
