"""Hub replicas on one PostgreSQL database, as real processes: `tonglian serve --store URL
--replica-id NAME` twice, two real custom ledgers as source and destination, and a
real PostgreSQL devnet. Faults are real signals to real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from aiohttp import web

from devnets.custom.network import CustomDevnet
from devnets.postgres.network import PostgresDevnet
from hub.audit.chain_check import check_chain
from hub.cli.connection import open_channel
from tonglian.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    query_pb2,
    query_pb2_grpc,
    records_pb2,
    relay_pb2,
    relay_pb2_grpc,
)
from tonglian_tools.hub_process import HubProcess

from .conftest import append_many, chain_of, collection_entries, create_route, register
from .test_relay_custom import assert_exactly_once

pytestmark = pytest.mark.integration

ROUTE = "lic"


class Replicas:
    def __init__(self, root: Path, url: str) -> None:
        self.hubs = {
            name: HubProcess(
                root / name, insecure=True, extra_args=("--store", url, "--replica-id", name)
            )
            for name in ("hub-a", "hub-b")
        }

    async def start(self) -> None:
        for hub in self.hubs.values():
            hub.start()
        await asyncio.gather(*(hub.wait_serving() for hub in self.hubs.values()))

    def stop(self) -> None:
        for hub in self.hubs.values():
            hub.stop()

    def channel(self, name: str) -> grpc.aio.Channel:
        return open_channel(self.hubs[name].address, insecure=True)

    def other(self, name: str) -> str:
        return next(n for n in self.hubs if n != name)

    async def route(self, via: str) -> relay_pb2.Route:
        async with self.channel(via) as channel:
            resp = await relay_pb2_grpc.RelayStub(channel).GetRoute(
                relay_pb2.GetRouteRequest(route_id=ROUTE), timeout=5
            )
        return resp.route

    async def holder(self, via: str, timeout: float = 30) -> tuple[str, float]:
        """The replica holding the route's lease as `via` sees it, and how long it took."""
        start = time.monotonic()
        while True:
            try:
                route = await self.route(via)
                if route.lease_holder:
                    return route.lease_holder, time.monotonic() - start
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
            if time.monotonic() - start > timeout:
                raise AssertionError(f"no replica holds {ROUTE} after {timeout}s")
            await asyncio.sleep(0.1)

    async def takeover(self, survivor: str, timeout: float) -> float:
        start = time.monotonic()
        while (await self.route(survivor)).lease_holder != survivor:
            assert time.monotonic() - start < timeout, (
                f"{survivor} did not take over; its log:\n{self.hubs[survivor].log_tail(40)}"
            )
            await asyncio.sleep(0.1)
        return time.monotonic() - start

    async def confirmed(self, via: str, n: int, timeout: float) -> None:
        """Waits until `via` reports `n` confirmed deliveries and nothing left to do."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                async with self.channel(via) as channel:
                    stub = relay_pb2_grpc.RelayStub(channel)
                    route = (
                        await stub.GetRoute(relay_pb2.GetRouteRequest(route_id=ROUTE), timeout=5)
                    ).route
                    idle = route.backlog.pending == route.backlog.submitted == 0
                    if idle and await confirmed_count(channel) >= n:
                        return
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
            assert time.monotonic() < deadline, f"not all {n} delivered after {timeout}s"
            await asyncio.sleep(0.5)


def cli(hub: HubProcess, *args: str) -> str:
    """A `tonglian` client command against `hub`, in a subprocess; its stdout."""
    done = subprocess.run(
        [sys.executable, "-P", "-m", "hub.cli.main", "--hub", hub.address, *args],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "TONGLIAN_INSECURE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


async def confirmed_count(channel: grpc.aio.Channel) -> int:
    stub = relay_pb2_grpc.RelayStub(channel)
    count, token = 0, ""
    while True:
        resp = await stub.ListDeliveries(
            relay_pb2.ListDeliveriesRequest(
                route_id=ROUTE, state=relay_pb2.DELIVERY_STATE_CONFIRMED, page_size=1000,
                page_token=token,
            ),
            timeout=10,
        )  # fmt: skip
        count += len(resp.deliveries)
        if not (token := resp.next_page_token):
            return count


async def setup(
    tmp_path: Path,
    url: str,
    ledgers: tuple[CustomDevnet, CustomDevnet],
    destination_url: str | None = None,
) -> tuple[Replicas, str]:
    """Two replicas on `url` and the route between the ledgers, created through one;
    `destination_url`: reach the destination there (a proxy) instead of directly."""
    src, dst = ledgers
    src_info = await src.up(lambda _: None)
    dst_info = await dst.up(lambda _: None)
    replicas = Replicas(tmp_path, url)
    await replicas.start()
    async with replicas.channel("hub-a") as channel:  # created through one replica
        await register(
            channel, chain_of(src_info, "src"), chain_of(dst_info, "dst", url=destination_url)
        )
        await create_route(
            channel, route_id=ROUTE, source_chain_id="src", source_namespace="licences",
            destination_chain_id="dst", destination_namespace="imported",
        )  # fmt: skip
    return replicas, src_info.endpoints["http"]


@pytest.fixture
async def replicas_on_pg(
    tmp_path: Path, postgres_url: str, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> AsyncIterator[tuple[Replicas, str, str]]:
    replicas, src_url = await setup(tmp_path, postgres_url, ledgers)
    try:
        yield replicas, src_url, (await ledgers[1].up(lambda _: None)).endpoints["http"]
    finally:
        replicas.stop()


class CountingProxy:
    """A real HTTP server in front of the destination ledger that forwards everything
    and counts each delivery id POSTed to its inbox (one count per submission)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.submits: Counter[str] = Counter()
        self.url = ""

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.method == "POST" and request.path == "/v1/inbox":
            self.submits[str(json.loads(body)["delivery_id"])] += 1
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body,
            headers={"Content-Type": "application/json"},
        ) as resp:  # fmt: skip
            return web.Response(
                body=await resp.read(), status=resp.status, content_type=resp.content_type
            )

    async def __aenter__(self) -> CountingProxy:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._runner.cleanup()
        await self._session.close()


