"""A stop stops (issue 27, attack 11): SIGTERM ends a busy replica on PostgreSQL within
the drain time it documents (`shutdown_grace` plus hub.server.STOP_BOUND), every time,
with exit code 0 and no process of its own left behind; a second SIGTERM ends it at
once. Busy means a route relaying through it, open watch streams and reads in flight,
on two real custom ledgers and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path

import grpc
import pytest

from devnets.custom.network import CustomDevnet
from hub.config import HubSettings
from hub.server import EXIT_FORCED, STOP_BOUND
from tests.integration.hub.test_lifeline import alive, descendants
from tonglian.v1 import query_pb2, query_pb2_grpc, records_pb2
from tonglian_tools.hub_process import HubProcess

from .conftest import append_many
from .test_replicas import Replicas, setup

pytestmark = pytest.mark.integration

# What `tonglian serve` promises: in-flight calls get shutdown_grace, the rest STOP_BOUND.
DRAIN_BOUND = HubSettings.model_fields["shutdown_grace"].default + STOP_BOUND


async def keep_busy(hub: HubProcess, stop: asyncio.Event) -> None:
    """Watch streams held open and reads in a loop against `hub`, until `stop`."""
    channel = grpc.aio.insecure_channel(hub.address)
    stub = query_pb2_grpc.QueryStub(channel)
    flt = query_pb2.RecordFilter(chain_id="src", namespace="licences")
    watches = [
        stub.WatchRecords(query_pb2.WatchRecordsRequest(filter=flt, purpose="busy"))
        for _ in range(20)
    ]

    async def drain(call: grpc.aio.UnaryStreamCall) -> None:  # type: ignore[type-arg]
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.CancelledError):
            async for _ in call:
                pass

    async def read() -> None:
        ref = records_pb2.RecordRef(chain_id="src", namespace="licences", key="rec:00001")
        while not stop.is_set():
            with contextlib.suppress(grpc.aio.AioRpcError):
                await stub.GetRecord(query_pb2.GetRecordRequest(ref=ref, purpose="busy"))

    tasks = [asyncio.ensure_future(drain(w)) for w in watches]
    tasks += [asyncio.ensure_future(read()) for _ in range(8)]
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await channel.close(grace=None)


async def stopped_within(hub: HubProcess, *, second_signal_after: float | None = None) -> float:
    """Sends SIGTERM (and a second one after `second_signal_after` seconds); how long
    the hub took to exit. Asserts its exit code and that nothing it started lives on."""
    assert hub.proc is not None
    children = set(descendants(hub.proc.pid))
    assert children, "a busy hub has its verification pool running"
    start = time.monotonic()
    hub.proc.send_signal(signal.SIGTERM)
    if second_signal_after is not None:
        await asyncio.sleep(second_signal_after)
        hub.proc.send_signal(signal.SIGTERM)
    while hub.proc.poll() is None:
        assert time.monotonic() - start < DRAIN_BOUND + 5, (
            f"the hub still runs {DRAIN_BOUND + 5:.0f}s after SIGTERM:\n{hub.log_tail(40)}"
        )
        await asyncio.sleep(0.05)
    took = time.monotonic() - start
    expected = 0 if second_signal_after is None else EXIT_FORCED
    assert hub.proc.returncode == expected, hub.log_tail(40)
    deadline = time.monotonic() + 2
    while True:  # the pool's workers follow their parent within a fraction of a second
        left = {p for p in children if alive(p)}
        if not left or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert not left, f"processes {sorted(left)} outlived the hub"
    return took


async def test_sigterm_stops_a_busy_replica_within_its_drain_time_every_time(
    tmp_path: Path, postgres_url: str, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    replicas, src_url = await setup(tmp_path, postgres_url, ledgers)
    try:
        for round_ in range(3):
            holder, _ = await replicas.holder("hub-a")
            hub = replicas.hubs[holder]
            await append_many(src_url, "licences", 200, prefix=f"r{round_}")
            stop = asyncio.Event()
            busy = asyncio.ensure_future(keep_busy(hub, stop))
            await asyncio.sleep(1.5)  # relaying, watching, reading
            took = await stopped_within(hub)
            stop.set()
            await busy
            assert took < DRAIN_BOUND, f"round {round_}: stopped after {took:.1f}s"
            assert "hub stopped" in hub.log_tail(10)
            hub.start()
            await hub.wait_serving()
    finally:
        replicas.stop()


async def test_a_second_sigterm_ends_a_draining_replica_at_once(
    tmp_path: Path, postgres_url: str, ledgers: tuple[CustomDevnet, CustomDevnet]
) -> None:
    replicas: Replicas
    replicas, src_url = await setup(tmp_path, postgres_url, ledgers)
    try:
        holder, _ = await replicas.holder("hub-a")
        hub = replicas.hubs[holder]
        await append_many(src_url, "licences", 200)
        stop = asyncio.Event()
        busy = asyncio.ensure_future(keep_busy(hub, stop))
        await asyncio.sleep(1.5)
        took = await stopped_within(hub, second_signal_after=0.2)
        stop.set()
        await busy
        assert took < 1.5, f"a second SIGTERM took {took:.1f}s to end the hub"
        assert "second signal: exiting now" in hub.log_tail(10)
    finally:
        replicas.stop()
