"""`tonglian routes ...` and `tonglian deliveries ...`: the relay from the command line."""

from __future__ import annotations

import argparse
import json
import re

from hub.cli import exit_codes
from hub.cli.connection import client
from hub.cli.output import print_json, table, to_json
from hub.errors import InvalidInput
from tonglian.v1 import relay_pb2
from tonglian_client.client import AsyncClient
from tonglian_client.errors import NotFound

# What `deliveries list` shows of an id; `show` and `retry` take it (or any unique prefix).
SHOWN_ID = 16
# At most this many candidates are named when a prefix is ambiguous.
CANDIDATES = 10
_EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")

STATES = {
    name.removeprefix("DELIVERY_STATE_").lower(): value
    for name, value in relay_pb2.DeliveryState.items()
    if value
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = sub.add_parser("routes", help="forward records between chains")
    rsub = r.add_subparsers(dest="routes_command", metavar="ACTION", required=True)
    add = rsub.add_parser("add", help="create a route")
    add.add_argument("source", metavar="CHAIN[/NAMESPACE]", help="where records come from")
    add.add_argument("destination", metavar="CHAIN/NAMESPACE", help="where they go")
    add.add_argument("--route-id", default="")
    add.add_argument("--schema", default="", help="forward only records of this schema")
    add.add_argument("--key-prefix", default="", help="forward only keys with this prefix")
    add.add_argument("--start-height", type=int, default=0, help="first source block to scan")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=run_add)
    for name, fn in (
        ("list", run_list),
        ("show", run_show),
        ("pause", run_pause),
        ("resume", run_resume),
        ("rm", run_rm),
    ):
        p = rsub.add_parser(name, help=f"{name} route(s)")
        if name != "list":
            p.add_argument("route_id")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=fn)

    d = sub.add_parser("deliveries", help="deliveries of the relay")
    dsub = d.add_subparsers(dest="deliveries_command", metavar="ACTION", required=True)
    ls = dsub.add_parser("list", help="list deliveries")
    ls.add_argument("--route", default="")
    ls.add_argument("--state", choices=sorted(STATES), help="only deliveries in this state")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_deliveries)
    for name, fn in (("show", run_delivery), ("retry", run_retry)):
        p = dsub.add_parser(name, help=f"{name} a delivery")
        p.add_argument(
            "delivery_id",
            metavar="DELIVERY_ID",
            help="the id, or a unique prefix of it (`deliveries list` shows 16 characters)",
        )
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=fn)
    w = dsub.add_parser("watch", help="stream delivery updates")
    w.add_argument("--route", default="")
    w.add_argument("--json", action="store_true")
    w.set_defaults(func=run_watch)


def _split(text: str, need_namespace: bool) -> tuple[str, str]:
    chain, _, namespace = text.partition("/")
    if not chain or (need_namespace and not namespace):
        raise InvalidInput(f"{text!r} must be CHAIN/NAMESPACE")
    return chain, namespace


def check_destination_namespace(chain: str, namespace: str) -> None:
    """Refuses a namespace that looks like an EVM address but is not one: a placeholder
    copied from an example (`0xInboxAddress`) would otherwise make a route that parks
    every delivery."""
    if namespace[:2].lower() == "0x" and not _EVM_ADDRESS.fullmatch(namespace):
        raise InvalidInput(
            f"destination {chain}/{namespace}: {namespace!r} is not an EVM address (0x and "
            "40 hex digits); give the destination chain's inbox contract address "
            "(`tonglian devnet up evm` prints the devnet's)"
        )


async def resolve_delivery(hub: AsyncClient, given: str) -> str:
    """The full delivery id that `given` names: itself, or the one id it is a prefix of
    (`deliveries list` shows the first 16 characters). NotFound when none; InvalidInput
    naming the candidates when several share the prefix."""
    try:
        return (await hub.get_delivery(given)).delivery_id
    except NotFound:
        if not given:
            raise
        matches = [
            d.delivery_id for d in await hub.list_deliveries() if d.delivery_id.startswith(given)
        ]
        if not matches:
            raise
    if len(matches) > 1:
        shown = ", ".join(sorted(matches)[:CANDIDATES])
        more = f" and {len(matches) - CANDIDATES} more" if len(matches) > CANDIDATES else ""
        raise InvalidInput(
            f"delivery id prefix {given!r} is ambiguous: it starts {len(matches)} deliveries "
            f"({shown}{more}); give more of the id"
        )
    return matches[0]


def _state(value: int, enum: str) -> str:
    return str(
        value
        and relay_pb2.DESCRIPTOR.enum_types_by_name[enum]
        .values_by_number[value]
        .name.split("_STATE_")[1]
        .lower()
    )