async def test_each_delivery_is_submitted_once_while_no_replica_dies(
    tmp_path: Path, postgres_url: str, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    dst_url = (await ledgers[1].up(lambda _: None)).endpoints["http"]
    async with CountingProxy(dst_url) as proxy:
        replicas, src_url = await setup(tmp_path, postgres_url, ledgers, proxy.url)
        try:
            holder, _ = await replicas.holder("hub-a")
            epoch = (await replicas.route("hub-a")).lease_epoch
            n = 200
            await append_many(src_url, "licences", n)
            await replicas.confirmed(replicas.other(holder), n, timeout=180)
            # The premise: nobody died and the lease never moved.
            for hub in replicas.hubs.values():
                assert hub.proc is not None and hub.proc.poll() is None
            route = await replicas.route("hub-b")
            assert (route.lease_holder, route.lease_epoch) == (holder, epoch)
        finally:
            replicas.stop()
    entries = await collection_entries(dst_url, "imported")
    assert_exactly_once(entries, n)
    assert set(proxy.submits) == {str(e["delivery_id"]) for e in entries}
    resubmitted = {d: c for d, c in proxy.submits.items() if c != 1}
    assert resubmitted == {}, f"{len(resubmitted)} deliveries submitted more than once"


async def test_replicas_share_the_route_its_watchers_and_one_audit_chain(
    replicas_on_pg: tuple[Replicas, str, str],
) -> None:
    replicas, src_url, dst_url = replicas_on_pg
    holder, _ = await replicas.holder("hub-b")
    idle = replicas.other(holder)
    assert (await replicas.route(idle)).lease_holder == holder
    shown = json.loads(cli(replicas.hubs[idle], "routes", "show", ROUTE, "--json"))
    assert shown["lease_holder"] == holder and int(shown["lease_epoch"]) >= 1
    listed = cli(replicas.hubs[idle], "routes", "list")
    assert f"{holder}@{shown['lease_epoch']}" in listed, listed
    async with replicas.channel(idle) as channel:
        watch = relay_pb2_grpc.RelayStub(channel).WatchDeliveries(
            relay_pb2.WatchDeliveriesRequest(route_id=ROUTE)
        )
        seen: set[str] = set()

        async def follow() -> None:
            async for resp in watch:
                if resp.delivery.state == relay_pb2.DELIVERY_STATE_CONFIRMED:
                    seen.add(resp.delivery.delivery_id)
                    if len(seen) == 50:
                        return

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0.5)
        await append_many(src_url, "licences", 50)
        # The replica that delivers nothing sees every confirmation (LISTEN/NOTIFY).
        await asyncio.wait_for(follower, 120)
    assert_exactly_once(await collection_entries(dst_url, "imported"), 50)

    for name in replicas.hubs:  # any replica answers queries, verified
        async with replicas.channel(name) as channel:
            ref = records_pb2.RecordRef(chain_id="src", namespace="licences", key="rec:00007")
            resp = await query_pb2_grpc.QueryStub(channel).GetRecord(
                query_pb2.GetRecordRequest(ref=ref, purpose="replica-test"), timeout=30
            )
        assert resp.record.verification.verified, name
        assert resp.record.record.ref.key == "rec:00007"

    exports = {}
    for name in replicas.hubs:
        async with replicas.channel(name) as channel:
            stream = audit_pb2_grpc.AuditStub(channel).ExportEvents(
                audit_pb2.ExportEventsRequest(from_sequence=1)
            )
            exports[name] = [resp.event async for resp in stream]
    # One log, whichever replica is asked (the first export is itself audited, so the
    # second sees one event more).
    first, events = exports["hub-a"], exports["hub-b"]
    assert events[: len(first)] == first and len(events) == len(first) + 1
    assert check_chain(events) == []
    started = {json.loads(e.detail_json)["replica"] for e in events if e.action == "hub.start"}
    assert started == {"hub-a", "hub-b"}
    delivered = [e for e in events if e.action == "relay.deliver"]
    assert len(delivered) == 50
    for hub in replicas.hubs.values():  # `tonglian audit verify` through either replica
        verdict = json.loads(cli(hub, "audit", "verify", "--json"))
        assert verdict["intact"] and verdict["events"] >= len(events), verdict


