"""Who sees what on the HTTP listener, tried with real certificates against a real hub.

One hub over mutual TLS (module scope) with its HTTPS listener, the custom ledger
registered as custom-1 with a route that has delivered a record, and an anvil devnet
registered as evm-1. Callers: the hub's operator (every chain), an operator scoped to
`evm-*`, an agency, no certificate, a revoked and an expired certificate. A second hub,
plaintext (--insecure), shows that its metrics name nobody after a denial. Last, 100
connections trickling a request head a byte every 5 s are cut within the documented
timeout while an operator still scrapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import grpc
import pytest
from cryptography import x509
from google.protobuf.json_format import ParseDict

from devnets.base import DevnetInfo
from devnets.custom.writer import write_record
from devnets.evm.fixtures import RunningEvmDevnet
from hub import pki
from hub.observability.connection_guard import HEADER_TIMEOUT, MAX_CONNECTIONS
from tonglian.v1 import chains_pb2, relay_pb2
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import Credentials
from tonglian_client.errors import ClientError
from tonglian_tools.hub_process import DEV_POLICY, OPERATOR_ORG, HubProcess

from .scrape import client_ssl, key, listening_hub, parse

pytestmark = pytest.mark.integration

CUSTOM = "custom-1"
EVM = "evm-1"
ROUTE = "custom-licences"
SCHEMA = "gov.license.business/v1"
POLICY = f"""{DEV_POLICY}\
  evm-ops:
    operator:
      name: evm-ops-chains
      chains: ["evm-*"]
  market-regulator:
    rules:
      - name: regulator-licences
        chains: [{CUSTOM}]
        namespaces: [licences]
        purposes: [business-registration]
