"""RemoteAdapter: the Adapter protocol over gRPC, to an adapter that runs in another process.

The hub uses it exactly like an in-process adapter: every gRPC status comes back
as the typed error of `adapters.statuses`, every call has a deadline, and a
server that restarts is reached again (the channel is rebuilt after UNAVAILABLE).
It trusts the far end no more than a plugin: framing faults in a scan stream
(a record after its block's mark, marks out of order, a stream that stops inside
a block) are errors here, and the hub still verifies every proof.

`record.ref.chain_id` is the hub's name for the chain, which the remote process
need not know: it is set here on every record received.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import grpc
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.base import (
    Adapter,
    AdapterContext,
    AdapterError,
    AdapterMisconfigured,
    ChainUnavailable,
)
from adapters.statuses import error_of
from adapters.tls import TlsFiles, channel_credentials
from tonglian.v1 import adapter_pb2, adapter_pb2_grpc, chains_pb2, relay_pb2

T = TypeVar("T")
ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# Reconnect quickly after a restart instead of gRPC's default backoff of up to two minutes.
CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


class RemoteOptions(BaseModel):
    """AdapterSettings of a remote chain: `address` plus optional TLS files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str = Field(pattern=ADDRESS.pattern)
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    # Name the server certificate must carry, when it differs from the address host.
    server_name: str | None = None


def create_adapter(ctx: AdapterContext) -> Adapter:
    """Factory for AdapterSettings.adapter == "remote" (the router puts `address` in options)."""
    try:
        options = RemoteOptions.model_validate(dict(ctx.options))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "options"
        raise AdapterMisconfigured(f"remote adapter settings: {loc}: {first['msg']}") from None
    return RemoteAdapter(ctx.chain_id, options, ctx.timeout)


