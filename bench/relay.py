"""Relay throughput and latency against the destination's direct write rate, same run.

For each pair of chain kinds (custom→custom, custom→evm, evm→custom, and custom→fabric,
fabric→custom where Fabric's release binaries are found), on fresh devnets and a real
`tonglian serve` (mutual TLS):

- direct: the same deliveries submitted straight to the destination through its
  adapter (no hub, no store, no verification), pipelined exactly as the deliverer
  does: at most 32 submissions in flight, a slot freed as soon as the destination
  accepts, each accepted delivery asked about again when the destination reaches a
  new final block (the adapter's `final_heights`; every CONFIRM_POLL s for adapters
  that cannot tell), checks bounded at 32 too, each asking about up to CHECK_BATCH
  deliveries in one request where the adapter can (the custom ledger): records/s
  confirmed;
- relay throughput: N records already on the source (in final blocks: the relay
  forwards only those; the source's finality delay is in the latency), then the
  route(s) are created, starting at the source's block after its head before the
  writes (not at block 0: the source keeps every earlier row's records);
  records/s confirmed (scan, verification, store, delivery, confirmation), and the
  seconds until the hub had stored them all;
- both sides warm before any clock: one delivery sent and confirmed through the direct
  side's adapter (kept for the whole pair, as the hub's is), one record relayed through
  a route made and deleted for it (a cold Fabric gateway opens discovery, every endorsing
  peer and the orderer at its first submission);
- the direct run is made before and after each relay run, and the baseline of a row
  is the fastest direct run of the rows with the same records (1 KiB: 1 route and 20
  routes, the same direct work): one short run moved by up to ×1.4 between rows of one
  bench run, and a slow one had put a relay above 100 % (the baseline was wrong);
- both rates: N over the time from the start of the work (direct: the first submit;
  relay: the first route created, the records already on the source) to the last
  confirmation. Both spans include one confirmation's latency (finality), measured
  the same way on both sides; (N - 1) over first-to-last confirmation was too noisy
  when the direct run's confirmations all land in two or three blocks;
- relay latency: with the route running, records written 32 at a time; per record
  the time from its source commit to the hub storing its destination confirmation
  (p50, p99), printed beside both chains' block times. Source commit: the block time
  for the custom ledger (ms), the writer's receipt for EVM (its block timestamps have
  1 s resolution).

Growth: with record size (custom→custom: 1 KiB to 255 KiB, the custom ledger's value
limit; 1 MiB cannot be written there) and with the number of routes on one source
(the same chain and namespace, K routes, the records split among them by key prefix,
all into the destination). Records per row: N (default 400) for 1 KiB, fewer for larger
records (4 MiB of payload, at least 60); times 4 between two custom ledgers (they take
about a thousand writes a second), times 2 between a custom ledger and Fabric.

    .venv/bin/python bench/relay.py [--quick] [--records N] [--pairs custom-custom,...] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tonglian_proof.canonical import canonical_json

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import grpc  # noqa: E402
from eth_utils.address import to_checksum_address  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from web3 import AsyncHTTPProvider, AsyncWeb3  # noqa: E402
from web3.types import Nonce, TxParams, Wei  # noqa: E402

from adapters.base import ChecksManySubmissions, FollowsFinalHeights  # noqa: E402
from bench.machine import describe  # noqa: E402
from bench.stats import p50_p99_ms, ratio  # noqa: E402
from devnets.custom.ledger.inputs import MAX_VALUE_BYTES  # noqa: E402
from devnets.custom.network import CustomDevnet  # noqa: E402
from devnets.evm import contracts  # noqa: E402
from devnets.evm.network import EvmDevnet  # noqa: E402
from devnets.fabric.binaries import find_release  # noqa: E402
from devnets.fabric.network import FabricDevnet  # noqa: E402
from hub.adapter_context import adapter_context  # noqa: E402
from hub.cli.connection import open_channel  # noqa: E402
from hub.relay.deliverer import CHECK_BATCH, CONFIRM_POLL  # noqa: E402
from hub.relay.delivery_id import delivery_id  # noqa: E402
from hub.secrets import read_local  # noqa: E402
from tonglian.v1 import (  # noqa: E402
    adapter_pb2,
    chains_pb2,
    chains_pb2_grpc,
    records_pb2,
    relay_pb2,
    relay_pb2_grpc,
)
from tonglian_client.secret_files import register_staged  # noqa: E402
from tonglian_tools.hub_process import HubProcess  # noqa: E402

CONCURRENCY = 32  # the deliverer's
WRITER_MAX_FEE = 500 * 10**9  # wei per gas: the devnet's funded owner pays far less
SCHEMA = "bench.payload/v1"  # not in the catalog: no schema check on either path
KIB = 1024
S = adapter_pb2


def payload(i: int, size: int) -> dict[str, Any]:
    """A JSON value whose canonical form is about `size` bytes."""
    return {"n": i, "pad": "x" * max(0, size - 20)}


async def gather_limited(
    n: int, fn: Callable[[int], Awaitable[Any]], limit: int = CONCURRENCY
) -> list[Any]:
    """Runs fn(0..n-1), `limit` at a time."""
    sem = asyncio.Semaphore(limit)

    async def one(i: int) -> Any:
        async with sem:
            return await fn(i)

    return await asyncio.gather(*(one(i) for i in range(n)))


class CustomEnd:
    kind = "custom"

    block_ms = 100
    # Records per row: the --records count times the smaller `steady` of the two ends.
    # At ~1000 writes a second 400 records last under half a second, too short to be
    # steady (the relay's start then weighs as much as its rate).
    steady = 4

    def __init__(self, state: Path) -> None:
        self.devnet = CustomDevnet(state, block_interval_ms=self.block_ms)
        self.url = ""
        self.chain = chains_pb2.Chain()
        self.namespace = "bench"
        self.http: aiohttp.ClientSession | None = None

    async def up(self, chain_id: str) -> None:
        info = await self.devnet.up(lambda _: None)
        self.url = info.endpoints["http"]
        self.chain = json_format.ParseDict(info.chain, chains_pb2.Chain())
        self.chain.chain_id = chain_id
        self.chain.adapter.timeout_ms = 10_000
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))

    def inbox(self, name: str) -> str:
        return name

    async def write(self, keys: list[str], size: int) -> dict[str, float]:
        """Writes and waits for each commit; returns {key: commit wall time} (the block's)."""
        assert self.http is not None
        http = self.http

        async def one(i: int) -> tuple[str, float]:
            body = {
                "collection": self.namespace,
                "key": keys[i],
                "schema": SCHEMA,
                "value": payload(i, size),
            }
            async with http.post(f"{self.url}/v1/records", json=body) as resp:
                if resp.status != 202:
                    raise RuntimeError(f"ledger refused a write: {await resp.text()}")
                tx = (await resp.json())["tx_id"]
            while True:
                async with http.get(f"{self.url}/v1/txs/{tx}") as resp:
                    st = await resp.json()
                if st["status"] == "committed":
                    return keys[i], time.time()
                await asyncio.sleep(0.05)

        return dict(await gather_limited(len(keys), one))

    async def settled(self) -> None:
        """Every record written is final already (a committed block is final here)."""

    async def down(self) -> None:
        if self.http:
            await self.http.close()
        await self.devnet.down()


class EvmEnd:
    kind = "evm"

    block_ms = 500
    steady = 1

    def __init__(self, state: Path) -> None:
        self.devnet = EvmDevnet(state, block_time=self.block_ms / 1000)
        self.chain = chains_pb2.Chain()
        self.namespace = ""
        self._inbox = ""
        self.w3: AsyncWeb3[AsyncHTTPProvider] | None = None
        self.owner = ""
        self.last_block = 0
        self.finality_depth = 0

    async def up(self, chain_id: str) -> None:
        info = await self.devnet.up(lambda _: None)
        self.chain = json_format.ParseDict(info.chain, chains_pb2.Chain())
        self.chain.chain_id = chain_id
        self.namespace = to_checksum_address(info.extra["registry_address"])
        self._inbox = to_checksum_address(info.extra["inbox_address"])
        self.owner = to_checksum_address(info.extra["owner"]["address"])
        self.finality_depth = int(info.extra["finality_depth"])
        self.w3 = AsyncWeb3(AsyncHTTPProvider(info.endpoints["rpc"]))

    def inbox(self, name: str) -> str:
        return self._inbox

    async def write(self, keys: list[str], size: int) -> dict[str, float]:
        """Sends the registry writes 32 at a time; {key: time its receipt was seen}.
        Writing the source is set-up: the relay's clock starts once the records are
        final on it."""
        assert self.w3 is not None
        w3 = self.w3
        registry = w3.eth.contract(
            address=to_checksum_address(self.namespace), abi=contracts.abi("RecordRegistry")
        )

        # Nonces assigned here: concurrent sends would otherwise race for the same one.
        nonce = await w3.eth.get_transaction_count(to_checksum_address(self.owner), "pending")

        async def one(i: int) -> tuple[str, float]:
            put = registry.functions.put(keys[i], SCHEMA, canonical_json(payload(i, size)))
            params: TxParams = {
                "from": to_checksum_address(self.owner),
                "nonce": Nonce(nonce + i),
                # Full blocks raise the base fee 12.5 % a block (EIP-1559): web3's default
                # cap (twice the base fee at sending) left large writes sent early
                # unmineable a few blocks later.
                "maxFeePerGas": Wei(WRITER_MAX_FEE),
                "maxPriorityFeePerGas": Wei(10**9),
            }
            tx = await put.transact(params)
            receipt = await w3.eth.wait_for_transaction_receipt(tx, timeout=120, poll_latency=0.05)
            self.last_block = max(self.last_block, int(receipt["blockNumber"]))
            return keys[i], time.time()

        return dict(await gather_limited(len(keys), one))

    async def settled(self) -> None:
        """Until every record written is in a final block: before that it is not on the
        chain for the relay, which forwards only final blocks."""
        assert self.w3 is not None
        final = self.last_block + self.finality_depth
        while True:
            if await self.w3.eth.block_number >= final:
                return
            await asyncio.sleep(0.05)

    async def down(self) -> None:
        if self.w3 is not None:
            with contextlib.suppress(Exception):
                await self.w3.provider.disconnect()
        await self.devnet.down()


class FabricEnd:
    """The live Fabric devnet (release binaries from FABRIC_HOME): records chaincode writes
    as the source, the chaincode's `deliver` inbox as the destination."""

    kind = "fabric"
    block_ms = 200  # the orderer's batch timeout (devnets/fabric/layout.py)
    steady = 2  # 60 records of 255 KiB took 5 s: the relay's start weighed a fifth

    def __init__(self, state: Path) -> None:
        self.devnet = FabricDevnet(state)
        self.chain = chains_pb2.Chain()
        self.namespace = ""
        self.writer: Any = None

    async def up(self, chain_id: str) -> None:
        info = await self.devnet.up(lambda _: None)
        self.chain = json_format.ParseDict(info.chain, chains_pb2.Chain())
        self.chain.chain_id = chain_id
        self.chain.adapter.timeout_ms = 30_000
        self.writer = destination_adapter(self.chain)
        self.namespace = self.writer.namespace

    def inbox(self, name: str) -> str:
        return self.namespace

    async def write(self, keys: list[str], size: int) -> dict[str, float]:
        """Invokes `put` through the Gateway 32 at a time; {key: time the commit was seen}."""

        async def one(i: int) -> tuple[str, float]:
            await self.writer.put(keys[i], SCHEMA, payload(i, size))
            return keys[i], time.time()

        return dict(await gather_limited(len(keys), one))

    async def settled(self) -> None:
        """Every record written is final already (a committed block is final here)."""

    async def down(self) -> None:
        if self.writer is not None:
            await self.writer.close()
        await self.devnet.down()


End = CustomEnd | EvmEnd | FabricEnd


def make_end(kind: str, state: Path) -> End:
    ends: dict[str, type[End]] = {"custom": CustomEnd, "evm": EvmEnd, "fabric": FabricEnd}
    return ends[kind](state)


def destination_adapter(chain: chains_pb2.Chain) -> Any:
    ctx = adapter_context(chain, timeout=10.0, secrets=read_local(chain.adapter))
    if chain.kind == chains_pb2.CHAIN_KIND_EVM:
        from adapters.evm import create_adapter as evm_adapter

        return evm_adapter(ctx)
    if chain.kind == chains_pb2.CHAIN_KIND_FABRIC:
        from adapters.fabric import create_adapter as fabric_adapter

        return fabric_adapter(ctx)
    from adapters.custom import create_adapter as custom_adapter

    return custom_adapter(ctx)


def _final(sub: adapter_pb2.Submission) -> bool:
    if sub.state == S.SUBMISSION_STATE_FAILED:
        raise RuntimeError(f"direct submission failed: {sub.detail}")
    return sub.state == S.SUBMISSION_STATE_CONFIRMED or (
        sub.state == S.SUBMISSION_STATE_DUPLICATE and sub.block_height > 0
    )


DIRECT_METHOD = (
    "direct: deliveries submitted through the destination's adapter, 32 in flight, a slot "
    "freed when the destination accepts; accepted ones asked about at each new final block "
    "(adapter final_heights) or every {poll}s where the adapter cannot tell, 32 checks at "
    "a time, each of up to {batch} deliveries where the adapter can ask about many at once: "
    "exactly the deliverer's pipeline without hub, store or verification; both sides warmed "
    "by one delivery first; run before and after each relay run, a row's baseline the fastest "
    "run of the rows with the same records. "
    "relay: "
    "records already final on the source, routes created starting at the block after the "
    "source's head before the writes, confirmations timed by the hub's store. Both rates: "
    "N / (last confirmation - start of the work: first submit, or first route created "
    "with the records already on the source)."
)


def direct_deliveries(dst: End, keys: list[str], size: int) -> list[relay_pb2.Delivery]:
    """Deliveries of new records (this run's tx ids) to the destination's direct inbox."""
    run = secrets.token_hex(4)
    ns = dst.inbox("bench-direct")
    out = []
    for i, key in enumerate(keys):
        record = records_pb2.Record(
            ref=records_pb2.RecordRef(chain_id="bench-src", namespace="bench", key=key),
            schema=SCHEMA,
            value=canonical_json(payload(i, size)),
            version=1,
            block_height=1,
            tx_id=f"{run}-{i}",
        )
        out.append(
            relay_pb2.Delivery(
                delivery_id=delivery_id(record, dst.chain.chain_id, ns),
                record=record,
                proof_digest=bytes(32),
                destination_chain_id=dst.chain.chain_id,
                destination_namespace=ns,
            )
        )
    return out


async def warm_direct(adapter: Any, dst: End) -> None:
    """One delivery sent and confirmed before any clock: every connection a submission
    needs (Fabric: discovery, each endorsing peer, the orderer) is open, as the hub's
    adapter's are after warm_relay."""
    (d,) = direct_deliveries(dst, ["warmup"], 64)
    sub = await adapter.submit(d)
    deadline = time.monotonic() + 120
    while not _final(sub):
        if time.monotonic() > deadline:
            raise TimeoutError("the direct warm-up delivery was not confirmed in 120 s")
        await asyncio.sleep(0.1)
        sub = await adapter.submission(d.delivery_id)


async def next_height(channel: grpc.aio.Channel, src: End) -> int:
    """The source's block after its head, as the hub sees it."""
    status = await chains_pb2_grpc.ChainRegistryStub(channel).GetChainStatus(
        chains_pb2.GetChainStatusRequest(chain_id=src.chain.chain_id)
    )
    return int(status.head.height) + 1


def route(
    src: End, dst: End, route_id: str, inbox: str, key_prefix: str, start_height: int
) -> relay_pb2.Route:
    """A route of the source's keys under `key_prefix` into the destination's `inbox`."""
    return relay_pb2.Route(
        route_id=route_id,
        source_chain_id=src.chain.chain_id,
        source_namespace=src.namespace,
        destination_chain_id=dst.chain.chain_id,
        destination_namespace=dst.inbox(inbox),
        key_prefix=key_prefix,
        start_height=start_height,
    )


async def warm_relay(src: End, dst: End, hub: HubProcess) -> None:
    """One record relayed through a route made and deleted for it, before any clock: the
    hub's scan, verification and destination connections are open, as the direct
    adapter's are after warm_direct."""
    async with open_channel(hub.address, hub.credentials) as channel:
        start_height = await next_height(channel, src)
        await src.write(["warmup-0"], 64)
        await src.settled()
        relay = relay_pb2_grpc.RelayStub(channel)
        await relay.CreateRoute(
            relay_pb2.CreateRouteRequest(
                route=route(src, dst, "r-warmup", "bench-warmup", "warmup-", start_height)
            )
        )
        await wait_confirmed(channel, ["r-warmup"], 1, timeout=120)
        await relay.DeleteRoute(relay_pb2.DeleteRouteRequest(route_id="r-warmup"))


async def direct_rate(adapter: Any, dst: End, n: int, size: int) -> float:
    """Records/s the destination confirms when the same deliveries are submitted straight
    through its adapter (warm: `warm_direct`), pipelined the deliverer's way (see
    DIRECT_METHOD)."""
    deliveries = direct_deliveries(dst, [f"d{i:06d}" for i in range(n)], size)
    confirmed_at: dict[str, float] = {}
    awaiting: dict[str, relay_pb2.Delivery] = {}
    all_done = asyncio.Event()
    new_block = asyncio.Event()
    checks = asyncio.Semaphore(CONCURRENCY)

    def settle(d: relay_pb2.Delivery, sub: adapter_pb2.Submission) -> None:
        if _final(sub):
            confirmed_at[d.delivery_id] = time.time()
            awaiting.pop(d.delivery_id, None)
            if len(confirmed_at) == n:
                all_done.set()
        else:
            awaiting[d.delivery_id] = d

    checking: set[asyncio.Task[None]] = set()
    many = isinstance(adapter, ChecksManySubmissions)

    async def check(ds: list[relay_pb2.Delivery]) -> None:
        async with checks:
            if many:
                subs = await adapter.submissions([d.delivery_id for d in ds])
            else:
                subs = [await adapter.submission(ds[0].delivery_id)]
        for d, sub in zip(ds, subs, strict=True):
            settle(d, sub)

    async def confirmer() -> None:
        """At each new final block (or poll tick), asks about every accepted delivery
        not being asked about already, without waiting for the answers: CHECK_BATCH in
        one request where the adapter can, as the deliverer does."""
        while True:
            await new_block.wait()
            new_block.clear()
            ready = list(awaiting.values())
            for d in ready:
                del awaiting[d.delivery_id]
            step = CHECK_BATCH if many else 1
            for i in range(0, len(ready), step):
                task = asyncio.create_task(check(ready[i : i + step]))
                checking.add(task)
                task.add_done_callback(checking.discard)

    seen = [0]  # final-height events so far

    async def blocks() -> None:
        if isinstance(adapter, FollowsFinalHeights):
            async for _ in adapter.final_heights(0):
                seen[0] += 1
                new_block.set()
        while True:
            await asyncio.sleep(CONFIRM_POLL)
            new_block.set()

    async def submitter() -> None:
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(d: relay_pb2.Delivery) -> None:
            async with slots:
                before = seen[0]
                settle(d, await adapter.submit(d))
                if d.delivery_id in awaiting and seen[0] != before:
                    new_block.set()  # a block came while it was sent, as the deliverer does

        await asyncio.gather(*(one(d) for d in deliveries))

    helpers = [asyncio.create_task(blocks()), asyncio.create_task(confirmer())]
    try:
        started = time.time()
        await asyncio.gather(submitter(), all_done.wait())
        return rate(started, list(confirmed_at.values()))
    finally:
        for task in [*helpers, *checking]:
            task.cancel()
        await asyncio.gather(*helpers, *checking, return_exceptions=True)


def share_baselines(rows: list[dict[str, Any]]) -> None:
    """Each row's baseline: the fastest direct run of every row of the pair with the same
    records (count and size); the direct side does the same work in each of them (the
    routes differ only on the relay's side)."""
    best: dict[tuple[int, int], float] = {}
    for row in rows:
        if "direct_runs_per_s" in row:
            same = (row["records"], row["record_bytes"])
            best[same] = max(best.get(same, 0.0), *row["direct_runs_per_s"])
    for row in rows:
        if "direct_runs_per_s" in row and "relay_per_s" in row:
            row["direct_per_s"] = best[(row["records"], row["record_bytes"])]
            row["relay_vs_direct"] = ratio(row["relay_per_s"], row["direct_per_s"])


def rate(started: float, confirmed_at: list[float]) -> float:
    """Confirmations per second from the start of the work to the last confirmation:
    the same definition for both sides, over a span long enough to be steady."""
    span = max(confirmed_at) - started
    return len(confirmed_at) / span if span > 0 else float("nan")


async def confirmed(channel: grpc.aio.Channel, route_ids: list[str]) -> list[relay_pb2.Delivery]:
    stub = relay_pb2_grpc.RelayStub(channel)
    found: list[relay_pb2.Delivery] = []
    for route_id in route_ids:
        token = ""
        while True:
            resp = await stub.ListDeliveries(
                relay_pb2.ListDeliveriesRequest(
                    route_id=route_id,
                    state=relay_pb2.DELIVERY_STATE_CONFIRMED,
                    # Small pages: the hub does not cap a page by bytes (16 MiB answer limit).
                    page_size=40,
                    page_token=token,
                )
            )
            found += resp.deliveries
            if not (token := resp.next_page_token):
                break
    return found


async def wait_confirmed(
    channel: grpc.aio.Channel, route_ids: list[str], count: int, timeout: float
) -> list[relay_pb2.Delivery]:
    """Waits for `count` confirmed deliveries. The routes' backlogs are polled (counts
    only, all routes in one call); the deliveries, records and all, are listed only when
    no route has work left, so the waiting does not load the hub it measures (listing
    every confirmed 255 KiB record four times a second did)."""
    stub = relay_pb2_grpc.RelayStub(channel)
    deadline = time.monotonic() + timeout
    wanted = set(route_ids)
    while True:
        # One call for every route (20 GetRoute calls four times a second were a load
        # of their own on the hub being measured).
        listed = await stub.ListRoutes(relay_pb2.ListRoutesRequest(page_size=1000))
        busy = [
            r.route_id
            for r in listed.routes
            if r.route_id in wanted and r.backlog.pending + r.backlog.submitted > 0
        ]
        seen = {r.route_id for r in listed.routes} & wanted
        if seen == wanted and not busy:
            found = await confirmed(channel, route_ids)
            if len(found) >= count:
                return found
        if time.monotonic() > deadline:
            found = await confirmed(channel, route_ids)
            raise TimeoutError(f"{len(found)}/{count} deliveries confirmed after {timeout:.0f}s")
        await asyncio.sleep(0.25)


def _ts(d: relay_pb2.Delivery) -> float:
    return d.updated_at.ToNanoseconds() / 1e9


async def relay_run(
    src: End, dst: End, hub: HubProcess, n: int, size: int, routes: int, tag: str
) -> dict[str, Any]:
    """Throughput (backlog drained through new routes on one source) and live latency."""
    keys = [f"{tag}-c{i % routes:02d}-{i:06d}" for i in range(n)]
    async with open_channel(hub.address, hub.credentials) as channel:
        # The routes start at the first block of this row's records, as an operator's
        # new route starts where its records do: not at block 0, which would time
        # reading every earlier row's records off the source too.
        start_height = await next_height(channel, src)
        await src.write(keys, size)
        await src.settled()
        relay = relay_pb2_grpc.RelayStub(channel)
        route_ids = []
        start = time.time()
        for c in range(routes):
            route_id = f"r-{tag}-{c}"
            prefix = f"{tag}-c{c:02d}-"
            await relay.CreateRoute(
                relay_pb2.CreateRouteRequest(
                    route=route(src, dst, route_id, f"bench-{tag}", prefix, start_height)
                )
            )
            route_ids.append(route_id)
        done = await wait_confirmed(channel, route_ids, n, timeout=60 + n * 0.1)
        throughput = rate(start, [_ts(d) for d in done])
        stored = max(d.created_at.ToNanoseconds() / 1e9 for d in done) - start

        live = [f"{tag}-c{i % routes:02d}-live-{i:06d}" for i in range(n)]
        committed = await src.write(live, size)
        done = await wait_confirmed(channel, route_ids, 2 * n, timeout=60 + n * 0.1)
    latencies = []
    for d in done:
        key = d.record.ref.key
        if key not in committed:
            continue
        commit = (
            d.record.commit_time.ToNanoseconds() / 1e9 if src.kind == "custom" else committed[key]
        )
        latencies.append(_ts(d) - commit)
    p50, p99 = p50_p99_ms(latencies)
    return {
        "relay_per_s": round(throughput, 1),
        "all_stored_after_s": round(stored, 2),
        "latency_p50_ms": p50,
        "latency_p99_ms": p99,
    }


async def pair(
    src_kind: str, dst_kind: str, n: int, sizes: list[int], route_counts: list[int]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
        state = Path(tmp)
        src = make_end(src_kind, state / "src")
        dst = make_end(dst_kind, state / "dst")
        hub = HubProcess(state / "hub")
        direct: Any = None
        try:
            await asyncio.gather(src.up(f"{src_kind}-src"), dst.up(f"{dst_kind}-dst"))
            # The direct side's adapter lives as long as the hub's: made once, warmed once.
            direct = destination_adapter(dst.chain)
            hub.start()
            await hub.wait_serving()
            async with open_channel(hub.address, hub.credentials) as channel:
                registry = chains_pb2_grpc.ChainRegistryStub(channel)
                for chain in (src.chain, dst.chain):
                    await register_staged(registry, chain)
                    # The hub's adapter made and connected before any clock starts
                    # (then warmed by warm_relay, as the direct side's by warm_direct):
                    # otherwise the first row's relay time includes loading its modules.
                    await registry.GetChainStatus(
                        chains_pb2.GetChainStatusRequest(chain_id=chain.chain_id)
                    )
            try:
                await warm_direct(direct, dst)
                await warm_relay(src, dst, hub)
            except Exception as exc:
                reason = f"failed to warm up: {type(exc).__name__}: {str(exc)[:160]}"
                return [
                    {"pair": f"{src_kind}→{dst_kind}", "record_bytes": KIB, "routes": 1,
                     "block_ms": f"{src.block_ms}/{dst.block_ms}", "records": 0,
                     "skipped": reason}
                ]  # fmt: skip
            for size in sizes:
                for routes in route_counts if size == sizes[0] else [1]:
                    count = max(60, min(n, (4 * n * KIB) // size)) * min(src.steady, dst.steady)
                    row: dict[str, Any] = {
                        "pair": f"{src_kind}→{dst_kind}",
                        "record_bytes": size,
                        "routes": routes,
                        "block_ms": f"{src.block_ms}/{dst.block_ms}",
                        "records": count,
                    }
                    if "custom" in (src_kind, dst_kind) and size > MAX_VALUE_BYTES - 64:
                        row["skipped"] = (
                            f"the custom ledger refuses values over {MAX_VALUE_BYTES // KIB} KiB"
                        )
                        rows.append(row)
                        continue
                    tag = f"s{size}k{routes}"
                    try:
                        before = await direct_rate(direct, dst, count, size)
                        row.update(await relay_run(src, dst, hub, count, size, routes, tag))
                        after = await direct_rate(direct, dst, count, size)
                        # The row's baseline is chosen from these (share_baselines).
                        row["direct_runs_per_s"] = [round(before, 1), round(after, 1)]
                    except Exception as exc:  # e.g. a value over a chain's own limits
                        row["skipped"] = f"failed: {type(exc).__name__}: {str(exc)[:160]}"
                    rows.append(row)
            share_baselines(rows)
            for row in rows:
                print(json.dumps(row, ensure_ascii=False), file=sys.stderr, flush=True)
        finally:
            if direct is not None:
                await direct.close()
            hub.stop()
            await asyncio.gather(src.down(), dst.down(), return_exceptions=True)
    return rows


PAIRS = ["custom-custom", "custom-evm", "evm-custom"]
FABRIC_PAIRS = ["custom-fabric", "fabric-custom"]
FABRIC_MISSING = "fabric pairs: Fabric release binaries not found (FABRIC_HOME or `peer` on PATH)"


def available_pairs() -> tuple[list[str], list[str]]:
    """The pairs this machine can run, and a note for those it cannot."""
    if find_release() is None:
        return PAIRS, [FABRIC_MISSING]
    return PAIRS + FABRIC_PAIRS, []


async def run(quick: bool, n: int | None, pairs: list[str]) -> dict[str, Any]:
    records = n or (100 if quick else 400)
    rows: list[dict[str, Any]] = []
    for p in pairs:
        src_kind, dst_kind = p.split("-")
        # Every pair: 1 KiB with 1 and 20 routes on one source, then 16 KiB and 255 KiB
        # (the custom ledger's value limit) with one route; 1 MiB is shown as refused.
        sizes = [KIB, 16 * KIB, MAX_VALUE_BYTES - 64]
        if p == pairs[0] and not quick:
            sizes.append(1024 * KIB)
        route_counts = [1, 20]
        evm_n = records // 2 if ("evm" in p or "fabric" in p) else records
        rows += await pair(src_kind, dst_kind, evm_n, sizes, route_counts)
    return {
        "machine": describe(),
        "concurrency": CONCURRENCY,
        "method": DIRECT_METHOD.format(poll=CONFIRM_POLL, batch=CHECK_BATCH),
        "rows": rows,
        "not_measured": [] if any("fabric" in p for p in pairs) else available_pairs()[1],
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="fewer records and sizes")
    p.add_argument("--records", type=int, help="records per measurement (default 400, quick 100)")
    p.add_argument(
        "--pairs",
        default=",".join(available_pairs()[0]),
        help="comma-separated SRC-DST kinds (default: every pair this machine can run)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args(argv)
    r = asyncio.run(run(args.quick, args.records, args.pairs.split(",")))
    if args.json:
        print(json.dumps(r, ensure_ascii=False))
        return 0
    m = r["machine"]
    print(f"Relay vs direct writes, concurrency {r['concurrency']}; {m['cpus']} x {m['cpu_model']}")
    print(textwrap.fill(r["method"], 92, initial_indent="  ", subsequent_indent="  "))
    print(
        f"  {'pair':<14}{'size':>9}{'routes':>7}{'records':>8}{'direct/s':>10}{'relay/s':>9}"
        f"{'ratio':>7}{'p50 ms':>9}{'p99 ms':>9}{'blocks ms src/dst':>19}"
    )
    for row in r["rows"]:
        head = f"  {row['pair']:<14}{row['record_bytes']:>9}{row['routes']:>7}{row['records']:>8}"
        if "skipped" in row:
            print(f"{head}  {row['skipped']}")
            continue
        print(
            f"{head}{row['direct_per_s']:>10}{row['relay_per_s']:>9}"
            f"{row['relay_vs_direct'] * 100:>6.0f}%{row['latency_p50_ms']:>9}"
            f"{row['latency_p99_ms']:>9}{row['block_ms']:>19}"
        )
    for note in r["not_measured"]:
        print(f"  not measured: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
