"""Hub resident memory holding 100,000 stored deliveries and 100 routes, against an idle hub.

The store is seeded directly (SqliteStore.commit_block, as route workers write it):
one custom ledger registered, 100 active routes scanning it, 100,000 confirmed
deliveries of 1 KiB records plus 1,000 parked ones (what an operator lists). Both
hubs are real `tonglian serve` processes; RSS is read from /proc after they settle
(main process; the verification pool's workers are given apart).

    .venv/bin/python bench/hub_memory.py [--deliveries 100000] [--routes 100] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from google.protobuf import json_format  # noqa: E402

from bench.machine import describe  # noqa: E402
from bench.stats import ratio  # noqa: E402
from devnets.custom.network import CustomDevnet  # noqa: E402
from hub.store.sqlite import SqliteStore  # noqa: E402
from tonglian.v1 import chains_pb2, records_pb2, relay_pb2  # noqa: E402
from tonglian_tools.hub_process import HubProcess  # noqa: E402

SETTLE = 4.0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children_rss_kib(pid: int) -> int:
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(") ", 1)[1].split()[1]) == pid:
                    total += rss_kib(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return total


async def seed(data_dir: Path, chain: chains_pb2.Chain, deliveries: int, routes: int) -> None:
    store = SqliteStore(data_dir / "hub.sqlite3")
    await store.open()
    try:
        await store.add_chain(chain)
        value = json.dumps({"pad": "x" * 1000}).encode()
        per_route = deliveries // routes
        for r in range(routes):
            route = relay_pb2.Route(
                route_id=f"route-{r:03d}",
                source_chain_id=chain.chain_id,
                source_namespace=f"ns-{r:03d}",
                destination_chain_id=chain.chain_id,
                destination_namespace=f"copy-{r:03d}",
                state=relay_pb2.ROUTE_STATE_ACTIVE,
            )
            await store.add_route(route)
            batch = []
            for i in range(per_route + 10):
                parked = i >= per_route
                batch.append(
                    relay_pb2.Delivery(
                        delivery_id=f"{r:03d}{i:061d}",
                        route_id=route.route_id,
                        record=records_pb2.Record(
                            ref=records_pb2.RecordRef(
                                chain_id=chain.chain_id,
                                namespace=route.source_namespace,
                                key=f"k{i}",
                            ),
                            value=value,
                            schema="bench.payload/v1",
                            version=1,
                            tx_id=f"tx{r}-{i}",
                        ),
                        proof_digest=bytes(32),
                        destination_chain_id=chain.chain_id,
                        destination_namespace=route.destination_namespace,
                        state=relay_pb2.DELIVERY_STATE_PARKED
                        if parked
                        else relay_pb2.DELIVERY_STATE_CONFIRMED,
                        last_error="destination refused the record" if parked else "",
                    )
                )
            # Height 0 with an empty hash: the worker rescans the (empty) source from 0.
            await store.commit_block(route.route_id, batch, 0, b"")
    finally:
        await store.close()


async def measure(hub: HubProcess) -> dict[str, int]:
    hub.start()
    await hub.wait_serving()
    await asyncio.sleep(SETTLE)
    assert hub.proc is not None
    return {"rss_kib": rss_kib(hub.proc.pid), "pool_rss_kib": children_rss_kib(hub.proc.pid)}


async def run(deliveries: int, routes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        state = Path(tmp)
        devnet = CustomDevnet(state / "custom")
        idle_hub = HubProcess(state / "idle")
        loaded_hub = HubProcess(state / "loaded")
        try:
            info = await devnet.up(lambda _: None)
            chain = json_format.ParseDict(info.chain, chains_pb2.Chain())
            idle = await measure(idle_hub)
            idle_hub.stop()
            await seed(state / "loaded", chain, deliveries, routes)
            db_bytes = (state / "loaded" / "hub.sqlite3").stat().st_size
            loaded = await measure(loaded_hub)
        finally:
            idle_hub.stop()
            loaded_hub.stop()
            await devnet.down()
    return {
        "machine": describe(),
        "deliveries": deliveries,
        "routes": routes,
        "store_mib": round(db_bytes / 2**20, 1),
        "idle_rss_mib": round(idle["rss_kib"] / 1024, 1),
        "loaded_rss_mib": round(loaded["rss_kib"] / 1024, 1),
        "loaded_vs_idle": ratio(loaded["rss_kib"], idle["rss_kib"], 2),
        "pool_rss_mib": round(loaded["pool_rss_kib"] / 1024, 1),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--deliveries", type=int, default=100_000)
    p.add_argument("--routes", type=int, default=100)
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args(argv)
    r = asyncio.run(run(args.deliveries, args.routes))
    if args.json:
        print(json.dumps(r))
        return 0
    print(
        f"hub RSS with {r['deliveries']} stored deliveries ({r['store_mib']} MiB store) and "
        f"{r['routes']} active routes: {r['loaded_rss_mib']} MiB vs idle {r['idle_rss_mib']} MiB "
        f"= x{r['loaded_vs_idle']} (verification pool: {r['pool_rss_mib']} MiB more)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
