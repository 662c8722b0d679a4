"""Shared fixtures: a real hub process on a real socket (devnet fixtures come from the
`tonglian_devnets` pytest plugin)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from hub.cli.connection import open_channel
from tonglian_client.credentials import ENV_CA, ENV_CERT, ENV_KEY
from tonglian_tools.hub_process import HubProcess


@pytest.fixture
def hub_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubProcess]:
    """A `tonglian serve` child process with its own data dir, serving when yielded.

    It serves mutual TLS with a development PKI and the default policy; the
    operator's credentials are put in TONGLIAN_CERT/KEY/CA, so channels opened
    without explicit credentials (and `tonglian` child processes) use them.
    """
    hub = HubProcess(tmp_path / "hub")
    assert hub.credentials is not None
    monkeypatch.setenv(ENV_CERT, str(hub.credentials.cert))
    monkeypatch.setenv(ENV_KEY, str(hub.credentials.key))
    monkeypatch.setenv(ENV_CA, str(hub.credentials.ca))
    hub.start()
    try:
        asyncio.run(hub.wait_serving())
        yield hub
    finally:
        hub.stop()


@pytest.fixture
async def hub_channel(hub_process: HubProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with open_channel(hub_process.address) as channel:
        yield channel
