"""With tracing off (no OTLP endpoint), spans open nothing: no current span changes
hands, nothing is recorded, and an exception still reaches the caller. Tracing on is
tested end to end against a real hub and an OTLP receiver
(tests/integration/observability/test_logs_traces.py)."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from hub.observability import tracing


def test_spans_open_nothing_while_tracing_is_off() -> None:
    assert not tracing.start_tracing("")
    before = trace.get_current_span()
    with tracing.span("relay.deliver", route="r") as inner:
        assert inner is trace.INVALID_SPAN
        assert not inner.is_recording()
        assert trace.get_current_span() is before
        with tracing.server_span("/tonglian.v1.Query/GetRecord", "req-1") as call:
            assert call is trace.INVALID_SPAN
            call.set_attribute("rpc.grpc.status_code", "OK")  # a no-op, not an error
    assert tracing.trace_id() == ""


def test_an_exception_inside_an_off_span_reaches_the_caller() -> None:
    with pytest.raises(ValueError, match="bad record"), tracing.span("verify", kind="evm"):
        raise ValueError("bad record")
