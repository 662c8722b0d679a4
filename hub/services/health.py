"""grpc.health.v1.Health for the hub, as coroutines the access interceptor can guard.

grpc's own servicers will not do: the threaded one blocks a worker thread per Watch and
the asyncio one writes through the context, so neither yields its answers to a wrapper
that must end the stream the moment the caller's certificate lapses. This one keeps the
same `set` that the hub calls, and its Watch is an async generator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

Status = int  # a HealthCheckResponse.ServingStatus value


class HubHealth(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self._status: dict[str, Status] = {"": health_pb2.HealthCheckResponse.SERVING}
        # Set and replaced on every change: each watcher waits on the current one.
        self._changed = asyncio.Event()

    def set(self, service: str, status: Status) -> None:
        """The serving status of `service` ("" for the whole hub); wakes its watchers."""
        self._status[service] = status
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> health_pb2.HealthCheckResponse:
        status = self._status.get(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        """The service's status now and after each change (SERVICE_UNKNOWN while unset)."""
        last: Status | None = None
        while True:
            changed = self._changed
            status = self._status.get(
                request.service, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
            )
            if status != last:
                last = status
                yield health_pb2.HealthCheckResponse(status=status)
            await changed.wait()
