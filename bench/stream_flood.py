"""Another agency's verified reads and a route's deliveries while one agency floods the hub
with WatchRecords streams, against the same hub idle.

A real `tonglian serve` over mutual TLS, with its default limits, and two custom ledgers
(a route forwards `licences` from one to the other). A child process opens `--streams`
watches (3,000) with one agency's certificates (`--certificates`, 5: enough to fill the
agency's limit), on 10 connections, and holds open those the hub admits while records
keep arriving for them (`--records-per-s`, 5); the hub refuses the rest at once
(RESOURCE_EXHAUSTED).
Meanwhile a second agency's GetRecord p99 is measured against its idle p99 (the aim is
at most ×2), and 20 records written at the source are timed until the route has
confirmed them all, idle and flooded.

    .venv/bin/python bench/stream_flood.py [--streams 3000] [--reads 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from google.protobuf import json_format  # noqa: E402

from bench.hub_memory import rss_kib  # noqa: E402
from bench.machine import describe  # noqa: E402
from bench.stats import p50_p99_ms, ratio  # noqa: E402
from devnets.custom.network import CustomDevnet  # noqa: E402
from devnets.custom.writer import write_record  # noqa: E402
from tonglian.v1 import chains_pb2, query_pb2, relay_pb2  # noqa: E402
from tonglian_client.client import AsyncClient  # noqa: E402
from tonglian_client.credentials import Credentials  # noqa: E402
from tonglian_client.errors import ClientError  # noqa: E402
from tonglian_tools.hub_process import OPERATOR_ORG, HubProcess  # noqa: E402

SCHEMA = "gov.license.business/v1"
PURPOSE = "business-registration"
CONNECTIONS = 10
RELAYED = 20
POLICY = f"""\
version: 1
principals:
  {OPERATOR_ORG}:
    operator: true
    rules: []
  flood-agency:
    rules:
      - name: flood-reads
        chains: [src]
        purposes: [{PURPOSE}]
  reader-agency:
    rules:
      - name: reader-licences
        chains: [src]
        namespaces: [licences]
        purposes: [{PURPOSE}]
"""


def licence(no: str) -> dict[str, str]:
    return {
        "licence_no": no,
        "holder": "flood bench",
        "status": "active",
        "issued_on": "2026-01-05",
    }


# The flooding child: opens the streams and reports how the hub answered them.


async def flood(address: str, certs: list[Credentials], streams: int) -> None:
    clients = [AsyncClient(address, certs[i % len(certs)]) for i in range(CONNECTIONS)]
    refused: dict[str, int] = {}
    flt = query_pb2.RecordFilter(chain_id="src", namespace="flood")
    received = 0

    async def one(i: int) -> None:
        nonlocal received
        try:
            async for _ in clients[i % CONNECTIONS].watch_records(flt, purpose=PURPOSE):
                received += 1
        except ClientError as exc:
            refused[str(exc)] = refused.get(str(exc), 0) + 1

    started = time.monotonic()
    tasks = [asyncio.ensure_future(one(i)) for i in range(streams)]
    last, settled_at = -1, time.monotonic()
    while time.monotonic() - settled_at < 2.0 and time.monotonic() - started < 120:
        await asyncio.sleep(0.2)
        done = sum(refused.values())
        if done != last:
            last, settled_at = done, time.monotonic()
    answered_in = round(settled_at - started, 2)
    open_now = sum(1 for t in tasks if not t.done())
    print(json.dumps({"open": open_now, "refused": refused, "answered_in_s": answered_in}))
    sys.stdout.flush()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    print(json.dumps({"received": received}))
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for c in clients:
        await c.close()


# The measuring parent.


async def read_p99(client: AsyncClient, reads: int) -> tuple[float, float]:
    for _ in range(10):  # warm up
        await client.get_record("src/licences/R-1", purpose=PURPOSE)
    samples = []
    for _ in range(reads):
        start = time.perf_counter()
        await client.get_record("src/licences/R-1", purpose=PURPOSE)
        samples.append(time.perf_counter() - start)
    return p50_p99_ms(samples)


async def relay_seconds(ops: AsyncClient, url: str, tag: str) -> float:
    """Seconds from writing RELAYED records at the source until the route confirmed all."""
    before = len(await ops.list_deliveries(route_id="lic", state=CONFIRMED))
    start = time.monotonic()
    for i in range(RELAYED):
        await write_record(url, "licences", f"{tag}-{i}", SCHEMA, licence(f"{tag}-{i}"))
    while len(await ops.list_deliveries(route_id="lic", state=CONFIRMED)) < before + RELAYED:
        if time.monotonic() - start > 120:
            raise TimeoutError(f"the route did not confirm {RELAYED} records in 120 s ({tag})")
        await asyncio.sleep(0.1)
    return round(time.monotonic() - start, 2)


CONFIRMED = relay_pb2.DELIVERY_STATE_CONFIRMED


async def keep_writing(url: str, stop: asyncio.Event, per_s: float) -> int:
    """`per_s` records a second for the flooders' watches to carry."""
    n = 0
    while not stop.is_set():
        await write_record(url, "flood", f"F-{n}", SCHEMA, licence(f"F-{n}"))
        n += 1
        try:
            await asyncio.wait_for(stop.wait(), 1 / per_s)
        except TimeoutError:
            pass
    return n


