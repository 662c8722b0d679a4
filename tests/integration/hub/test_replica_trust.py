"""Every replica sees every change of trust within a second (issue 27, attack 8).

Two `tonglian serve` replicas on one real PostgreSQL, a real custom ledger: a chain
removed through replica A is refused by replica B, and a chain registered anew through
A with rotated validator keys is verified by B against the new keys only, within 1 s
of A's answer, although B had the old copy cached (it served a read just before); a
certificate revoked in A's CRL file is refused by B within 1 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509

from devnets.base import DevnetInfo
from devnets.custom.ledger import validators
from devnets.custom.network import CustomDevnet
from hub import pki
from hub.cli.connection import open_channel
from tests.integration.relay.conftest import append_many, chain_of, register
from tonglian.v1 import chains_pb2, chains_pb2_grpc, query_pb2, query_pb2_grpc, records_pb2
from tonglian_client.channel import open_channel as open_channel_with
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration

CHAIN = "custom-1"
# The bound the issue sets for a change of trust to reach every replica.
BOUND = 1.0


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[CustomDevnet]:
    devnet = CustomDevnet(tmp_path / "ledger", block_interval_ms=100)
    try:
        yield devnet
    finally:
        asyncio.run(devnet.down())


@pytest.fixture
async def replicas(tmp_path: Path, postgres_url: str) -> AsyncIterator[dict[str, HubProcess]]:
    hubs = {
        name: HubProcess(
            tmp_path / name,
            insecure=True,
            extra_args=("--store", postgres_url, "--replica-id", name),
        )
        for name in ("hub-a", "hub-b")
    }
    for hub in hubs.values():
        hub.start()
    try:
        await asyncio.gather(*(hub.wait_serving() for hub in hubs.values()))
        yield hubs
    finally:
        for hub in hubs.values():
            hub.stop()


async def read(hub: HubProcess, key: str) -> query_pb2.GetRecordResponse:
    async with open_channel(hub.address, insecure=True) as channel:
        return await query_pb2_grpc.QueryStub(channel).GetRecord(
            query_pb2.GetRecordRequest(
                ref=records_pb2.RecordRef(chain_id=CHAIN, namespace="licences", key=key),
                purpose="replica-trust-test",
            ),
            timeout=10,
        )


async def refused_within(
    ask: Callable[[], Awaitable[object]], code: grpc.StatusCode
) -> tuple[grpc.aio.AioRpcError, float]:
    """Asks until the answer is `code`; the error and how long it took (at most 2 x BOUND)."""
    start = time.monotonic()
    while True:
        try:
            await ask()
        except grpc.aio.AioRpcError as exc:
            if exc.code() == code:
                return exc, time.monotonic() - start
        assert time.monotonic() - start < 2 * BOUND, f"still not {code.name} after {2 * BOUND}s"
        await asyncio.sleep(0.02)


async def remove_chain(hub: HubProcess) -> None:
    async with open_channel(hub.address, insecure=True) as channel:
        await chains_pb2_grpc.ChainRegistryStub(channel).RemoveChain(
            chains_pb2.RemoveChainRequest(chain_id=CHAIN), timeout=10
        )


def chains_show(hub: HubProcess) -> dict[str, object]:
    """`tonglian chains show custom-1 --json` through `hub`, as a subprocess."""
    done = subprocess.run(
        [sys.executable, "-P", "-m", "hub.cli.main", "--hub", hub.address,
         "chains", "show", CHAIN, "--json"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "TONGLIAN_INSECURE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown: dict[str, object] = json.loads(done.stdout)
    return shown


def pki_revoke(cert: Path, folder: Path) -> None:
    """`tonglian pki revoke CERT --dir FOLDER`, as a subprocess."""
    done = subprocess.run(
        [sys.executable, "-P", "-m", "hub.cli.main", "pki", "revoke", str(cert),
         "--dir", str(folder)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def rotate_keys(ledger: CustomDevnet, ledger_id: str) -> None:
    """New validator keys for the (stopped) ledger: its next blocks are signed by them."""
    ledger.validators_file.write_text(json.dumps(validators.generate(ledger_id, ledger.n)))


def keys_of(info: DevnetInfo) -> list[str]:
    return [v["ed25519PublicKey"] for v in info.chain["trustAnchor"]["signedMerkle"]["validators"]]


async def test_a_chain_removed_through_one_replica_is_refused_by_the_other_within_1s(
    ledger: CustomDevnet, replicas: dict[str, HubProcess]
) -> None:
    info = await ledger.up(lambda _line: None)
    await append_many(info.endpoints["http"], "licences", 1)
    a, b = replicas["hub-a"], replicas["hub-b"]
    async with open_channel(a.address, insecure=True) as channel:
        await register(channel, chain_of(info, CHAIN))
    assert (await read(b, "rec:00000")).record.verification.verified  # B caches custom-1

    await remove_chain(a)
    error, took = await refused_within(lambda: read(b, "rec:00000"), grpc.StatusCode.NOT_FOUND)

    assert took < BOUND, f"replica B served the removed chain for {took:.2f}s"
    assert error.details() == (
        "no chain 'custom-1' is registered; `tonglian chains list` shows them"
    )


async def test_a_chain_anchored_anew_through_one_replica_is_verified_by_the_other_by_new_keys(
    ledger: CustomDevnet, replicas: dict[str, HubProcess]
) -> None:
    info = await ledger.up(lambda _line: None)
    await append_many(info.endpoints["http"], "licences", 1, prefix="old")
    a, b = replicas["hub-a"], replicas["hub-b"]
    async with open_channel(a.address, insecure=True) as channel:
        await register(channel, chain_of(info, CHAIN))
    assert (await read(b, "old:00000")).record.verification.verified  # B caches the old keys

    # The validators' keys are compromised: the ledger restarts with new ones, and the
    # chain is registered anew through A with the new keys as its trust anchor.
    await ledger.down()
    rotate_keys(ledger, str(info.extra["ledger_id"]))
    rotated = await ledger.up(lambda _line: None)
    assert set(keys_of(rotated)).isdisjoint(keys_of(info))
    await append_many(rotated.endpoints["http"], "licences", 1, prefix="new")
    await remove_chain(a)
    async with open_channel(a.address, insecure=True) as channel:
        await register(channel, chain_of(rotated, CHAIN))
    error, took = await refused_within(
        lambda: read(b, "old:00000"), grpc.StatusCode.FAILED_PRECONDITION
    )

    assert took < BOUND, f"replica B verified an old-key block for {took:.2f}s"
    assert error.details() == (
        "Ed25519 signature of validator 'v1' does not verify over the header of block 1"
    )
    assert (await read(b, "new:00000")).record.verification.verified
    shown = chains_show(b)
    anchor = shown["trust_anchor"]
    assert isinstance(anchor, dict)
    assert [v["ed25519_public_key"] for v in anchor["signed_merkle"]["validators"]] == keys_of(
        rotated
    )


async def test_a_certificate_revoked_beside_one_replica_is_refused_by_the_other_within_1s(
    tmp_path: Path, postgres_url: str
) -> None:
    """Each replica reads its own copy of the PKI folder (as on two machines): the CRL
    written by `tonglian pki revoke` beside A reaches B through the store."""
    a = HubProcess(
        tmp_path / "hub-a", extra_args=("--store", postgres_url, "--replica-id", "hub-a")
    )
    shutil.copytree(a.pki_dir, tmp_path / "hub-b" / "dev-pki")
    shutil.copy(a.policy_path, tmp_path / "hub-b" / "policy.yaml")
    b = HubProcess(
        tmp_path / "hub-b", extra_args=("--store", postgres_url, "--replica-id", "hub-b")
    )
    agent = a.issue("agent-1", org="city-tax")
    b_crl = (b.pki_dir / pki.CRL).read_bytes()
    for hub in (a, b):
        hub.start()
    try:
        await asyncio.gather(a.wait_serving(), b.wait_serving())

        async def list_chains() -> None:
            async with open_channel_with(b.address, agent) as channel:
                await chains_pb2_grpc.ChainRegistryStub(channel).ListChains(
                    chains_pb2.ListChainsRequest(), timeout=5
                )

        await list_chains()  # B lets the agent in
        pki_revoke(agent.cert, a.pki_dir)
        error, took = await refused_within(list_chains, grpc.StatusCode.UNAUTHENTICATED)

        assert took < BOUND, f"replica B let a revoked certificate in for {took:.2f}s"
        assert (b.pki_dir / pki.CRL).read_bytes() == b_crl  # B's own CRL file is unchanged
        serial = x509.load_pem_x509_certificate(agent.cert.read_bytes()).serial_number
        assert str(error.details()).startswith(
            f"client certificate 'CN=agent-1,OU=agency,O=city-tax' (serial {serial:x}) was "
            "revoked on "
        ), error.details()
    finally:
        for hub in (a, b):
            hub.stop()


async def test_a_watch_on_the_other_replica_ends_when_its_chain_is_anchored_anew(
    ledger: CustomDevnet, replicas: dict[str, HubProcess]
) -> None:
    """A watch verifies block after block against the chain it began with: once the chain
    is registered anew through A, B verifies nothing more under the old registration."""
    info = await ledger.up(lambda _line: None)
    a, b = replicas["hub-a"], replicas["hub-b"]
    async with open_channel(a.address, insecure=True) as channel:
        await register(channel, chain_of(info, CHAIN))
    async with open_channel(b.address, insecure=True) as channel:
        watch = query_pb2_grpc.QueryStub(channel).WatchRecords(
            query_pb2.WatchRecordsRequest(
                filter=query_pb2.RecordFilter(chain_id=CHAIN, namespace="licences", from_height=1),
                purpose="replica-trust-test",
            )
        )
        await append_many(info.endpoints["http"], "licences", 1, prefix="before")
        first = await asyncio.wait_for(watch.read(), 10)
        assert first.record.record.ref.key == "before:00000"

        await remove_chain(a)
        anew = chain_of(info, CHAIN)
        anew.adapter.timeout_ms = 6000
        async with open_channel(a.address, insecure=True) as other:
            await register(other, anew)
        # The next record, committed under the new registration, ends B's watch.
        await append_many(info.endpoints["http"], "licences", 1, prefix="after")
        committed = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            while True:
                await asyncio.wait_for(watch.read(), 10)
        took = time.monotonic() - committed

    assert took < BOUND, f"B's watch went on under the old registration for {took:.2f}s"
    assert ended.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert ended.value.details() == (
        "chain 'custom-1' was removed and registered anew after this watch began; "
        "watch again to follow it as it is registered now"
    )


POLICY = """\
version: 1
principals:
  tonglian-ops:
    operator: true
    rules: [{name: ops-read-everything, chains: ["*"], purposes: ["*"]}]
  city-tax:
    rules: [{name: tax-reads-licences, chains: [custom-1], namespaces: [licences],
             purposes: [tax-assessment]}]