def _route_row(route: relay_pb2.Route) -> list[str]:
    b = route.backlog
    return [
        route.route_id,
        f"{route.source_chain_id}/{route.source_namespace or '*'}",
        f"{route.destination_chain_id}/{route.destination_namespace}",
        _state(route.state, "RouteState"),
        str(route.checkpoint_height) if route.checkpoint_block_hash else "-",
        f"{b.pending + b.submitted}",
        str(b.parked),
        f"{b.oldest_pending_age_seconds:.1f}s",
        f"{route.lease_holder}@{route.lease_epoch}" if route.lease_holder else "-",
    ]


ROUTE_HEADERS = [
    "route",
    "source",
    "destination",
    "state",
    "checkpoint",
    "backlog",
    "parked",
    "oldest",
    "holder@epoch",
]


def _print_route(route: relay_pb2.Route, as_json: bool) -> None:
    if as_json:
        print_json(to_json(route))
    else:
        print(table(ROUTE_HEADERS, [_route_row(route)]))


async def run_add(args: argparse.Namespace) -> int:
    src_chain, src_ns = _split(args.source, False)
    dst_chain, dst_ns = _split(args.destination, True)
    check_destination_namespace(dst_chain, dst_ns)
    route = relay_pb2.Route(
        route_id=args.route_id,
        source_chain_id=src_chain,
        source_namespace=src_ns,
        destination_chain_id=dst_chain,
        destination_namespace=dst_ns,
        schema=args.schema,
        key_prefix=args.key_prefix,
        start_height=args.start_height,
    )
    async with client(args) as hub:
        created = await hub.create_route(route)
    _print_route(created, args.json)
    return exit_codes.OK


async def run_list(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        routes = await hub.list_routes()
    if args.json:
        print_json([to_json(r) for r in routes])
    elif routes:
        print(table(ROUTE_HEADERS, [_route_row(r) for r in routes]))
    else:
        print("no routes; add one with `tonglian routes add`")
    return exit_codes.OK


def _print_change(route: relay_pb2.Route, as_json: bool) -> int:
    _print_route(route, as_json)
    return exit_codes.OK


async def run_show(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        return _print_change(await hub.get_route(args.route_id), args.json)


async def run_pause(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        return _print_change(await hub.pause_route(args.route_id), args.json)


async def run_resume(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        return _print_change(await hub.resume_route(args.route_id), args.json)


async def run_rm(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        await hub.delete_route(args.route_id)
    if args.json:
        print_json({"deleted": args.route_id})
    else:
        print(f"deleted route {args.route_id}")
    return exit_codes.OK


def _delivery_row(d: relay_pb2.Delivery) -> list[str]:
    r = d.record
    return [
        d.delivery_id[:SHOWN_ID],
        d.route_id,
        f"{r.ref.chain_id}/{r.ref.namespace}/{r.ref.key}@{r.version}",
        _state(d.state, "DeliveryState"),
        str(d.attempts),
        d.destination_tx_id[:16],
        d.last_error[:60],
    ]


DELIVERY_HEADERS = ["delivery", "route", "source record", "state", "attempts", "dest tx", "error"]


async def run_deliveries(args: argparse.Namespace) -> int:
    state = STATES[args.state] if args.state else relay_pb2.DELIVERY_STATE_UNSPECIFIED
    async with client(args) as hub:
        found = await hub.list_deliveries(route_id=args.route, state=state, limit=args.limit)
    if args.json:
        for d in found:
            print(json.dumps(to_json(d), ensure_ascii=False))
    elif found:
        print(table(DELIVERY_HEADERS, [_delivery_row(d) for d in found]))
    else:
        print("no deliveries match")
    return exit_codes.OK


def _print_delivery(delivery: relay_pb2.Delivery, as_json: bool) -> int:
    if as_json:
        print_json(to_json(delivery))
    else:
        print(table(DELIVERY_HEADERS, [_delivery_row(delivery)]))
    return exit_codes.OK


async def run_delivery(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        delivery_id = await resolve_delivery(hub, args.delivery_id)
        return _print_delivery(await hub.get_delivery(delivery_id), args.json)


async def run_retry(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        delivery_id = await resolve_delivery(hub, args.delivery_id)
        return _print_delivery(await hub.retry_delivery(delivery_id), args.json)


async def run_watch(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        async for delivery in hub.watch_deliveries(route_id=args.route):
            if args.json:
                print(json.dumps(to_json(delivery), ensure_ascii=False), flush=True)
            else:
                print("  ".join(_delivery_row(delivery)), flush=True)
    return exit_codes.OK
