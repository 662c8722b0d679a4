"""Serves any in-process Adapter as tonglian.v1.Adapter over gRPC, so it can run out of process.

`AdapterServicer` answers each RPC by calling the adapter; typed errors become
the statuses of `adapters.statuses`, anything else INTERNAL with the details
logged here, never sent. `start_server` adds gRPC health so callers can wait
for readiness. `tonglian adapter serve KIND` is this, for any installed adapter.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, NoReturn, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from adapters.base import Adapter, AdapterError
from adapters.remote import MAX_MESSAGE_BYTES
from adapters.statuses import status_of
from adapters.tls import TlsFiles, server_credentials
from tonglian.v1 import adapter_pb2, adapter_pb2_grpc

log = logging.getLogger("tonglian.adapter")

T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]
SERVICE_NAME = "tonglian.v1.Adapter"
MAX_DETAIL_CHARS = 2000


async def _abort(context: Context, method: str, exc: BaseException) -> NoReturn:
    if isinstance(exc, AdapterError):
        text = str(exc) or type(exc).__name__
        await context.abort(status_of(exc), text[:MAX_DETAIL_CHARS])
    log.error("adapter failed in %s", method, exc_info=exc)
    await context.abort(
        grpc.StatusCode.INTERNAL, f"adapter failed in {method}; its server logged the details"
    )
    raise AssertionError("unreachable: abort raises")


class AdapterServicer(adapter_pb2_grpc.AdapterServicer):
    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter

    async def _answer(self, method: str, call: Awaitable[T], context: Context) -> T:
        try:
            return await call
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _abort(context, method, exc)

    async def Describe(
        self, request: adapter_pb2.DescribeRequest, context: Context
    ) -> adapter_pb2.DescribeResponse:
        return await self._answer("Describe", self.adapter.describe(), context)

    async def GetHead(
        self, request: adapter_pb2.GetHeadRequest, context: Context
    ) -> adapter_pb2.GetHeadResponse:
        head = await self._answer("GetHead", self.adapter.head(), context)
        return adapter_pb2.GetHeadResponse(head=head)

    async def ReadRecord(
        self, request: adapter_pb2.ReadRecordRequest, context: Context
    ) -> adapter_pb2.ReadRecordResponse:
        return await self._answer(
            "ReadRecord",
            self.adapter.read(request.namespace, request.key, request.at_height),
            context,
        )

    async def Scan(
        self, request: adapter_pb2.ScanRequest, context: Context
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        stream = self.adapter.scan(
            request.namespace, request.from_height, request.to_height, request.follow
        )
        try:
            async for event in stream:
                yield event
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _abort(context, "Scan", exc)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def Submit(
        self, request: adapter_pb2.SubmitRequest, context: Context
    ) -> adapter_pb2.SubmitResponse:
        got = await self._answer("Submit", self.adapter.submit(request.delivery), context)
        return adapter_pb2.SubmitResponse(submission=got)

    async def GetSubmission(
        self, request: adapter_pb2.GetSubmissionRequest, context: Context
    ) -> adapter_pb2.GetSubmissionResponse:
        got = await self._answer(
            "GetSubmission", self.adapter.submission(request.delivery_id), context
        )
        return adapter_pb2.GetSubmissionResponse(submission=got)


async def start_server(
    adapter: Adapter, listen: str, tls: TlsFiles | None = None
) -> tuple[grpc.aio.Server, int]:
    """Starts serving `adapter` on `listen` (HOST:PORT, port 0 picks one); returns the port."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
    )
    adapter_pb2_grpc.add_AdapterServicer_to_server(AdapterServicer(adapter), server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if tls is not None and tls.enabled:
        port = server.add_secure_port(listen, server_credentials(tls))
    else:
        port = server.add_insecure_port(listen)
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, port
