"""The hub with adapters from the SDK, all real processes: Annals through its plugin, and the
custom ledger through `tonglian adapter serve` registered with `chains add --adapter remote`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf.json_format import ParseDict

from devnets.annals.writer import write_entry
from devnets.base import DevnetInfo
from devnets.custom.writer import write_record
from tonglian.v1 import chains_pb2, chains_pb2_grpc, query_pb2, query_pb2_grpc, records_pb2
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration


async def tonglian(*args: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-P", "-m", "hub.cli.main", *args,
        env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_annals_registered_and_queried(
    hub_channel: grpc.aio.Channel, annals_ledger: DevnetInfo
) -> None:
    chain = ParseDict(annals_ledger.chain, chains_pb2.Chain())
    registry = chains_pb2_grpc.ChainRegistryStub(hub_channel)
    await registry.RegisterChain(chains_pb2.RegisterChainRequest(chain=chain))
    url = annals_ledger.endpoints["http"]
    first = await write_entry(url, "permits", "p-1", "gov.permit/v1", {"holder": "甲", "n": 1})
    await write_entry(url, "permits", "p-1", "gov.permit/v1", {"holder": "甲", "n": 2})
    query = query_pb2_grpc.QueryStub(hub_channel)
    ref = records_pb2.RecordRef(chain_id="annals-1", namespace="permits", key="p-1")
    latest = (await query.GetRecord(query_pb2.GetRecordRequest(ref=ref, purpose="t"))).record
    assert latest.verification.verified and latest.verification.proof_kind == "signed_merkle"
    assert latest.record.version == 2
    assert latest.record.value == '{"holder":"甲","n":2}'.encode()
    older = await query.GetRecord(
        query_pb2.GetRecordRequest(ref=ref, at_height=first.block_number, purpose="t")
    )
    assert older.record.record.version == 1
    listed = await query.ListRecords(
        query_pb2.ListRecordsRequest(
            filter=query_pb2.RecordFilter(chain_id="annals-1", namespace="permits"), purpose="t"
        )
    )
    assert [r.record.version for r in listed.records] == [1, 2]
    assert all(r.verification.verified for r in listed.records)


async def test_remote_adapter_through_the_cli(
    hub_process: HubProcess, custom_ledger: DevnetInfo, tmp_path: Path
) -> None:
    root = tmp_path / "state"
    (root / "custom").mkdir(parents=True)
    (root / "custom" / "devnet.json").write_text(custom_ledger.model_dump_json())
    env = {"TONGLIAN_STATE_DIR": str(root), "TONGLIAN_HUB": hub_process.address}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-P", "-m", "hub.cli.main", "adapter", "serve", "custom",
        "--from-devnet", "custom", "--listen", "127.0.0.1:0",
        env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = (await asyncio.wait_for(server.stdout.readline(), 20)).decode()
        address = line.split(" on ")[1].split()[0]
        code, out = await tonglian(
            "chains", "add", "--from-devnet", "custom", "--chain-id", "via-remote",
            "--adapter", "remote", "--adapter-address", address, env=env,
        )  # fmt: skip
        assert code == 0, out
        assert "adapter remote" in out
        await write_record(
            custom_ledger.endpoints["http"], "licences", "rm-1", "gov.l/v1", {"ok": True}
        )
        code, out = await tonglian("query", "via-remote/licences/rm-1", "--purpose", "t", env=env)
        assert code == 0, out
        assert "verified yes (signed_merkle proof)" in out
        code, out = await tonglian("adapter", "list", env=env)
        assert code == 0 and "annals" in out and "remote" in out
    finally:
        server.terminate()
        await server.wait()
    # The adapter process is gone: the hub answers UNAVAILABLE naming the chain, and stays up.
    code, out = await tonglian("query", "via-remote/licences/rm-1", "--purpose", "t", env=env)
    assert code == 3, out
    assert "via-remote" in out and "cannot reach the hub" not in out
