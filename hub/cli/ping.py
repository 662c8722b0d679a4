"""`tonglian ping [--wait SECONDS]`: does the hub answer this client, and as whom.

A script that starts `tonglian serve &` runs it before its first call: with `--wait`
it retries while nothing listens yet (the hub is still starting), and fails at once
on anything else (a refused certificate, a wrong CA), which waiting would not fix.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from hub.cli import exit_codes
from hub.cli.connection import client, hub_address
from hub.cli.output import print_json
from tonglian_client.errors import HubUnreachable

RETRY_SECONDS = 0.5


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ping", help="check that the hub answers (and wait while it starts)")
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="retry for up to SECONDS while nothing listens at the hub's address (default: 0)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + max(args.wait, 0.0)
    while True:
        try:
            async with client(args) as hub:
                chains = await hub.list_chains()
            break
        except HubUnreachable:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(RETRY_SECONDS)
    address = hub_address(args.hub)
    if args.json:
        print_json({"hub": address, "chains": len(chains)})
    else:
        print(f"the hub at {address} answers ({len(chains)} chains visible to you)")
    return exit_codes.OK
