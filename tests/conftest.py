"""Shared fixtures: a real hub process on a real socket (devnet fixtures come from the
`tonglian_devnets` pytest plugin)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from hub.cli.connection import open_channel
from hub.cli.hub_process import HubProcess


@pytest.fixture
def hub_process(tmp_path: Path) -> Iterator[HubProcess]:
    """A `tonglian serve` child process with its own data dir, serving when yielded."""
    hub = HubProcess(tmp_path / "hub")
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
