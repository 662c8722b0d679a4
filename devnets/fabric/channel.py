"""Joining the peers to the channel, and asking a peer how high its chain is."""

from __future__ import annotations

import asyncio
import json

from devnets.fabric.binaries import FabricRelease
from devnets.fabric.commands import run
from devnets.fabric.layout import NetworkPlan, OrgPlan
from devnets.fabric.peers import admin_environment


async def join_peers(release: FabricRelease, plan: NetworkPlan) -> None:
    await asyncio.gather(
        *(
            run(
                [release.command("peer"), "channel", "join", "-b", str(plan.genesis_block)],
                env=admin_environment(plan, org),
            )
            for org in plan.orgs
        )
    )


async def height(release: FabricRelease, plan: NetworkPlan, org: OrgPlan) -> int:
    """Number of blocks the peer holds (`peer channel getinfo`)."""
    out = await run(
        [release.command("peer"), "channel", "getinfo", "-c", plan.channel],
        env=admin_environment(plan, org),
        deadline=10,
    )
    info = json.loads(out[out.index("{") :])
    return int(info["height"])
