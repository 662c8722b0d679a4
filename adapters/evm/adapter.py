"""EvmAdapter: the Adapter protocol for an Ethereum-compatible chain with a RecordRegistry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from google.protobuf.timestamp_pb2 import Timestamp

from adapters.base import (
    AdapterContext,
    AdapterMisconfigured,
    ChainUnavailable,
    InvalidAdapterRequest,
)
from adapters.evm.options import resolve
from adapters.evm.records import RecordReader
from adapters.evm.scanner import Scanner
from adapters.evm.submit import Submitter
from adapters.evm.wire import EvmRpc
from tonglian.v1 import adapter_pb2, chains_pb2, relay_pb2

ADAPTER_NAME = "evm/0.1.0"


class EvmAdapter:
    def __init__(self, ctx: AdapterContext) -> None:
        self._opts = resolve(ctx)
        self._rpc = EvmRpc(self._opts.rpc_url, self._opts.timeout)
        self._reader = RecordReader(self._rpc, self._opts, ctx.chain_id)
        self._scanner = Scanner(self._rpc, self._opts, self._reader)
        self._submitter = Submitter(self._rpc, self._opts)
        self._chain_checked = False

    async def _check_chain(self) -> None:
        """Refuses to talk to a node of another chain than the registered one."""
        if self._chain_checked:
            return
        served = await self._rpc.chain_id()
        if served != self._opts.chain_id:
            raise AdapterMisconfigured(
                f"{self._opts.rpc_url} serves chain id {served}, registered {self._opts.chain_id}"
            )
        self._chain_checked = True

    async def describe(self) -> adapter_pb2.DescribeResponse:
        await self._check_chain()
        return adapter_pb2.DescribeResponse(
            adapter=ADAPTER_NAME,
            kind=chains_pb2.CHAIN_KIND_EVM,
            network_id=str(self._opts.chain_id),
            namespaces=[self._opts.registry],
            can_submit=self._submitter.can_submit,
        )

    async def head(self) -> chains_pb2.ChainHead:
        await self._check_chain()
        block = await self._rpc.block("latest")
        if block is None:
            raise ChainUnavailable(f"{self._opts.rpc_url} has no latest block")
        height = int(str(block["number"]), 16)
        return chains_pb2.ChainHead(
            height=height,
            block_hash=bytes.fromhex(str(block["hash"])[2:]),
            final_height=max(height - self._opts.finality_depth, 0),
            time=Timestamp(seconds=int(str(block["timestamp"]), 16)),
        )

    async def read(
        self, namespace: str, key: str, at_height: int = 0
    ) -> adapter_pb2.ReadRecordResponse:
        await self._check_chain()
        return await self._reader.read(namespace, key, at_height)

    async def final_heights(self, from_height: int) -> AsyncIterator[int]:
        """The final height each time it reaches `from_height` or more: HTTP JSON-RPC has
        no push, so the head is asked at the adapter's poll interval."""
        await self._check_chain()
        height = from_height
        while True:
            final = await self._rpc.block_number() - self._opts.finality_depth
            if final >= height:
                yield final
                height = final + 1
            else:
                await asyncio.sleep(self._opts.poll_interval)

    async def scan(
        self, namespace: str, from_height: int, to_height: int = 0, follow: bool = False
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        if from_height < 0 or to_height < 0 or (to_height and to_height < from_height):
            raise InvalidAdapterRequest(
                f"scan range {from_height}..{to_height} is backwards or negative"
            )
        await self._check_chain()
        if namespace:
            self._reader.check_namespace(namespace)
        async for item in self._scanner.scan(from_height, to_height, follow):
            yield item

    async def submit(self, delivery: relay_pb2.Delivery) -> adapter_pb2.Submission:
        await self._check_chain()
        return await self._submitter.submit(delivery)

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        await self._check_chain()
        return await self._submitter.submission(delivery_id)

    async def close(self) -> None:
        await self._rpc.close()
