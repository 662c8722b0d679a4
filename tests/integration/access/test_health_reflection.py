"""Health and reflection follow the certificate checks of every other call (attack 10).

A real hub over mutual TLS; the certificate is revoked with `tonglian pki revoke` run as
a user runs it. After that, Health.Check and reflection are refused UNAUTHENTICATED, an
open Health.Watch ends within 5 s, and the refusals are in the audit log; an expired
certificate is refused the same way.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from hub import pki
from tonglian_client.channel import open_channel
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import Credentials
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("health") / "hub")
    process.start()
    try:
        asyncio.run(process.wait_serving())
        yield process
    finally:
        process.stop()


async def _services(channel: grpc.aio.Channel) -> list[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    ask = reflection_pb2.ServerReflectionRequest(list_services="")

    async def one() -> object:
        yield ask

    async for answer in stub.ServerReflectionInfo(one()):
        return [s.name for s in answer.list_services_response.service]
    raise AssertionError("reflection answered nothing")


def _revoke(hub: HubProcess, cert: object) -> str:
    done = subprocess.run(
        [sys.executable, "-P", "-m", "hub.cli.main", "pki", "revoke", str(cert), "--dir",
         str(hub.pki_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _who(creds: Credentials) -> tuple[str, int]:
    cert = x509.load_pem_x509_certificate(creds.cert.read_bytes())
    return cert.subject.rfc4514_string(), cert.serial_number


async def test_a_revoked_certificate_loses_health_and_reflection(hub: HubProcess) -> None:
    carol = hub.issue("carol", org="market-regulator")
    subject, serial = _who(carol)
    async with open_channel(hub.address, carol) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        check = await health.Check(health_pb2.HealthCheckRequest())
        assert check.status == health_pb2.HealthCheckResponse.SERVING
        assert "tonglian.v1.Query" in await _services(channel)

        watch = health.Watch(health_pb2.HealthCheckRequest(service="tonglian.v1.Query"))
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING

        printed = _revoke(hub, carol.cert)
        assert printed.startswith(f"revoked   serial {serial:x};"), printed
        revoked_at = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await asyncio.wait_for(watch.read(), 10)
        assert time.monotonic() - revoked_at < 5.0
        crl = x509.load_pem_x509_crl((hub.pki_dir / pki.CRL).read_bytes())
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        assert entry is not None
        why = (
            f"client certificate {subject!r} (serial {serial:x}) was revoked on "
            f"{entry.revocation_date_utc.isoformat()}"
        )
        assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert ended.value.details() == why

        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health.Check(health_pb2.HealthCheckRequest())
        assert (err.value.code(), err.value.details()) == (grpc.StatusCode.UNAUTHENTICATED, why)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _services(channel)
        assert (err.value.code(), err.value.details()) == (grpc.StatusCode.UNAUTHENTICATED, why)

    assert hub.credentials is not None
    async with AsyncClient(hub.address, hub.credentials) as ops:
        events = await ops.audit_events()
    mine = [(e.principal, e.action, e.outcome) for e in events if why in e.outcome]
    assert mine == [
        ("market-regulator/carol", "health.watch", f"denied: stream closed: {why}"),
        ("unauthenticated", "health.check", f"denied: {why}"),
        ("unauthenticated", "reflection.server_reflection_info", f"denied: {why}"),
    ]


async def test_an_expired_certificate_loses_health(hub: HubProcess) -> None:
    issued = pki.issue(
        hub.pki_dir,
        "brief",
        org="market-regulator",
        role="agency",
        days=3 / 86400,
        not_before=datetime.now(UTC),
    )
    brief = Credentials(issued.cert, issued.key, hub.pki_dir / pki.CA_CERT)
    cert = x509.load_pem_x509_certificate(issued.cert.read_bytes())
    async with open_channel(hub.address, brief) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        check = await health.Check(health_pb2.HealthCheckRequest())
        assert check.status == health_pb2.HealthCheckResponse.SERVING
        await asyncio.sleep(
            max(0.0, (cert.not_valid_after_utc - datetime.now(UTC)).total_seconds()) + 0.5
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health.Check(health_pb2.HealthCheckRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.value.details() == (
        "client certificate 'CN=brief,OU=agency,O=market-regulator' expired at "
        f"{cert.not_valid_after_utc.isoformat()}"
    )
