"""Helpers for the EVM integration tests: adapters on a running devnet, writes, a block miner."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.types import RPCEndpoint

from adapters.base import Secret
from adapters.evm import create_adapter
from adapters.evm.adapter import EvmAdapter
from devnets.evm import contracts
from devnets.evm.fixtures import RunningEvmDevnet
from hub.adapter_context import adapter_context
from hub.secrets import read_local


def make_adapter(
    devnet: RunningEvmDevnet,
    timeout: float = 5.0,
    private_key: str | None = None,
    **options: Any,
) -> EvmAdapter:
    """The devnet's adapter as the hub makes it; `private_key` replaces the submitter key."""
    chain = devnet.chain()
    ctx = adapter_context(
        chain,
        timeout=timeout,
        secrets=read_local(chain.adapter),
        extra_options={"poll_interval": 0.1, "receipt_timeout": 20.0, **options},
    )
    if private_key is not None:
        ctx = replace(ctx, secrets={"private_key": Secret(private_key)})
    adapter = create_adapter(ctx)
    assert isinstance(adapter, EvmAdapter)
    return adapter


class Chain:
    """Writes and mining on a devnet, through anvil's unlocked accounts."""

    def __init__(self, devnet: RunningEvmDevnet) -> None:
        self.devnet = devnet
        self.w3 = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url))

    async def rpc(self, method: str, params: list[Any]) -> Any:
        response = await self.w3.provider.make_request(RPCEndpoint(method), params)
        assert "error" not in response, response
        return response.get("result")

    async def put(self, key: str, value: bytes, schema: str = "gov.license.business/v1") -> int:
        """Writes a record and returns its block number."""
        receipt = await contracts.put_record(
            self.w3, self.devnet.registry, self.devnet.owner, key, schema, value
        )
        return int(receipt["blockNumber"])

    async def mine(self, blocks: int = 1) -> None:
        await self.rpc("anvil_mine", [blocks])

    async def head(self) -> int:
        return int(await self.w3.eth.block_number)

    @contextlib.asynccontextmanager
    async def miner(self, interval: float = 0.1) -> AsyncIterator[None]:
        """Mines a block every `interval` seconds meanwhile (automine mines on transactions)."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                await self.mine()

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        await self.w3.provider.disconnect()


@pytest.fixture
async def chain(evm_devnet: RunningEvmDevnet) -> AsyncIterator[Chain]:
    c = Chain(evm_devnet)
    yield c
    await c.close()


@pytest.fixture
async def adapter(evm_devnet: RunningEvmDevnet) -> AsyncIterator[EvmAdapter]:
    a = make_adapter(evm_devnet)
    yield a
    await a.close()


ChainFactory = Callable[[RunningEvmDevnet], Chain]
