"""Pytest fixtures that start a real anvil devnet (loaded by the `tonglian_devnets` plugin).

`evm_devnet` is one automining anvil per test module (blocks appear on each
transaction; tests mine more with `anvil_mine`); `evm_devnet_factory` starts
extra ones with other settings, for tests that kill or reorganise a node.
Fixtures are synchronous (they drive the devnet on a loop of their own) so they
can be module scoped without tying every test to one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from google.protobuf import json_format

from devnets.base import DevnetInfo
from devnets.evm.network import EvmDevnet
from tonglian.v1 import chains_pb2


@dataclass(frozen=True)
class RunningEvmDevnet:
    """A started devnet and the facts tests need most."""

    devnet: EvmDevnet
    info: DevnetInfo

    @property
    def rpc_url(self) -> str:
        return self.info.endpoints["rpc"]

    @property
    def registry(self) -> str:
        return str(self.info.extra["registry_address"])

    @property
    def inbox(self) -> str:
        return str(self.info.extra["inbox_address"])

    @property
    def owner(self) -> str:
        return str(self.info.extra["owner"]["address"])

    @property
    def submitter_key(self) -> str:
        return str(self.info.extra["submitter"]["private_key"])

    def chain(self) -> chains_pb2.Chain:
        """A fresh tonglian.v1.Chain message for this devnet (callers may edit it)."""
        return json_format.ParseDict(self.info.chain, chains_pb2.Chain())


EvmDevnetFactory = Callable[..., RunningEvmDevnet]
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Runs `coro` to completion on its own loop, in a thread, so that it also works
    when called from an async test (whose loop is already running)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _start(state_dir: Path, **kwargs: Any) -> RunningEvmDevnet:
    devnet = EvmDevnet(state_dir, **kwargs)
    info = _run(devnet.up(lambda _line: None))
    return RunningEvmDevnet(devnet=devnet, info=info)


@pytest.fixture
def evm_devnet_factory(tmp_path: Path) -> Iterator[EvmDevnetFactory]:
    """Starts anvil devnets with EvmDevnet keyword arguments; stops them after the test."""
    started: list[EvmDevnet] = []

    def factory(**kwargs: Any) -> RunningEvmDevnet:
        kwargs.setdefault("block_time", None)
        running = _start(tmp_path / f"evm-{len(started)}", **kwargs)
        started.append(running.devnet)
        return running

    yield factory
    for devnet in started:
        _run(devnet.down())


@pytest.fixture(scope="module")
def evm_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEvmDevnet]:
    """One automining anvil with the contracts deployed, shared by a test module."""
    running = _start(tmp_path_factory.mktemp("evm-devnet"), block_time=None)
    yield running
    _run(running.devnet.down())