class RemoteAdapter:
    def __init__(self, chain_id: str, options: RemoteOptions, timeout: float) -> None:
        self.chain_id = chain_id
        self.options = options
        self.timeout = timeout
        self._tls = TlsFiles(options.ca, options.cert, options.key)
        self._channel: grpc.aio.Channel | None = None
        self._stub: adapter_pb2_grpc.AdapterAsyncStub | None = None

    @property
    def address(self) -> str:
        return self.options.address

    def _open(self) -> adapter_pb2_grpc.AdapterAsyncStub:
        if self._stub is None:
            opts: list[tuple[str, int | str]] = list(CHANNEL_OPTIONS)
            if self._tls.enabled:
                if self.options.server_name:
                    opts.append(("grpc.ssl_target_name_override", self.options.server_name))
                self._channel = grpc.aio.secure_channel(
                    self.address, channel_credentials(self._tls), options=opts
                )
            else:
                self._channel = grpc.aio.insecure_channel(self.address, options=opts)
            self._stub = adapter_pb2_grpc.AdapterStub(self._channel)
        assert self._stub is not None
        return self._stub

    async def _reset(self) -> None:
        """Drops the channel so the next call dials afresh (the server may have restarted)."""
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            await channel.close(None)

    def _error(self, what: str, exc: grpc.aio.AioRpcError) -> AdapterError:
        code = exc.code()
        details = exc.details() or code.name
        return error_of(code, f"remote adapter {self.address} {what}: {code.name}: {details}")

    async def _unary(self, what: str, call: Callable[[], Awaitable[T]], expect: type[T]) -> T:
        try:
            answer = await call()
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                await self._reset()
            raise self._error(what, exc) from None
        # grpc.aio answers None when the bytes do not parse as the response message.
        if not isinstance(answer, expect):
            raise AdapterError(
                f"remote adapter {self.address} answered {what} with bytes that are not a "
                f"{expect.__name__}"
            )
        return answer

    def _own(self, response: adapter_pb2.ReadRecordResponse) -> adapter_pb2.ReadRecordResponse:
        response.record.ref.chain_id = self.chain_id
        return response

    async def describe(self) -> adapter_pb2.DescribeResponse:
        stub = self._open()
        return await self._unary(
            "Describe",
            lambda: stub.Describe(adapter_pb2.DescribeRequest(), timeout=self.timeout),
            adapter_pb2.DescribeResponse,
        )

    async def head(self) -> chains_pb2.ChainHead:
        stub = self._open()
        resp = await self._unary(
            "GetHead",
            lambda: stub.GetHead(adapter_pb2.GetHeadRequest(), timeout=self.timeout),
            adapter_pb2.GetHeadResponse,
        )
        if not resp.HasField("head"):
            raise AdapterError(f"remote adapter {self.address} answered GetHead without a head")
        return resp.head

    async def read(
        self, namespace: str, key: str, at_height: int = 0
    ) -> adapter_pb2.ReadRecordResponse:
        stub = self._open()
        req = adapter_pb2.ReadRecordRequest(namespace=namespace, key=key, at_height=at_height)
        resp = await self._unary(
            f"ReadRecord {namespace}/{key[:80]}",
            lambda: stub.ReadRecord(req, timeout=self.timeout),
            adapter_pb2.ReadRecordResponse,
        )
        return self._own(resp)

    async def scan(
        self, namespace: str, from_height: int, to_height: int = 0, follow: bool = False
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        stub = self._open()
        req = adapter_pb2.ScanRequest(
            namespace=namespace, from_height=from_height, to_height=to_height, follow=follow
        )
        call = stub.Scan(req)
        stream = call.__aiter__()
        framing = _Framing(self.address, from_height)
        try:
            while True:
                try:
                    if follow:
                        event = await stream.__anext__()
                    else:
                        event = await asyncio.wait_for(stream.__anext__(), self.timeout)
                except StopAsyncIteration:
                    framing.end()
                    return
                except TimeoutError:
                    raise ChainUnavailable(
                        f"remote adapter {self.address} sent nothing for {self.timeout:g}s "
                        "during a scan"
                    ) from None
                except grpc.aio.AioRpcError as exc:
                    if exc.code() == grpc.StatusCode.UNAVAILABLE:
                        await self._reset()
                    raise self._error("Scan", exc) from None
                if not isinstance(event, adapter_pb2.ScanResponse):
                    raise AdapterError(
                        f"remote adapter {self.address} sent scan bytes that are not a ScanResponse"
                    )
                framing.check(event)
                if event.HasField("record"):
                    self._own(event.record)
                yield event
        finally:
            call.cancel()

    async def submit(self, delivery: relay_pb2.Delivery) -> adapter_pb2.Submission:
        stub = self._open()
        req = adapter_pb2.SubmitRequest(delivery=delivery)
        resp = await self._unary(
            f"Submit {delivery.delivery_id[:80]}",
            lambda: stub.Submit(req, timeout=self.timeout),
            adapter_pb2.SubmitResponse,
        )
        return _submission(self.address, resp, delivery.delivery_id)

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        stub = self._open()
        req = adapter_pb2.GetSubmissionRequest(delivery_id=delivery_id)
        resp = await self._unary(
            f"GetSubmission {delivery_id[:80]}",
            lambda: stub.GetSubmission(req, timeout=self.timeout),
            adapter_pb2.GetSubmissionResponse,
        )
        return _submission(self.address, resp, delivery_id)

    async def close(self) -> None:
        await self._reset()


def _submission(
    address: str,
    resp: adapter_pb2.SubmitResponse | adapter_pb2.GetSubmissionResponse,
    delivery_id: str,
) -> adapter_pb2.Submission:
    got = resp.submission
    if got.delivery_id != delivery_id:
        raise AdapterError(
            f"remote adapter {address} answered about delivery {got.delivery_id[:80]!r} "
            f"when asked about {delivery_id[:80]!r}"
        )
    return got


class _Framing:
    """Checks the scan contract: each block's records, then its mark, heights in order."""

    def __init__(self, address: str, from_height: int) -> None:
        self._who = f"remote adapter {address}"
        self._next = from_height
        self._open_height: int | None = None

    def check(self, event: adapter_pb2.ScanResponse) -> None:
        kind = event.WhichOneof("event")
        if kind == "record":
            height = event.record.record.block_height
            if height < self._next or (self._open_height not in (None, height)):
                raise AdapterError(
                    f"{self._who} sent a record of block {height} while block "
                    f"{self._open_height if self._open_height is not None else self._next} "
                    "was open"
                )
            self._open_height = height
        elif kind == "block":
            height = event.block.height
            if height < self._next or (
                self._open_height is not None and height != self._open_height
            ):
                expected = self._next if self._open_height is None else self._open_height
                raise AdapterError(
                    f"{self._who} sent the mark of block {height} out of order "
                    f"(expected {expected} or later)"
                )
            self._next, self._open_height = height + 1, None
        else:
            raise AdapterError(f"{self._who} sent an empty scan event")

    def end(self) -> None:
        if self._open_height is not None:
            raise AdapterError(
                f"{self._who} ended the scan inside block {self._open_height} (no block mark)"
            )