"""
SCOPED = "rule 'evm-ops-chains' lets evm-ops operate chains ['evm-*'] only; "
EVERY_CHAIN = " spans every chain and needs an operator rule for chains ['*']"


def licence(no: str) -> dict[str, str]:
    return {"licence_no": no, "holder": "通链", "status": "active", "issued_on": "2026-01-05"}


class Scene:
    def __init__(self, hub: HubProcess, url: str, custom: DevnetInfo, key: str) -> None:
        assert hub.credentials is not None
        self.hub = hub
        self.url = url
        self.custom = custom
        self.record_key = key
        self.ca = hub.pki_dir / pki.CA_CERT
        self.ops = hub.credentials
        self.evm_ops = hub.issue("eve", org="evm-ops", role="operator")
        self.agency = hub.issue("alice", org="market-regulator")

    def client(self, creds: Credentials) -> AsyncClient:
        return AsyncClient(self.hub.address, creds)

    def tls(self, creds: Credentials | None = None) -> ssl.SSLContext:
        return client_ssl(self.ca, creds)

    async def get(self, path: str, creds: Credentials | None) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.url}{path}", ssl=self.tls(creds)) as resp,
        ):
            return resp.status, await resp.text()

    async def refusals(self, principal: str, action: str) -> list[str]:
        """Outcomes of `principal`'s audited `action`s, read by the hub's operator."""
        async with self.client(self.ops) as ops:
            events = await ops.audit_events(principal=principal, action=action)
        return [e.outcome for e in events]


@pytest.fixture(scope="module")
def scene(
    tmp_path_factory: pytest.TempPathFactory,
    custom_ledger: DevnetInfo,
    evm_devnet: RunningEvmDevnet,
) -> Iterator[Scene]:
    hub, url = listening_hub(tmp_path_factory.mktemp("listener") / "hub", policy=POLICY)
    hub.start()
    try:
        asyncio.run(hub.wait_serving())
        namespace = f"lst-{uuid.uuid4().hex[:8]}"
        scene = Scene(hub, url, custom_ledger, f"LST-{namespace}")
        asyncio.run(_register_and_deliver(scene, evm_devnet, namespace))
        yield scene
    finally:
        hub.stop()


async def _register_and_deliver(scene: Scene, evm: RunningEvmDevnet, namespace: str) -> None:
    """custom-1 and evm-1 (read only: no submitter key), and a custom-1 route that
    delivered one record (a namespace of its own: the ledger is shared)."""
    url = scene.custom.endpoints["http"]
    await write_record(url, namespace, scene.record_key, SCHEMA, licence(scene.record_key))
    custom = ParseDict(scene.custom.chain, chains_pb2.Chain())
    custom.chain_id = CUSTOM
    chain = evm.chain()
    chain.chain_id = EVM
    chain.adapter.ClearField("secrets")
    async with scene.client(scene.ops) as ops:
        await ops.register_chain(custom)
        await ops.register_chain(chain)
        await ops.create_route(
            relay_pb2.Route(
                route_id=ROUTE,
                source_chain_id=CUSTOM,
                source_namespace=namespace,
                destination_chain_id=CUSTOM,
                destination_namespace=f"{namespace}-imported",
            )
        )
        deadline = time.monotonic() + 60
        while True:
            done = await ops.list_deliveries(
                route_id=ROUTE, state=relay_pb2.DELIVERY_STATE_CONFIRMED
            )
            if done:
                assert done[0].record.ref.key == scene.record_key
                return
            assert time.monotonic() < deadline, "the route delivered nothing in 60 s"
            await asyncio.sleep(0.5)


# Who may read /metrics and /status


@pytest.mark.parametrize(
    ("path", "operation", "action"),
    [
        ("/metrics", "GetMetrics", "listener.get_metrics"),
        ("/status", "GetStatus", "listener.get_status"),
    ],
)
async def test_no_certificate_gets_401_and_an_agency_403(
    scene: Scene, path: str, operation: str, action: str
) -> None:
    status, text = await scene.get(path, None)
    assert (status, text) == (
        401,
        f"{path} needs an operator client certificate of the hub's CA (mutual TLS)\n",
    )
    refusal = (
        f"tonglian.v1.Listener.{operation} needs operator rights: the certificate of "
        "market-regulator/alice has role agency"
    )
    assert await scene.get(path, scene.agency) == (403, f"{refusal}\n")
    # The refusal of a certificate is audited, with the reason it was given.
    assert await scene.refusals("market-regulator/alice", action) == [f"denied: {refusal}"]


async def test_metrics_need_an_operator_of_every_chain(scene: Scene) -> None:
    refusal = (
        f"{SCOPED}tonglian.v1.Listener.GetMetrics (the hub's metrics, every chain's and "
        f"route's){EVERY_CHAIN}"
    )
    assert await scene.get("/metrics", scene.evm_ops) == (403, f"{refusal}\n")
    assert await scene.refusals("evm-ops/eve", "listener.get_metrics") == [f"denied: {refusal}"]
    status, text = await scene.get("/metrics", scene.ops)
    assert status == 200
    assert key("tonglian_route_backlog", route=ROUTE) in parse(text)


async def test_metrics_name_no_agency_after_a_denial(scene: Scene) -> None:
    async with scene.client(scene.agency) as reg:
        with pytest.raises(ClientError) as err:
            await reg.get_record(f"{CUSTOM}/tax/T-1", purpose="business-registration")
    assert err.value.status == grpc.StatusCode.PERMISSION_DENIED
    status, text = await scene.get("/metrics", scene.ops)
    assert status == 200
    denials = key("tonglian_policy_denials_total", method="/tonglian.v1.Query/GetRecord")
    assert parse(text)[denials] >= 1.0
    assert "market-regulator" not in text and "alice" not in text
    assert 'agency="' not in text


# /status


async def test_status_shows_the_hub_operator_everything(scene: Scene) -> None:
    status, page = await scene.get("/status", scene.ops)
    assert status == 200
    for shown in (
        f"<code>{CUSTOM}</code>",
        f"<code>{EVM}</code>",
        f"<code>{ROUTE}</code>",
        f"<td>{scene.record_key}</td>",
        "<th>head hash</th>",
        "<th>count</th>",
    ):
        assert shown in page, shown
    assert page.count("<svg") == 2
    assert "Not shown" not in page


async def test_status_shows_a_scoped_operator_only_what_its_rpcs_show(scene: Scene) -> None:
    status, page = await scene.get("/status", scene.evm_ops)
    assert status == 200
    assert f"<code>{EVM}</code>" in page
    assert '<p class="empty">No routes.</p>' in page
    # Out of scope: custom-1, its route, the record key it delivered, the audit log.
    assert CUSTOM not in page
    assert ROUTE not in page
    assert scene.record_key not in page
    assert "head hash" not in page and "<svg" not in page and "<th>count</th>" not in page
    hub_wide = (
        f"{SCOPED}tonglian.v1.Listener.GetStatus (deliveries by state and calls per minute "
        f"of every route){EVERY_CHAIN}"
    )
    audit = f"{SCOPED}tonglian.v1.Audit.GetLogHead (the audit log){EVERY_CHAIN}"
    assert page.count(f"Not shown: {html.escape(hub_wide)}") == 3  # two charts, the counts
    assert f"Not shown: {html.escape(audit)}" in page

    # The same operator through the RPCs: the same routes, and the same refusals.
    async with scene.client(scene.evm_ops) as eve:
        assert [r.route_id for r in await eve.list_routes()] == []
        with pytest.raises(ClientError) as err:
            await eve.audit_head()
        assert err.value.status == grpc.StatusCode.PERMISSION_DENIED
        assert str(err.value) == f"PERMISSION_DENIED: {audit}"
        with pytest.raises(ClientError) as err:
            await eve.list_deliveries(route_id=ROUTE)
        assert err.value.status == grpc.StatusCode.PERMISSION_DENIED
        assert str(err.value) == (
            "PERMISSION_DENIED: rule 'evm-ops-chains' lets evm-ops operate chains ['evm-*'] "
            f"only, not '{CUSTOM}' (list deliveries, its source)"
        )
    # A page shown is not a refusal: nothing is audited as denied.
    assert not [
        o
        for o in await scene.refusals("evm-ops/eve", "listener.get_status")
        if o.startswith("denied")
    ]


# Revoked and expired certificates


def _revoke(scene: Scene, creds: Credentials) -> int:
    """`tonglian pki revoke CERT --dir PKI`, run as an operator runs it."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub.cli.main",
            "pki",
            "revoke",
            str(creds.cert),
            "--dir",
            str(scene.hub.pki_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return x509.load_pem_x509_certificate(creds.cert.read_bytes()).serial_number


async def test_a_revoked_certificate_gets_401_on_every_path(scene: Scene) -> None:
    bob = scene.hub.issue("bob", org=OPERATOR_ORG, role="operator")
    for path in ("/healthz", "/metrics", "/status"):
        status, _ = await scene.get(path, bob)
        assert status == 200, path
    context = scene.tls(bob)
    async with aiohttp.ClientSession() as http:
        # A connection opened before the revocation, kept alive across it.
        async with http.get(f"{scene.url}/status", ssl=context) as resp:
            assert resp.status == 200
        serial = _revoke(scene, bob)
        async with http.get(f"{scene.url}/status", ssl=context) as resp:
            assert resp.status == 401
            kept_alive = await resp.text()
    assert f"(serial {serial:x}) was revoked on" in kept_alive
    for path in ("/healthz", "/metrics", "/status"):
        status, text = await scene.get(path, bob)
        assert status == 401, path
        assert text.startswith(
            f"client certificate 'CN=bob,OU=operator,O={OPERATOR_ORG}' (serial {serial:x}) "
            "was revoked on "
        ), text
        assert "SERVING" not in text and "<html" not in text
    outcomes = await scene.refusals("unauthenticated", "listener.healthz")
    assert any(f"(serial {serial:x}) was revoked on" in o for o in outcomes), outcomes
    # Without a certificate, /healthz still tells a load balancer whether the hub serves.
    assert await scene.get("/healthz", None) == (200, "SERVING\n")


async def test_an_expired_certificate_gets_401_on_every_path(scene: Scene) -> None:
    issued = pki.issue(
        scene.hub.pki_dir,
        "brief",
        org=OPERATOR_ORG,
        role="operator",
        days=3 / 86400,
        not_before=datetime.now(UTC),
    )
    brief = Credentials(issued.cert, issued.key, scene.ca)
    cert = x509.load_pem_x509_certificate(issued.cert.read_bytes())
    context = scene.tls(brief)
    expired = (
        f"client certificate 'CN=brief,OU=operator,O={OPERATOR_ORG}' expired at "
        f"{cert.not_valid_after_utc.isoformat()}\n"
    )
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{scene.url}/healthz", ssl=context) as resp:
            assert resp.status == 200
        await asyncio.sleep((cert.not_valid_after_utc - datetime.now(UTC)).total_seconds() + 0.5)
        # Expired on a connection kept open: 401, checked on every request.
        for path in ("/healthz", "/metrics", "/status"):
            async with http.get(f"{scene.url}{path}", ssl=context) as resp:
                assert (resp.status, await resp.text()) == (401, expired), path
    # And on a new connection: the person is told why, with the date.
    for path in ("/healthz", "/metrics", "/status"):
        assert await scene.get(path, brief) == (401, expired), path


# Connections


async def _trickle(url: str, context: ssl.SSLContext | None, path: str) -> tuple[float, float]:
    """Opens a connection and sends a request head one byte every 5 s; returns when the
    hub closes it: (seconds from open to close, seconds waited for the TLS handshake)."""
    host, _, port = url.removeprefix("https://").removeprefix("http://").rpartition(":")
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(host, int(port), ssl=context)
    opened = time.monotonic()
    head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    try:
        for i in range(len(head)):
            writer.write(head[i : i + 1])
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                if await asyncio.wait_for(reader.read(1), 5.0) == b"":
                    break
        else:
            raise AssertionError("the hub read the whole slow request head")
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.transport.abort()
    return time.monotonic() - opened, opened - started


async def _silent(host: str, port: int) -> float:
    """A TCP connection that never starts its TLS handshake: seconds until it is closed."""
    reader, writer = await asyncio.open_connection(host, port)
    opened = time.monotonic()
    try:
        assert await asyncio.wait_for(reader.read(1), 3 * HEADER_TIMEOUT) == b""
    except ConnectionError:
        pass
    finally:
        writer.transport.abort()
    return time.monotonic() - opened


async def test_slow_request_heads_are_cut_within_the_header_timeout(scene: Scene) -> None:
    before = parse((await scene.get("/metrics", scene.ops))[1])
    flood = [asyncio.create_task(_trickle(scene.url, scene.tls(), "/status")) for _ in range(100)]
    silent = [asyncio.create_task(_silent("127.0.0.1", int(scene.url.rpartition(":")[2])))]
    await asyncio.sleep(2)
    # While they trickle, an operator still scrapes and reads the page.
    assert (await scene.get("/metrics", scene.ops))[0] == 200
    assert (await scene.get("/status", scene.ops))[0] == 200
    lives = await asyncio.wait_for(asyncio.gather(*flood), 4 * HEADER_TIMEOUT)
    slack = 5.0  # the machine is shared: scheduling, not the hub, may take a moment
    assert max(life for life, _ in lives) < HEADER_TIMEOUT + slack, sorted(lives)[-5:]
    assert max(await asyncio.gather(*silent)) < HEADER_TIMEOUT + slack
    after = parse((await scene.get("/metrics", scene.ops))[1])
    cut = {
        reason: after[key("tonglian_http_connections_cut_total", reason=reason)]
        - before[key("tonglian_http_connections_cut_total", reason=reason)]
        for reason in ("head_timeout", "too_many")
    }
    # Past MAX_CONNECTIONS the oldest waiting ones went at once; the rest at the timeout.
    assert cut["too_many"] >= 100 - MAX_CONNECTIONS, cut
    assert cut["head_timeout"] + cut["too_many"] >= 100, cut


# A plaintext listener


@pytest.fixture
def plaintext_hub(tmp_path: Path) -> Iterator[tuple[HubProcess, str]]:
    """An --insecure hub with a policy that lets the anonymous caller do nothing."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nprincipals: {}\n")
    hub, url = listening_hub(tmp_path / "hub", insecure=True, extra_args=("--policy", str(policy)))
    hub.start()
    try:
        asyncio.run(hub.wait_serving())
        yield hub, url
    finally:
        hub.stop()


async def test_a_plaintext_listener_names_no_caller(
    plaintext_hub: tuple[HubProcess, str], custom_ledger: DevnetInfo
) -> None:
    hub, url = plaintext_hub
    chain = ParseDict(custom_ledger.chain, chains_pb2.Chain())
    async with AsyncClient(hub.address, None, insecure=True) as anonymous:
        with pytest.raises(ClientError) as err:
            await anonymous.register_chain(chain)
    assert err.value.status == grpc.StatusCode.PERMISSION_DENIED
    assert str(err.value) == (
        "PERMISSION_DENIED: tonglian.v1.ChainRegistry.RegisterChain needs operator rights: no "
        "rule gives anonymous operator rights (principals.anonymous.operator is not true)"
    )
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    samples = parse(text)
    register = "/tonglian.v1.ChainRegistry/RegisterChain"
    assert samples[key("tonglian_policy_denials_total", method=register)] == 1.0
    assert "anonymous" not in text
    assert 'agency="' not in text
