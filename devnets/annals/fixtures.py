"""Pytest fixtures that run a real Annals node (loaded by devnets.pytest_plugin).

`annals_ledger` starts one node per session and yields its DevnetInfo.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from devnets.annals.network import AnnalsDevnet
from devnets.base import DevnetInfo


@pytest.fixture(scope="session")
def annals_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetInfo]:
    devnet = AnnalsDevnet(tmp_path_factory.mktemp("annals-devnet"), seal_interval_ms=100)
    try:
        yield asyncio.run(devnet.up(lambda _line: None))
    finally:
        asyncio.run(devnet.down())
