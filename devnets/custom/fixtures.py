"""Pytest fixtures that run a real custom ledger process (loaded by devnets.pytest_plugin).

`custom_ledger` starts one ledger per session in a temporary state dir and yields
its DevnetInfo; `custom_devnet` is the CustomDevnet behind it, for tests that
stop or restart it (they should leave it running). `custom_sm2_ledger` and
`custom_sm2_devnet` are the same for a ledger in SM2/SM3 mode.
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


@pytest.fixture(scope="session")
def custom_sm2_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustomDevnet]:
    """A second reference ledger in national-cryptography mode (SM2 validators, SM3)."""
    devnet = CustomDevnet(
        tmp_path_factory.mktemp("custom-sm2-devnet"), block_interval_ms=100, crypto="sm2"
    )
    try:
        yield devnet
    finally:
        asyncio.run(devnet.down())


@pytest.fixture(scope="session")
def custom_sm2_ledger(custom_sm2_devnet: CustomDevnet) -> DevnetInfo:
    return asyncio.run(custom_sm2_devnet.up(lambda _line: None))
