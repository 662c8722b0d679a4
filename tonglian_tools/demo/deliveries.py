"""Follows the demo's routes until each delivery is final, as an operator would watch them."""

from __future__ import annotations

import asyncio
import time

import grpc

from tonglian.v1 import relay_pb2, relay_pb2_grpc

FINAL = (
    relay_pb2.DELIVERY_STATE_CONFIRMED,
    relay_pb2.DELIVERY_STATE_PARKED,
    relay_pb2.DELIVERY_STATE_REJECTED,
    relay_pb2.DELIVERY_STATE_SUPERSEDED,
)


async def create_route(
    channel: grpc.aio.Channel,
    route_id: str,
    source: tuple[str, str],
    destination: tuple[str, str],
    schema: str,
) -> relay_pb2.Route:
    resp = await relay_pb2_grpc.RelayStub(channel).CreateRoute(
        relay_pb2.CreateRouteRequest(
            route=relay_pb2.Route(
                route_id=route_id,
                source_chain_id=source[0],
                source_namespace=source[1],
                destination_chain_id=destination[0],
                destination_namespace=destination[1],
                schema=schema,
            )
        )
    )
    return resp.route


async def wait_final(
    channel: grpc.aio.Channel, route_ids: list[str], timeout: float
) -> dict[str, relay_pb2.Delivery]:
    """The first delivery of each route once it is confirmed (or parked)."""
    stub = relay_pb2_grpc.RelayStub(channel)
    deadline = time.monotonic() + timeout
    done: dict[str, relay_pb2.Delivery] = {}
    seen: dict[str, str] = {}
    while True:
        for route_id in route_ids:
            if route_id in done:
                continue
            resp = await stub.ListDeliveries(relay_pb2.ListDeliveriesRequest(route_id=route_id))
            final = [d for d in resp.deliveries if d.state in FINAL]
            if final:
                done[route_id] = final[0]
            elif resp.deliveries:
                d = resp.deliveries[0]
                state = relay_pb2.DeliveryState.Name(d.state)
                seen[route_id] = f"{state} after {d.attempts} attempts {d.last_error}".strip()
        if len(done) == len(route_ids):
            return done
        if time.monotonic() > deadline:
            missing = "; ".join(
                f"{r}: {seen.get(r, 'nothing scanned yet')}" for r in route_ids if r not in done
            )
            raise TimeoutError(f"no final delivery after {timeout:.0f}s on route {missing}")
        await asyncio.sleep(0.1)
