"""The status page rendered by real headless Chromium (Debian's `chromium` package),
from a real hub process with a real chain and route registered."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.json_format import ParseDict

from devnets.base import DevnetInfo
from devnets.process import free_port
from hub.cli.connection import open_channel
from tonglian.v1 import chains_pb2, chains_pb2_grpc, relay_pb2, relay_pb2_grpc
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(*args: str, cwd: Path) -> str:
    """Runs headless Chromium once; its stdout."""
    assert CHROMIUM, "install Debian's chromium package (.ci/run does when it is missing)"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={cwd / 'profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def hub_with_route(tmp_path: Path, custom_ledger: DevnetInfo) -> Iterator[tuple[HubProcess, str]]:
    """An --insecure hub (the page is open there, as gRPC is) with a chain and a route."""
    port = free_port()
    hub = HubProcess(
        tmp_path / "hub", insecure=True, extra_args=("--http-listen", f"127.0.0.1:{port}")
    )
    hub.start()
    try:
        asyncio.run(hub.wait_serving())

        async def setup() -> None:
            chain = chains_pb2.Chain()
            ParseDict(custom_ledger.chain, chain)
            chain.chain_id = "licences-ledger"
            async with open_channel(hub.address, insecure=True) as channel:
                await chains_pb2_grpc.ChainRegistryStub(channel).RegisterChain(
                    chains_pb2.RegisterChainRequest(chain=chain)
                )
                await relay_pb2_grpc.RelayStub(channel).CreateRoute(
                    relay_pb2.CreateRouteRequest(
                        route=relay_pb2.Route(
                            route_id="licences-to-tax",
                            source_chain_id="licences-ledger",
                            source_namespace="licences",
                            destination_chain_id="licences-ledger",
                            destination_namespace="tax-inbox",
                        )
                    )
                )

        asyncio.run(setup())
        yield hub, f"http://127.0.0.1:{port}/status"
    finally:
        hub.stop()


def test_status_page_renders_chains_and_routes_in_chromium(
    hub_with_route: tuple[HubProcess, str], tmp_path: Path
) -> None:
    _, url = hub_with_route
    dom = chromium("--dump-dom", url, cwd=tmp_path)
    assert "<title>Tonglian hub status</title>" in dom
    assert "<code>licences-ledger</code>" in dom
    assert "<code>licences-to-tax</code>" in dom
    assert "licences-ledger/licences → licences-ledger/tax-inbox" in dom
    assert dom.count("<svg") == 2
    shot = tmp_path / "status.png"
    chromium(
        "--window-size=1280,1000", "--hide-scrollbars", f"--screenshot={shot}", url, cwd=tmp_path
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
