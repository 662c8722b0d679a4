"""The hub's Prometheus metric families, declared once, with bounded label values.

Every family is declared up front (so HELP and TYPE are exported before the first
sample), in a registry of the hub's own. Label values come from closed sets (gRPC
method paths the hub serves, status names, proof kinds, delivery states) or from
what operators register (chain and route ids): never record keys, free text, or who
called (an agency's name is the audit log's, not the scraper's).
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

# `*_created` series double every counter's cardinality and tell nothing a restart
# counter does not.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Delivery states as exported (relay_pb2.DeliveryState); "rejected" were refused for good
# (a forged record, a schema violation, a destination's refusal), never retried.
DELIVERY_STATES = ("pending", "submitted", "confirmed", "failed", "parked", "rejected")
OUTCOMES = ("ok", "rejected")
# Why an adapter call failed (hub/guarded_adapter.py names one of these).
ADAPTER_ERROR_REASONS = (
    "timeout",
    "unreachable",
    "misconfigured",
    "misbehaved",
    "invalid_request",
    "crashed",
)
# Why the HTTP listener closed a connection itself (hub/observability/connection_guard.py).
CONNECTION_CUTS = ("head_timeout", "too_many")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HubMetrics:
    """The families; one instance per hub process (`METRICS`), a fresh one per unit test."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.grpc_requests = Counter(
            "tonglian_grpc_requests",
            "gRPC calls answered, by full method path and gRPC status name.",
            ["method", "code"],
            registry=r,
        )
        self.grpc_seconds = Histogram(
            "tonglian_grpc_request_seconds",
            "Time to answer a gRPC call, by full method path.",
            ["method"],
            registry=r,
        )
        self.verifications = Counter(
            "tonglian_verifications",
            "Proofs verified by the hub, by proof kind and outcome (ok or rejected).",
            ["kind", "outcome"],
            registry=r,
        )
        self.verification_seconds = Histogram(
            "tonglian_verification_seconds",
            "Time to verify one proof (a batch's time spread over its records), by proof kind.",
            ["kind"],
            registry=r,
        )
        self.route_backlog = Gauge(
            "tonglian_route_backlog",
            "Deliveries of a route not yet confirmed: pending plus submitted.",
            ["route"],
            registry=r,
        )
        self.route_oldest_pending = Gauge(
            "tonglian_route_oldest_pending_seconds",
            "Age of a route's oldest pending or submitted delivery (0 when none).",
            ["route"],
            registry=r,
        )
        self.deliveries = Gauge(
            "tonglian_deliveries",
            "Deliveries in the store, by state.",
            ["state"],
            registry=r,
        )
        # By method, never by caller: who was refused is the audit log's to tell, and an
        # agency's name is not for whoever may read the metrics.
        self.policy_denials = Counter(
            "tonglian_policy_denials",
            "Calls refused by the access policy (PERMISSION_DENIED), by full method path.",
            ["method"],
            registry=r,
        )
        self.audit_events = Counter(
            "tonglian_audit_events",
            "Events appended to the audit log by this process.",
            registry=r,
        )
        self.audit_head = Gauge(
            "tonglian_audit_head_sequence",
            "Sequence number of the audit log's last event.",
            registry=r,
        )
        self.audit_last_anchor = Gauge(
            "tonglian_audit_last_anchor_timestamp_seconds",
            "Unix time the audit log's head was last anchored on a chain (0: never).",
            registry=r,
        )
        self.adapter_errors = Counter(
            "tonglian_adapter_errors",
            "Adapter calls that failed, by chain and reason.",
            ["chain", "reason"],
            registry=r,
        )
        self.chain_final_height = Gauge(
            "tonglian_chain_final_height",
            "Highest final block of a chain, as its adapter last reported it.",
            ["chain"],
            registry=r,
        )
        self.http_connections_cut = Counter(
            "tonglian_http_connections_cut",
            "Connections the HTTP listener closed itself: no whole request head in time "
            "(head_timeout) or one connection too many (too_many, the oldest waiting one).",
            ["reason"],
            registry=r,
        )
        for state in DELIVERY_STATES:
            self.deliveries.labels(state=state).set(0)
        for reason in CONNECTION_CUTS:
            self.http_connections_cut.labels(reason=reason)

    def set_routes(self, backlogs: dict[str, tuple[int, float]]) -> None:
        """Replaces the per-route gauges: route id -> (backlog, oldest pending age)."""
        self.route_backlog.clear()
        self.route_oldest_pending.clear()
        for route, (backlog, oldest) in backlogs.items():
            self.route_backlog.labels(route=route).set(backlog)
            self.route_oldest_pending.labels(route=route).set(oldest)

    def set_chains(self, final_heights: dict[str, int]) -> None:
        """Replaces the per-chain height gauge with the chains registered now."""
        self.chain_final_height.clear()
        for chain, height in final_heights.items():
            self.chain_final_height.labels(chain=chain).set(height)

    def set_deliveries(self, counts: dict[str, int]) -> None:
        for state in DELIVERY_STATES:
            self.deliveries.labels(state=state).set(counts.get(state, 0))


METRICS = HubMetrics()