async def run(streams: int, reads: int, certificates: int, per_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flood-bench-") as tmp:
        state = Path(tmp)
        src, dst = CustomDevnet(state / "src"), CustomDevnet(state / "dst")
        hub = HubProcess(state / "hub", policy=POLICY)
        child: asyncio.subprocess.Process | None = None
        try:
            src_info, dst_info = await asyncio.gather(
                src.up(lambda _: None), dst.up(lambda _: None)
            )
            url = src_info.endpoints["http"]
            hub.start()
            await hub.wait_serving()
            assert hub.credentials is not None and hub.proc is not None
            reader = hub.issue("reader", org="reader-agency")
            flooders = [hub.issue(f"flooder-{i}", org="flood-agency") for i in range(certificates)]
            await write_record(url, "licences", "R-1", SCHEMA, licence("R-1"))
            async with AsyncClient(hub.address, hub.credentials) as ops:
                for info, name in ((src_info, "src"), (dst_info, "dst")):
                    chain = json_format.ParseDict(info.chain, chains_pb2.Chain())
                    chain.chain_id = name
                    await ops.register_chain(chain)
                await ops.create_route(
                    relay_pb2.Route(
                        route_id="lic",
                        source_chain_id="src",
                        source_namespace="licences",
                        destination_chain_id="dst",
                        destination_namespace="imported",
                    )
                )
                async with AsyncClient(hub.address, reader) as client:
                    idle_p50, idle_p99 = await read_p99(client, reads)
                    relay_idle = await relay_seconds(ops, url, "IDLE")
                    rss_idle = rss_kib(hub.proc.pid)

                    child = await asyncio.create_subprocess_exec(
                        sys.executable, __file__, "--flood", hub.address, str(streams),
                        *(f"{c.cert}:{c.key}:{c.ca}" for c in flooders),
                        stdout=asyncio.subprocess.PIPE, env={**os.environ},
                    )  # fmt: skip
                    assert child.stdout is not None
                    opened = json.loads(await asyncio.wait_for(child.stdout.readline(), 180))
                    stop = asyncio.Event()
                    writer = asyncio.ensure_future(keep_writing(url, stop, per_s))
                    flood_p50, flood_p99 = await read_p99(client, reads)
                    relay_flood = await relay_seconds(ops, url, "FLOOD")
                    rss_flood = rss_kib(hub.proc.pid)
                    stop.set()
                    written = await writer
                    child.send_signal(signal.SIGTERM)
                    received = json.loads(await asyncio.wait_for(child.stdout.readline(), 60))
                    await child.wait()
        finally:
            if child is not None and child.returncode is None:
                child.kill()
                await child.wait()
            hub.stop()
            await asyncio.gather(src.down(), dst.down(), return_exceptions=True)
    return {
        "machine": describe(),
        "streams": streams,
        "certificates": certificates,
        "flood_records_per_s": per_s,
        "admitted": opened["open"],
        "refused": opened["refused"],
        "answered_in_s": opened["answered_in_s"],
        "flood_records_written": written,
        "flood_records_received": received["received"],
        "idle_p50_ms": idle_p50,
        "idle_p99_ms": idle_p99,
        "flood_p50_ms": flood_p50,
        "flood_p99_ms": flood_p99,
        "p99_ratio": ratio(flood_p99, idle_p99, 2),
        "relay_idle_s": relay_idle,
        "relay_flood_s": relay_flood,
        "relay_ratio": ratio(relay_flood, relay_idle, 2),
        "rss_idle_mib": round(rss_idle / 1024, 1),
        "rss_flood_mib": round(rss_flood / 1024, 1),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--streams", type=int, default=3000)
    p.add_argument("--reads", type=int, default=200)
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--certificates", type=int, default=5, help="the flooding agency's")
    p.add_argument(
        "--records-per-s",
        type=float,
        default=5.0,
        help="records written for the flooders' watches while they are open",
    )
    # The flooding child: ADDRESS STREAMS CERT:KEY:CA...
    p.add_argument("--flood", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.flood:
        address, n, *triples = args.flood
        certs = [Credentials(*(Path(part) for part in t.split(":"))) for t in triples]
        asyncio.run(flood(address, certs, int(n)))
        return 0
    r = asyncio.run(run(args.streams, args.reads, args.certificates, args.records_per_s))
    if args.json:
        print(json.dumps(r))
        return 0
    refused = sum(r["refused"].values())
    print(f"{r['streams']} WatchRecords streams from one agency ({r['certificates']} "
          f"certificates): {r['admitted']} admitted, "
          f"{refused} refused in {r['answered_in_s']} s")  # fmt: skip
    for message, count in r["refused"].items():
        print(f"  {count} x {message}")
    print(f"  the admitted streams received {r['flood_records_received']} records "
          f"({r['flood_records_written']} written while flooded, "
          f"{r['flood_records_per_s']} a second)")  # fmt: skip
    print(
        f"another agency's GetRecord: idle p50 {r['idle_p50_ms']} ms, p99 {r['idle_p99_ms']} ms; "
        f"flooded p50 {r['flood_p50_ms']} ms, p99 {r['flood_p99_ms']} ms = x{r['p99_ratio']} (p99)"
    )
    print(
        f"route confirming {RELAYED} records: idle {r['relay_idle_s']} s, flooded "
        f"{r['relay_flood_s']} s = x{r['relay_ratio']}"
    )
    print(f"hub RSS: idle {r['rss_idle_mib']} MiB, flooded {r['rss_flood_mib']} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