"""


async def test_a_policy_change_reaches_every_replica_that_reads_the_file_within_1s(
    tmp_path: Path, postgres_url: str, ledger: CustomDevnet
) -> None:
    """Replicas sharing one policy file (a shared volume): B re-reads it on its next call."""
    a = HubProcess(
        tmp_path / "hub-a",
        policy=POLICY,
        extra_args=("--store", postgres_url, "--replica-id", "hub-a"),
    )
    shutil.copytree(a.pki_dir, tmp_path / "hub-b" / "dev-pki")
    b = HubProcess(
        tmp_path / "hub-b",
        extra_args=(
            "--store",
            postgres_url,
            "--replica-id",
            "hub-b",
            "--policy",
            str(a.policy_path),
        ),
    )
    agent = a.issue("agent-1", org="city-tax")
    info = await ledger.up(lambda _line: None)
    await append_many(info.endpoints["http"], "licences", 1)
    for hub in (a, b):
        hub.start()
    try:
        await asyncio.gather(a.wait_serving(), b.wait_serving())
        async with open_channel_with(a.address, a.credentials) as channel:
            await register(channel, chain_of(info, CHAIN))

        async def read_as_agent() -> query_pb2.GetRecordResponse:
            async with open_channel_with(b.address, agent) as channel:
                return await query_pb2_grpc.QueryStub(channel).GetRecord(
                    query_pb2.GetRecordRequest(
                        ref=records_pb2.RecordRef(
                            chain_id=CHAIN, namespace="licences", key="rec:00000"
                        ),
                        purpose="tax-assessment",
                    ),
                    timeout=10,
                )

        assert (await read_as_agent()).record.verification.verified
        # The operator narrows city-tax's rule to another chain, in the one shared file.
        a.write_policy(POLICY.replace("chains: [custom-1]", "chains: [evm-1]"))
        error, took = await refused_within(read_as_agent, grpc.StatusCode.PERMISSION_DENIED)

        assert took < BOUND, f"replica B applied the old policy for {took:.2f}s"
        assert error.details() == (
            "no rule allows city-tax to read custom-1/licences for purpose 'tax-assessment'"
        )
    finally:
        for hub in (a, b):
            hub.stop()
