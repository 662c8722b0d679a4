"""Agencies write records through a real hub over mutual TLS onto a real custom ledger
(and a real Annals node):
the write is final, reads back verified over gRPC, verifies offline, is applied once per
request id, and every refusal (policy, schema, request id, chain) writes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.json_format import ParseDict

from devnets.base import DevnetInfo
from hub.cli import exit_codes
from tests.integration.access.test_agency_access import refused
from tonglian.v1 import chains_pb2, query_pb2
from tonglian_client.client import AsyncClient, parse_ref
from tonglian_client.credentials import Credentials
from tonglian_client.sync import Client
from tonglian_proof.bundle import encode_bundle
from tonglian_tools.hub_process import OPERATOR_ORG, HubProcess

pytestmark = pytest.mark.integration

CHAIN = "custom-1"
SCHEMA = "gov.license.business/v1"
PURPOSE = "business-registration"


def regulator_policy(write_chains: str, read_chains: str, namespaces: str = '"*"') -> str:
    """The policy of these tests: the operator, and the market regulator writing licences
    to `write_chains` and reading them on `read_chains` (YAML lists' insides)."""
    return f"""\
version: 1
principals:
  {OPERATOR_ORG}:
    operator: true
  market-regulator:
    rules:
      - name: regulator-writes-licences
        access: write
        chains: [{write_chains}]
        namespaces: [{namespaces}]
        schemas: ["gov.license.*"]
        purposes: [{PURPOSE}]
      - name: regulator-reads-licences
        chains: [{read_chains}]
        namespaces: [{namespaces}]
        purposes: [{PURPOSE}]
"""


POLICY = (
    regulator_policy(f"{CHAIN}, annals-1", f"{CHAIN}, annals-1", "licences")
    + f"""\
  tax-bureau:
    rules:
      - name: tax-reads-licences
        chains: [{CHAIN}]
        namespaces: [licences]
        purposes: [tax-assessment]
"""
)
LICENCE = {"licence_no": "W-1", "holder": "通链科技", "status": "active", "issued_on": "2026-01-05"}


class Scene:
    def __init__(self, hub: HubProcess, info: DevnetInfo, anchors: Path) -> None:
        self.hub = hub
        self.info = info
        self.anchors = anchors
        self.regulator = hub.issue("alice", org="market-regulator")
        self.tax = hub.issue("bob", org="tax-bureau")

    def client(self, creds: Credentials) -> AsyncClient:
        return AsyncClient(self.hub.address, creds)

    def tonglian(self, creds: Credentials, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "TONGLIAN_HUB": self.hub.address,
            "TONGLIAN_CERT": str(creds.cert),
            "TONGLIAN_KEY": str(creds.key),
            "TONGLIAN_CA": str(creds.ca),
            "TONGLIAN_ANCHORS": str(self.anchors),
        }
        return subprocess.run(
            [sys.executable, "-P", "-m", "hub.cli.main", *args],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip


@pytest.fixture(scope="module")
def scene(
    tmp_path_factory: pytest.TempPathFactory, custom_ledger: DevnetInfo, annals_ledger: DevnetInfo
) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("write")
    anchors = root / "anchors"
    anchors.mkdir()
    (anchors / f"{CHAIN}.json").write_text(json.dumps(custom_ledger.chain["trustAnchor"]))
    hub = HubProcess(root / "hub", policy=POLICY)
    hub.start()
    try:
        asyncio.run(hub.wait_serving())
        scene = Scene(hub, custom_ledger, anchors)
        chain = chains_pb2.Chain()
        ParseDict(custom_ledger.chain, chain)
        chain.chain_id = CHAIN
        assert hub.credentials is not None

        async def register() -> None:
            async with scene.client(hub.credentials) as ops:  # type: ignore[arg-type]
                await ops.register_chain(chain)
                await ops.register_chain(ParseDict(annals_ledger.chain, chains_pb2.Chain()))

        asyncio.run(register())
        yield scene
    finally:
        hub.stop()


async def test_put_and_wait_reads_back_verified_and_verifies_offline(
    scene: Scene, tmp_path: Path
) -> None:
    ref = f"{CHAIN}/licences/W-1"
    async with scene.client(scene.regulator) as reg:
        put = await reg.put_record(
            ref, LICENCE, schema=SCHEMA, purpose=PURPOSE, request_id="req-w1", wait=True
        )
        got = await reg.get_record(ref, purpose=PURPOSE)
    r = put.receipt
    assert r.state == query_pb2.WRITE_STATE_FINAL and not r.repeated
    assert (r.request_id, r.schema, r.ref.key) == ("req-w1", SCHEMA, "W-1")
    assert len(r.write_id) == 64 and r.block_height > 0 and r.tx_id
    assert put.record.verification.verified
    assert json.loads(put.record.record.value) == LICENCE
    # The same record over the ordinary read path: same content, same transaction.
    assert got.verification.verified
    assert json.loads(got.record.value) == LICENCE
    assert got.record.tx_id == r.tx_id and got.record.block_height == r.block_height
    assert got.record.schema == SCHEMA and got.record.version == 1
    # The audit log holds the write: who, what, where, why, the rule and the request id.
    async with scene.client(scene.hub.credentials) as ops:  # type: ignore[arg-type]
        events = await ops.audit_events(action="query.put_record")
    mine = [e for e in events if e.target == ref]
    assert [(e.principal, e.purpose, e.outcome) for e in mine] == [
        ("market-regulator/alice", PURPOSE, "ok")
    ]
    detail = json.loads(mine[0].detail_json)
    assert detail["rule"] == "regulator-writes-licences"
    assert detail["request_id"] == "req-w1" and detail["write_id"] == r.write_id
    assert detail["tx_id"] == r.tx_id and detail["state"] == "WRITE_STATE_FINAL"
    bundle = tmp_path / "w1.pb"
    bundle.write_bytes(encode_bundle(put.record.bundle))
    checked = scene.tonglian(scene.regulator, "verify", str(bundle), "--json")
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["verified"] is True and report["anchored_in"] == "the trust anchor you gave"


async def test_a_retry_with_the_same_request_id_is_applied_once(scene: Scene) -> None:
    ref = f"{CHAIN}/licences/W-2"
    value = {**LICENCE, "licence_no": "W-2"}
    async with scene.client(scene.regulator) as reg:
        first = await reg.put_record(ref, value, schema=SCHEMA, purpose=PURPOSE, request_id="r2")
        again = await reg.put_record(ref, value, schema=SCHEMA, purpose=PURPOSE, request_id="r2")
        held = await reg.get_record(ref, purpose=PURPOSE)
        assert not first.receipt.repeated
        assert again.receipt.repeated and again.receipt.state == query_pb2.WRITE_STATE_FINAL
        assert again.receipt.tx_id == first.receipt.tx_id == held.record.tx_id
        assert again.receipt.write_id == first.receipt.write_id
        assert held.record.version == 1  # the chain holds one version of the key

        # The same request id with other content: refused, and nothing is written.
        other = {**value, "status": "revoked"}
        err = await refused(
            reg.put_record(ref, other, schema=SCHEMA, purpose=PURPOSE, request_id="r2")
        )
        assert err.status == grpc.StatusCode.ALREADY_EXISTS
        assert str(err) == (
            "ALREADY_EXISTS: request id 'r2' of market-regulator was already used on chain "
            "'custom-1' for a different record; nothing was written: use a new request id "
            "for new content"
        )
        err = await refused(
            reg.put_record(
                f"{CHAIN}/licences/W-2b", value, schema=SCHEMA, purpose=PURPOSE, request_id="r2"
            )
        )
        assert err.status == grpc.StatusCode.ALREADY_EXISTS
        after = await reg.get_record(ref, purpose=PURPOSE)
        assert after.record.version == 1 and json.loads(after.record.value) == value
        await assert_absent(reg, f"{CHAIN}/licences/W-2b")


async def assert_absent(client: AsyncClient, ref: str) -> None:
    err = await refused(client.get_record(ref, purpose=PURPOSE))
    assert err.status == grpc.StatusCode.NOT_FOUND, str(err)


async def test_refused_writes_say_why_and_write_nothing(scene: Scene) -> None:
    ref = f"{CHAIN}/licences/W-3"
    async with scene.client(scene.regulator) as reg, scene.client(scene.tax) as tax:
        err = await refused(
            tax.put_record(ref, LICENCE, schema=SCHEMA, purpose="tax-assessment", request_id="t1")
        )
        assert err.status == grpc.StatusCode.PERMISSION_DENIED
        assert str(err) == (
            "PERMISSION_DENIED: no rule allows tax-bureau to write to custom-1/licences "
            "(schema gov.license.business/v1) for purpose 'tax-assessment' (rule "
            "'tax-reads-licences' does not allow writes; writing needs a rule with access: write)"
        )
        # Write does not imply read: the writer's purpose has no read rule elsewhere.
        err = await refused(
            reg.put_record(
                f"{CHAIN}/tax/W-3", LICENCE, schema=SCHEMA, purpose=PURPOSE, request_id="w3"
            )
        )
        assert err.status == grpc.StatusCode.PERMISSION_DENIED
        assert str(err) == (
            "PERMISSION_DENIED: no rule allows market-regulator to write to custom-1/tax "
            "(schema gov.license.business/v1) for purpose 'business-registration'"
        )
        err = await refused(
            reg.put_record(
                ref, {"status": "dormant"}, schema=SCHEMA, purpose=PURPOSE, request_id="w3"
            )
        )
        assert err.status == grpc.StatusCode.FAILED_PRECONDITION
        assert str(err) == (
            "FAILED_PRECONDITION: record custom-1/licences/W-3 violates "
            "gov.license.business/v1 at $.status: must be one of "
            "['active', 'suspended', 'revoked', 'expired'] (enum)"
        )
        err = await refused(
            reg.put_record(
                ref, LICENCE, schema="gov.license.other/v9", purpose=PURPOSE, request_id="w3"
            )
        )
        assert err.status == grpc.StatusCode.FAILED_PRECONDITION
        assert str(err) == (
            "FAILED_PRECONDITION: schema 'gov.license.other/v9' is not in the catalog: a write "
            "must name a schema the hub can check the value against"
        )
        for bad, why in (
            ("has space", "is malformed"),
            ("x" * 129, "is malformed"),
        ):
            err = await refused(
                reg.put_record(ref, LICENCE, schema=SCHEMA, purpose=PURPOSE, request_id=bad)
            )
            assert err.status == grpc.StatusCode.INVALID_ARGUMENT
            assert str(err) == (
                f"INVALID_ARGUMENT: request_id {bad[:80]!r} {why}: use 1 to 128 characters "
                "of A-Z a-z 0-9 . _ : -"
            )
        err = await refused(
            reg._call(
                reg._query.PutRecord(
                    query_pb2.PutRecordRequest(
                        ref=parse_ref(ref), schema=SCHEMA, value_json="{}", purpose=PURPOSE
                    )
                )
            )
        )
        assert err.status == grpc.StatusCode.INVALID_ARGUMENT
        assert str(err) == (
            "INVALID_ARGUMENT: request_id is required: choose one per record you write "
            "(e.g. a UUID) and send the same one when you retry, so the write is applied once"
        )
        err = await refused(
            reg.put_record(
                "unknown-9/licences/W-3", LICENCE, schema=SCHEMA, purpose=PURPOSE, request_id="w3"
            )
        )
        assert err.status == grpc.StatusCode.PERMISSION_DENIED  # policy first: no rule there
        await assert_absent(reg, ref)


def test_records_put_verb_writes_waits_and_saves_a_bundle(scene: Scene, tmp_path: Path) -> None:
    value = tmp_path / "licence.json"
    value.write_text(json.dumps({**LICENCE, "licence_no": "W-4"}))
    bundle = tmp_path / "w4.pb"
    args = (
        "records", "put", f"{CHAIN}/licences/W-4", "--file", str(value), "--schema", SCHEMA,
        "--purpose", PURPOSE, "--request-id", "cli-w4", "--wait", "--out", str(bundle), "--json",
    )  # fmt: skip
    done = scene.tonglian(scene.regulator, *args)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["receipt"]["state"] == "WRITE_STATE_FINAL"
    assert out["receipt"]["request_id"] == "cli-w4"
    assert out["verification"]["verified"] is True
    assert out["bundle_file"] == str(bundle)
    checked = scene.tonglian(scene.regulator, "verify", str(bundle), "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["verified"] is True
    again = scene.tonglian(scene.regulator, *args[:-3], "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["receipt"]["repeated"] is True
    text = scene.tonglian(scene.regulator, *args[:-4])
    assert "(already applied: not written again)" in text.stdout
    # Refusals keep the CLI's exit codes: a bad file, a policy refusal.
    value.write_text("{not json")
    bad = scene.tonglian(scene.regulator, *args[:-4])
    assert bad.returncode == exit_codes.USAGE
    assert f"value file {value} is not JSON" in bad.stderr
    value.write_text(json.dumps(LICENCE))
    denied = scene.tonglian(scene.tax, *args[:-4])
    assert denied.returncode == exit_codes.DENIED
    assert "no rule allows tax-bureau to write to custom-1/licences" in denied.stderr


async def test_annals_takes_writes_once(scene: Scene) -> None:
    ref = "annals-1/licences/A-1"
    value = {**LICENCE, "licence_no": "A-1"}
    async with scene.client(scene.regulator) as reg:
        put = await reg.put_record(
            ref, value, schema=SCHEMA, purpose=PURPOSE, request_id="annals-a1", wait=True
        )
        again = await reg.put_record(
            ref, value, schema=SCHEMA, purpose=PURPOSE, request_id="annals-a1"
        )
        got = await reg.get_record(ref, purpose=PURPOSE)
    assert put.receipt.state == query_pb2.WRITE_STATE_FINAL and not put.receipt.repeated
    assert put.record.verification.verified
    assert again.receipt.repeated and again.receipt.tx_id == put.receipt.tx_id
    assert got.verification.verified and json.loads(got.record.value) == value
    assert got.record.tx_id == put.receipt.tx_id and got.record.version == 1


def test_the_blocking_client_puts_too(scene: Scene) -> None:
    value = {**LICENCE, "licence_no": "S-1"}
    with Client(scene.hub.address, scene.regulator) as reg:
        put = reg.put_record(
            f"{CHAIN}/licences/S-1", value, schema=SCHEMA, purpose=PURPOSE, wait=True
        )
    assert put.receipt.state == query_pb2.WRITE_STATE_FINAL
    assert len(put.receipt.request_id) == 32  # made for the caller, to retry with
    assert json.loads(put.record.record.value) == value
