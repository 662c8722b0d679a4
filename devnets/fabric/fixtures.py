"""Pytest fixtures that run a real Fabric network (loaded by devnets.pytest_plugin).

`fabric_devnet` is the FabricDevnet (session scope), for tests that stop and
restart a peer; `fabric_network` brings it up once per session and yields its
DevnetInfo. Without Fabric's release binaries both skip with exactly
MISSING_BINARIES_REASON, and for no other reason: any other failure is an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from devnets.base import DevnetInfo
from devnets.fabric.binaries import MISSING_BINARIES_REASON, find_release
from devnets.fabric.network import FabricDevnet


@pytest.fixture(scope="session")
def fabric_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FabricDevnet]:
    release = find_release()
    if release is None:
        pytest.skip(MISSING_BINARIES_REASON)
    devnet = FabricDevnet(tmp_path_factory.mktemp("fabric-devnet"), release=release)
    try:
        yield devnet
    finally:
        asyncio.run(devnet.down())


@pytest.fixture(scope="session")
def fabric_network(fabric_devnet: FabricDevnet) -> DevnetInfo:
    started = time.monotonic()
    info = asyncio.run(fabric_devnet.up(lambda _line: None))
    info.extra["up_seconds"] = round(time.monotonic() - started, 2)
    return info