async def test_sigkill_the_lease_holder_five_times_over_1000_records(
    replicas_on_pg: tuple[Replicas, str, str],
) -> None:
    replicas, src_url, dst_url = replicas_on_pg
    n = 1000
    await append_many(src_url, "licences", n // 2)  # 500 keys, then a second version of each
    second = asyncio.create_task(append_many(src_url, "licences", n // 2))
    takeovers = []
    for _ in range(5):
        holder, _ = await replicas.holder("hub-a")
        await asyncio.sleep(1.0)  # mid-transfer
        assert replicas.hubs[holder].stop(signal.SIGKILL) == -signal.SIGKILL
        survivor = replicas.other(holder)
        takeovers.append(await replicas.takeover(survivor, timeout=15))
        replicas.hubs[holder].start()
        await replicas.hubs[holder].wait_serving()
    await second
    assert max(takeovers) <= 10, takeovers
    await replicas.confirmed("hub-a", n, timeout=300)
    entries = await collection_entries(dst_url, "imported")
    ids = [e["delivery_id"] for e in entries]
    assert len(ids) == len(set(ids)) == n  # every record once
    applied: dict[str, list[int]] = {}
    for e in entries:  # in the order the destination applied them
        applied.setdefault(str(e["key"]), []).append(int(e["source"]["version"]))
    assert len(applied) == n // 2
    assert all(len(v) == 2 and v[0] < v[1] for v in applied.values()), applied


async def test_a_paused_holder_is_fenced_when_it_wakes(
    replicas_on_pg: tuple[Replicas, str, str],
) -> None:
    replicas, src_url, dst_url = replicas_on_pg
    n = 300
    await append_many(src_url, "licences", n)
    holder, _ = await replicas.holder("hub-a")
    survivor = replicas.other(holder)
    paused = replicas.hubs[holder]
    assert paused.proc is not None
    paused.proc.send_signal(signal.SIGSTOP)  # mid-transfer: submissions in flight
    try:
        # Unlike a killed holder, a frozen one keeps its connections: a lease row it had
        # locked is freed only when PostgreSQL ends its idle transaction (2 s), and a
        # lease write of the survivor's queued behind it may first run into its 10 s
        # lock_timeout: lease TTL 6 s + that + two sweeps of 2 s is the budget.
        await replicas.takeover(survivor, timeout=25)
        await asyncio.sleep(1.0)  # the new holder commits meanwhile
    finally:
        paused.proc.send_signal(signal.SIGCONT)
    # What it had in flight when it froze, it cannot commit now: the fence refuses.
    deadline = time.monotonic() + 30
    while "another replica" not in paused.log_tail(400):
        assert time.monotonic() < deadline, paused.log_tail(60)
        await asyncio.sleep(0.2)
    assert (await replicas.route(holder)).lease_holder == survivor
    await replicas.confirmed(survivor, n, timeout=180)
    assert_exactly_once(await collection_entries(dst_url, "imported"), n)


async def test_postgres_restart_mid_transfer(
    tmp_path: Path, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    pg = PostgresDevnet(tmp_path / "pg", bind_to_parent=True)
    url = (await pg.up(lambda _: None)).endpoints["url"]
    try:
        replicas, src_url = await setup(tmp_path, url, ledgers)
        dst_url = (await ledgers[1].up(lambda _: None)).endpoints["http"]
        try:
            n = 500
            await append_many(src_url, "licences", n)
            await asyncio.sleep(1.0)
            await pg.down()
            for name in replicas.hubs:  # up, and saying UNAVAILABLE, never INTERNAL
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await replicas.route(name)
                assert err.value.code() == grpc.StatusCode.UNAVAILABLE, err.value.details()
                assert "PostgreSQL store cannot be reached" in str(err.value.details())
            await asyncio.sleep(3)
            await pg.start()
            restarted = time.monotonic()
            await replicas.confirmed("hub-b", n, timeout=60)
            assert time.monotonic() - restarted <= 60
            for hub in replicas.hubs.values():
                assert hub.proc is not None and hub.proc.poll() is None
            assert_exactly_once(await collection_entries(dst_url, "imported"), n)
        finally:
            replicas.stop()
    finally:
        await pg.destroy()
