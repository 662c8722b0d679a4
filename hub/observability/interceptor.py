"""Observes every tonglian.v1 call: a metric sample, a span, and the call's log line.

Installed first (outermost), so it also sees the calls the access interceptor
refuses before any handler runs (UNAUTHENTICATED, PERMISSION_DENIED on operator
methods, INVALID_ARGUMENT for requests that do not parse). Only methods the hub
serves reach it, so the `method` label stays a closed set.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import trace

from hub.audit.call import peek_call
from hub.observability import logs
from hub.observability.activity import QUERIES
from hub.observability.metrics import METRICS, HubMetrics
from hub.observability.tracing import server_span
from hub.services.status import Context

log = logging.getLogger("tonglian.access")

PREFIX = "/tonglian.v1."
QUERY_PREFIX = "/tonglian.v1.Query/"


def status_name(context: Context) -> str:
    """The gRPC status the call ended with, by name ("OK" when none was set)."""
    code = context.code()
    if code is None:
        return "OK"
    if isinstance(code, grpc.StatusCode):
        return code.name
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return status.name
    return "UNKNOWN"


class ObservingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    def __init__(self, metrics: HubMetrics = METRICS) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or not method.startswith(PREFIX):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _begin(self, method: str) -> logs.CallFields:
        fields = logs.CallFields(request_id=secrets.token_hex(8), method=method)
        logs.enter(fields)
        return fields

    def _end(self, fields: logs.CallFields, span: trace.Span, code: str, started: float) -> None:
        method = fields.method
        elapsed = time.perf_counter() - started
        self._metrics.grpc_requests.labels(method=method, code=code).inc()
        self._metrics.grpc_seconds.labels(method=method).observe(elapsed)
        call = peek_call()
        if call is not None:
            fields.agency = call.principal.agency
        if code == "PERMISSION_DENIED":
            self._metrics.policy_denials.labels(method=method).inc()
        if method.startswith(QUERY_PREFIX):
            QUERIES.add()
        fields.outcome = code
        span.set_attribute("rpc.grpc.status_code", code)
        span.set_attribute("tonglian.agency", fields.agency)
        if code != "OK":
            span.set_status(trace.StatusCode.ERROR, code)
        log.info("%s %s in %.1f ms", method, code, elapsed * 1000)

    def _unary(
        self, method: str, behavior: Callable[[Any, Context], Awaitable[Any]]
    ) -> Callable[[Any, Context], Awaitable[Any]]:
        async def wrapper(request: Any, context: Context) -> Any:
            started = time.perf_counter()
            fields = self._begin(method)
            with server_span(method, fields.request_id) as span:
                code = "UNKNOWN"
                try:
                    response = await behavior(request, context)
                    code = status_name(context)
                    return response
                except grpc.aio.AbortError:
                    code = status_name(context)
                    raise
                except asyncio.CancelledError:
                    code = "CANCELLED"
                    raise
                finally:
                    self._end(fields, span, code, started)

        return wrapper

    def _stream(
        self, method: str, behavior: Callable[[Any, Context], AsyncIterator[Any]]
    ) -> Callable[[Any, Context], AsyncIterator[Any]]:
        async def wrapper(request: Any, context: Context) -> AsyncIterator[Any]:
            started = time.perf_counter()
            fields = self._begin(method)
            with server_span(method, fields.request_id) as span:
                code = "UNKNOWN"
                try:
                    async for item in behavior(request, context):
                        yield item
                    code = status_name(context)
                except grpc.aio.AbortError:
                    code = status_name(context)
                    raise
                except (asyncio.CancelledError, GeneratorExit):
                    code = "CANCELLED"
                    raise
                finally:
                    self._end(fields, span, code, started)

        return wrapper
