"""Rows of the relay tables as protobuf messages: one mapping, shared by every store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tonglian.v1 import relay_pb2

if TYPE_CHECKING:  # base imports this module
    from hub.store.base import DeliveryUpdate

# A route with its lease (LEFT JOIN: a route nobody ever leased has none); the
# caller appends its WHERE clause.
ROUTE_SELECT = (
    "SELECT r.route, r.state, r.checkpoint_height, r.checkpoint_hash,"
    " COALESCE(l.holder, ''), COALESCE(l.epoch, 0), COALESCE(l.expires_at, 0)"
    " FROM routes r LEFT JOIN route_leases l ON l.route_id = r.route_id"
)
# A delivery's state row with its record (the record is written once, apart: a state
# change rewrites only the small row); every read of whole deliveries selects
# DELIVERY_COLUMNS from DELIVERY_TABLES.
DELIVERY_TABLES = (
    "deliveries JOIN delivery_records ON delivery_records.delivery_id = deliveries.delivery_id"
)
DELIVERY_COLUMNS = (
    "delivery_records.delivery, deliveries.state, deliveries.attempts, deliveries.last_error,"
    " deliveries.dest_tx_id, deliveries.dest_block_height, deliveries.created_at,"
    " deliveries.updated_at, deliveries.rejection"
)
# States a delivery leaves no more on its own (an operator may retry some).
UNFINISHED = (relay_pb2.DELIVERY_STATE_PENDING, relay_pb2.DELIVERY_STATE_SUBMITTED)


@dataclass(frozen=True)
class Backlog:
    pending: int
    submitted: int
    parked: int
    confirmed: int
    rejected: int
    oldest_pending_age: float


def route_from_row(row: Sequence[Any], now: float) -> relay_pb2.Route:
    """A ROUTE_SELECT row; the holder is shown only while its lease is live at `now`."""
    route = relay_pb2.Route.FromString(bytes(row[0]))
    route.state = relay_pb2.RouteState.ValueType(int(row[1]))
    route.checkpoint_height = int(row[2])
    route.checkpoint_block_hash = bytes(row[3])
    route.lease_epoch = int(row[5])
    if float(row[6]) > now:
        route.lease_holder = str(row[4])
    return route


def update_params(u: DeliveryUpdate, now: float) -> tuple[Any, ...]:
    """`u` as the parameters of every store's UPDATE of a delivery: state, attempts,
    next_attempt_at, last_error, dest_tx_id, dest_block_height, updated_at (`now`),
    rejection, then the delivery_id of its WHERE clause."""
    return (
        u.state,
        u.attempts,
        float(u.next_attempt_at),
        u.last_error,
        u.dest_tx_id,
        u.dest_block_height,
        now,
        u.rejection,
        u.delivery_id,
    )


def delivery_from_row(row: Sequence[Any]) -> relay_pb2.Delivery:
    d = relay_pb2.Delivery.FromString(bytes(row[0]))
    d.state = relay_pb2.DeliveryState.ValueType(int(row[1]))
    d.attempts = int(row[2])
    d.last_error = str(row[3])
    d.destination_tx_id = str(row[4])
    d.destination_block_height = int(row[5])
    d.created_at.FromDatetime(datetime.fromtimestamp(float(row[6]), UTC))
    d.updated_at.FromDatetime(datetime.fromtimestamp(float(row[7]), UTC))
    d.rejection = relay_pb2.Rejection.ValueType(int(row[8]))
    return d


def order_key(d: relay_pb2.Delivery) -> str:
    """What per-key order is kept over: one source key into one destination namespace.

    Versions of one key from one source are comparable; the deliverer applies them
    in version order, and the destination inbox refuses an older one."""
    ref = d.record.ref
    parts = (d.destination_chain_id, d.destination_namespace, ref.chain_id, ref.namespace, ref.key)
    return "\x00".join(parts)
