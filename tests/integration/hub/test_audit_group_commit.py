"""Group commit loses nothing: SIGKILL a real hub under concurrent load, and every call
that got an answer is in the audit log the restarted hub serves, chain intact."""

from __future__ import annotations

import asyncio
import signal

import grpc
import pytest

from hub.audit.chain_check import check_chain
from hub.cli.connection import open_channel
from tonglian.v1 import chains_pb2, chains_pb2_grpc
from tonglian_client.client import AsyncClient
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration

CALLERS = 24
# Answered calls before the kill: enough that many share a commit.
ANSWERED_BEFORE_KILL = 400


async def test_sigkill_under_load_loses_no_answered_call(hub_process: HubProcess) -> None:
    answered: list[str] = []
    refused: list[str] = []
    enough = asyncio.Event()

    async def caller(stub: chains_pb2_grpc.ChainRegistryStub, who: int) -> None:
        n = 0
        while True:
            chain_id = f"absent-{who}-{n}"
            n += 1
            try:
                await stub.GetChain(chains_pb2.GetChainRequest(chain_id=chain_id), timeout=20)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    refused.append(f"{chain_id}: {exc.code().name}")
                    return
            answered.append(chain_id)  # NOT_FOUND is the answer; it was audited first
            if len(answered) >= ANSWERED_BEFORE_KILL:
                enough.set()

    async with open_channel(hub_process.address) as channel:
        stub = chains_pb2_grpc.ChainRegistryStub(channel)
        callers = [asyncio.ensure_future(caller(stub, w)) for w in range(CALLERS)]
        await asyncio.wait_for(enough.wait(), 120)
        assert hub_process.stop(signal.SIGKILL) == -signal.SIGKILL
        await asyncio.wait_for(asyncio.gather(*callers), 60)
    # Every caller was still calling when the hub died: the kill hit the hub under load.
    assert len(refused) == CALLERS, refused

    hub_process.start()
    await hub_process.wait_serving()
    async with AsyncClient(hub_process.address, hub_process.credentials) as client:
        events = await client.export_audit()
    assert check_chain(events) == []
    logged = {e.target for e in events if e.action == "chains.get_chain"}
    missing = [c for c in answered if c not in logged]
    assert missing == [], f"{len(missing)} of {len(answered)} answered calls not in the log"
    outcomes = {e.outcome for e in events if e.action == "chains.get_chain"}
    assert outcomes == {"error: NOT_FOUND"}
