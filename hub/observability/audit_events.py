"""What the audit log tells operators: events counted, the head, relay throughput;
and the trace id each event carries, to join it to the call's spans and log line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.observability.activity import DELIVERIES
from hub.observability.metrics import METRICS
from hub.observability.tracing import trace_id
from tonglian.v1 import audit_pb2


def with_trace_id(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """`detail` plus the current trace id (when tracing is on and the caller set none)."""
    out = dict(detail or {})
    tid = trace_id()
    if tid:
        out.setdefault("trace_id", tid)
    return out


def appended(event: audit_pb2.AuditEvent) -> None:
    METRICS.audit_events.inc()
    METRICS.audit_head.set(event.sequence)
    if event.action == "relay.deliver" and event.outcome == "ok":
        DELIVERIES.add()
    elif event.action == "audit.anchor" and event.outcome == "ok":
        METRICS.audit_last_anchor.set(event.time.seconds + event.time.nanos / 1e9)
