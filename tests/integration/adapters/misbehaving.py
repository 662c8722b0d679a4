"""Small tonglian.v1.Adapter servers that misbehave on purpose, over real gRPC on loopback.

`Distorting` wraps a real in-process adapter and breaks one promise (another
key, a flipped value, a lying head, a hang); `garbage_server` answers bytes that
are no protobuf at all. Tests point the RemoteAdapter, the hub and the kit at them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from adapters.base import Adapter, AdapterError
from adapters.serve import start_server
from tonglian.v1 import adapter_pb2, chains_pb2, relay_pb2

MODES = ("hang", "other-key", "flip-value", "lying-head", "errors-internal", "cut-stream")


class Distorting:
    """An Adapter that forwards to `inner` except where `mode` says to misbehave."""

    def __init__(self, inner: Adapter, mode: str) -> None:
        assert mode in MODES, mode
        self.inner, self.mode = inner, mode

    async def describe(self) -> adapter_pb2.DescribeResponse:
        return await self.inner.describe()

    async def head(self) -> chains_pb2.ChainHead:
        head = await self.inner.head()
        if self.mode == "lying-head":
            head.final_height = head.height + 5
        return head

    async def read(
        self, namespace: str, key: str, at_height: int = 0
    ) -> adapter_pb2.ReadRecordResponse:
        if self.mode == "hang":
            await asyncio.sleep(3600)
        try:
            answer = await self.inner.read(namespace, key, at_height)
        except AdapterError as exc:
            if self.mode == "errors-internal":
                raise RuntimeError(f"boom: {exc}") from None
            raise
        if self.mode == "other-key":
            answer.record.ref.key = key + "-other"
        elif self.mode == "flip-value":
            answer.record.value = answer.record.value.replace(b"1", b"2", 1)
        return answer

    async def scan(
        self, namespace: str, from_height: int, to_height: int = 0, follow: bool = False
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        async for event in self.inner.scan(namespace, from_height, to_height, follow):
            if self.mode == "cut-stream" and event.HasField("block"):
                return  # ends the stream after a block's records, before its mark
            yield event

    async def submit(self, delivery: relay_pb2.Delivery) -> adapter_pb2.Submission:
        return await self.inner.submit(delivery)

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        return await self.inner.submission(delivery_id)

    async def close(self) -> None:
        await self.inner.close()


async def serve(adapter: Any) -> tuple[grpc.aio.Server, str]:
    server, port = await start_server(adapter, "127.0.0.1:0")
    return server, f"127.0.0.1:{port}"


async def garbage_server() -> tuple[grpc.aio.Server, str]:
    """Every unary method answers bytes that do not parse as its response message."""

    async def junk(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        return b"\xff\xff\xff\xff\x0f"

    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            junk, request_deserializer=lambda b: b, response_serializer=lambda b: b
        )
        for name in ("Describe", "GetHead", "ReadRecord", "Submit", "GetSubmission")
    }
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("tonglian.v1.Adapter", handlers),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"
