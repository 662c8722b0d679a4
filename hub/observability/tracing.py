"""OpenTelemetry spans for calls, adapter calls, verifications and deliveries.

Tracing is off unless an OTLP endpoint is configured (`--otlp-endpoint`,
`otlp_endpoint`, or the standard OTEL_EXPORTER_OTLP_ENDPOINT): then spans are
batched to that collector over OTLP/gRPC. Off, `span` opens nothing (no tracer
lookup, no context switch: the relay opens several spans per record, and the API's
no-op path cost the hub's event loop ~7 % of its time in the relay benchmark) and
`trace_id()` answers "".
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

from opentelemetry import trace

TRACER_NAME = "tonglian.hub"
ENV_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"

_provider: object | None = None
# A proxy: it follows a provider installed later (start_tracing), so it is looked up once.
_tracer = trace.get_tracer(TRACER_NAME)
# What `span` opens while tracing is off: the invalid span, never made current.
_OFF: AbstractContextManager[trace.Span] = nullcontext(trace.INVALID_SPAN)


def endpoint_of(configured: str) -> str:
    """The OTLP endpoint to export to: the setting, else the standard variable, else ""."""
    return configured or os.environ.get(ENV_ENDPOINT, "")


def start_tracing(endpoint: str, service_name: str = "tonglian-hub") -> bool:
    """Installs a tracer provider exporting to `endpoint` (plaintext gRPC for http:// or a
    bare host:port, TLS for https://); False when `endpoint` is empty (tracing stays off)."""
    global _provider
    if not endpoint or _provider is not None:
        return _provider is not None
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    insecure = not endpoint.startswith("https://")
    target = endpoint.removeprefix("http://").removeprefix("https://")
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=target, insecure=insecure), schedule_delay_millis=500
        )
    )
    trace.set_tracer_provider(provider)
    _provider = provider
    return True


def stop_tracing() -> None:
    """Sends the spans still batched; called when the hub stops."""
    shutdown = getattr(_provider, "shutdown", None)
    if shutdown is not None:
        shutdown()


def trace_id() -> str:
    """The current trace's id as 32 hex digits, or "" when nothing is traced."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def span(name: str, **attributes: str | int | bool) -> AbstractContextManager[trace.Span]:
    """A child span of the current one; an exception marks it failed and propagates.
    With tracing off, the invalid span (non-recording), and nothing opened."""
    if _provider is None:
        return _OFF
    return _tracer.start_as_current_span(name, attributes=attributes)


def server_span(method: str, request_id: str) -> AbstractContextManager[trace.Span]:
    """The span of one incoming call (its status is the interceptor's to set); with
    tracing off, the invalid span, and nothing opened."""
    if _provider is None:
        return _OFF
    return _tracer.start_as_current_span(
        method,
        kind=trace.SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "tonglian.request_id": request_id},
        record_exception=False,
        set_status_on_exception=False,
    )
