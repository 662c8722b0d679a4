"""Pytest fixtures that run a real custom ledger process (loaded by devnets.pytest_plugin).

`custom_ledger` starts one ledger per session in a temporary state dir and yields
its DevnetInfo; `custom_devnet` is the CustomDevnet behind it, for tests that
stop or restart it (they should leave it running).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from devnets.base import DevnetInfo
from devnets.custom.network import CustomDevnet


@pytest.fixture(scope="session")
def custom_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustomDevnet]:
    devnet = CustomDevnet(tmp_path_factory.mktemp("custom-devnet"), block_interval_ms=100)
    try:
        yield devnet
    finally:
        asyncio.run(devnet.down())


@pytest.fixture(scope="session")
def custom_ledger(custom_devnet: CustomDevnet) -> DevnetInfo:
    return asyncio.run(custom_devnet.up(lambda _line: None))
