"""Agencies with different rights query a real custom ledger through a real hub over mutual TLS.

One hub process (module scope) with a policy file: the market regulator reads
licences; the tax bureau reads tax records and may only ask yes/no questions
about licences; an operator registers the chain and reads the audit log.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.protobuf.json_format import ParseDict

from devnets.base import DevnetInfo
from devnets.custom.writer import write_record
from hub import pki
from hub.cli import exit_codes
from tonglian.v1 import chains_pb2, query_pb2
from tonglian_client import predicates
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import Credentials
from tonglian_client.errors import CertificateUnusable, ClientError, HandshakeRefused
from tonglian_client.trust import hub_keys_from
from tonglian_client.verify import verify_answer, verify_record
from tonglian_proof.errors import NotAnchored
from tonglian_tools.hub_process import OPERATOR_ORG, HubProcess

pytestmark = pytest.mark.integration

CHAIN = "custom-1"
POLICY = f"""\
version: 1
principals:
  {OPERATOR_ORG}:
    operator: true
    rules:
      - name: ops-audit-anchors
        chains: ["*"]
        namespaces: [tonglian-audit]
        purposes: ["*"]
  market-regulator:
    rules:
      - name: regulator-licences
        chains: [{CHAIN}]
        namespaces: [licences]
        schemas: ["gov.license.*"]
        purposes: [business-registration]
  tax-bureau:
    rules:
      - name: tax-own-records
        chains: [{CHAIN}]
        namespaces: [tax]
        purposes: [tax-assessment]
      - name: tax-asks-about-licences
        access: predicate
        chains: [{CHAIN}]
        namespaces: [licences, residence]
        purposes: [tax-assessment]
        predicates:
          operators: [equals, less_or_equal, greater_or_equal]
"""
LICENCE = {"licence_no": "L-1", "holder": "通链科技", "status": "active", "issued_on": "2026-01-05"}


class Scene:
    def __init__(self, hub: HubProcess, info: DevnetInfo) -> None:
        self.hub = hub
        self.info = info
        assert hub.credentials is not None
        self.ops = hub.credentials
        self.regulator = hub.issue("alice", org="market-regulator")
        self.tax = hub.issue("bob", org="tax-bureau")

    def client(self, creds: Credentials) -> AsyncClient:
        return AsyncClient(self.hub.address, creds)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, custom_ledger: DevnetInfo) -> Iterator[Scene]:
    hub = HubProcess(
        tmp_path_factory.mktemp("access") / "hub",
        policy=POLICY,
        extra_args=("--anchor-chain", CHAIN),
        env={"TONGLIAN_AUDIT_ANCHOR_INTERVAL": "0.5"},
    )
    hub.start()
    try:
        asyncio.run(hub.wait_serving())
        scene = Scene(hub, custom_ledger)

        async def setup() -> None:
            url = custom_ledger.endpoints["http"]
            await write_record(url, "licences", "L-1", "gov.license.business/v1", LICENCE)
            await write_record(
                url, "licences", "L-BAD", "gov.license.business/v1", {"status": "dormant"}
            )
            await write_record(
                url,
                "tax",
                "T-1",
                "gov.tax.clearance/v1",
                {"taxpayer_id": "T-1", "status": "clear", "valid_until": "2027-01-01"},
            )
            await write_record(
                url,
                "residence",
                "P-1",
                "gov.residence.certificate/v1",
                {
                    "person_id": "P-1",
                    "address": {"city": "Shanghai"},
                    "valid_from": "2020-03-01",
                    "valid_to": "2025-06-30",
                    "status": "valid",
                },
            )
            chain = chains_pb2.Chain()
            ParseDict(custom_ledger.chain, chain)
            chain.chain_id = CHAIN
            async with scene.client(scene.ops) as ops:
                await ops.register_chain(chain)

        asyncio.run(setup())
        yield scene
    finally:
        hub.stop()


async def refused(call: object) -> ClientError:
    with pytest.raises(ClientError) as err:
        await call  # type: ignore[misc]
    return err.value


async def test_each_agency_sees_exactly_what_its_rules_allow(scene: Scene) -> None:
    async with scene.client(scene.regulator) as reg, scene.client(scene.tax) as tax:
        vr = await reg.get_record(f"{CHAIN}/licences/L-1", purpose="business-registration")
        assert json.loads(vr.record.value) == LICENCE
        with pytest.raises(NotAnchored, match="inside the bundle, which anyone can make"):
            verify_record(vr)
        hub_ca = hub_keys_from(scene.hub.pki_dir / pki.CA_CERT)
        assert verify_record(vr, hub_keys=hub_ca).proof_kind == "signed_merkle"

        err = await refused(reg.get_record(f"{CHAIN}/tax/T-1", purpose="business-registration"))
        assert err.status == grpc.StatusCode.PERMISSION_DENIED
        assert str(err) == (
            "PERMISSION_DENIED: no rule allows market-regulator to read custom-1/tax "
            "for purpose 'business-registration'"
        )
        err = await refused(reg.get_record(f"{CHAIN}/licences/L-1", purpose="curiosity"))
        assert err.status == grpc.StatusCode.PERMISSION_DENIED
        assert "no rule allows market-regulator to read custom-1/licences" in str(err)

        # Listing the whole chain: the regulator gets licences only (the bad one is refused
        # by the catalog only when it is on the page, so list from the good one's prefix).
        flt = query_pb2.RecordFilter(chain_id=CHAIN, key_prefix="L-1")
        listed = [r async for r in reg.list_records(flt, purpose="business-registration")]
        assert [r.record.ref.namespace for r in listed] == ["licences"]
        flt = query_pb2.RecordFilter(chain_id=CHAIN, key_prefix="T-")
        assert [r async for r in reg.list_records(flt, purpose="business-registration")] == []

        flt = query_pb2.RecordFilter(chain_id=CHAIN, namespace="tax")
        mine = [r async for r in tax.list_records(flt, purpose="tax-assessment")]
        assert [r.record.ref.key for r in mine] == ["T-1"]
        err = await refused(tax.get_record(f"{CHAIN}/licences/L-1", purpose="tax-assessment"))
        assert err.status == grpc.StatusCode.PERMISSION_DENIED
        assert str(err) == (
            "PERMISSION_DENIED: no rule allows tax-bureau to read custom-1/licences "
            "for purpose 'tax-assessment' (rule 'tax-asks-about-licences' allows yes/no "
            "predicates only)"
        )


async def test_predicate_answers_are_signed_and_the_record_stays(scene: Scene) -> None:
    async with scene.client(scene.tax) as tax:
        yes = await tax.evaluate_predicate(
            f"{CHAIN}/licences/L-1", predicates.equals("status", "active"), purpose="tax-assessment"
        )
        assert yes.answer is True
        checked = verify_answer(yes, scene.hub.pki_dir / pki.CA_CERT)
        assert checked.body["proof_digest"] and checked.body["principal"] == "tax-bureau/bob"
        assert b"holder" not in yes.statement  # the value is not handed out
        resident = await tax.evaluate_predicate(
            f"{CHAIN}/residence/P-1", predicates.in_force_on("2024-02-29"), purpose="tax-assessment"
        )
        assert resident.answer is True
        gone = await tax.evaluate_predicate(
            f"{CHAIN}/residence/P-1", predicates.in_force_on("2026-01-01"), purpose="tax-assessment"
        )
        assert gone.answer is False
        # A changed statement does not verify.
        forged = query_pb2.EvaluatePredicateResponse()
        forged.CopyFrom(gone)
        forged.statement = gone.statement.replace(b'"answer":false', b'"answer":true')
        forged.answer = True
        with pytest.raises(Exception, match="signature does not match the statement"):
            verify_answer(forged, scene.hub.pki_dir / pki.CA_CERT)

    async with scene.client(scene.ops) as ops:
        events = await ops.audit_events(action="query.evaluate_predicate")
    event = next(e for e in events if e.sequence == yes.audit_sequence)
    detail = json.loads(event.detail_json)
    assert detail["proof_digest"] == checked.body["proof_digest"]
    assert detail["rule"] == "tax-asks-about-licences" and detail["answer"] is True


async def test_bad_requests_get_precise_errors(scene: Scene) -> None:
    async with scene.client(scene.regulator) as reg:
        err = await refused(reg.get_record(f"{CHAIN}/licences/L-1", purpose=""))
        assert err.status == grpc.StatusCode.INVALID_ARGUMENT
        assert "purpose is required" in str(err)
        err = await refused(
            reg.get_record(f"{CHAIN}/licences/L-BAD", purpose="business-registration")
        )
        assert err.status == grpc.StatusCode.FAILED_PRECONDITION
        assert str(err) == (
            "FAILED_PRECONDITION: record custom-1/licences/L-BAD version 1 violates "
            "gov.license.business/v1 at $.status: must be one of "
            "['active', 'suspended', 'revoked', 'expired'] (enum)"
        )
        err = await refused(reg.register_chain(chains_pb2.Chain(chain_id="x")))
        assert err.status == grpc.StatusCode.PERMISSION_DENIED
        assert (
            "tonglian.v1.ChainRegistry.RegisterChain needs operator rights: the certificate "
            in str(err)
        )
        err = await refused(reg.audit_head())
        assert err.status == grpc.StatusCode.PERMISSION_DENIED


async def test_unknown_expired_revoked_and_foreign_certificates(
    scene: Scene, tmp_path: Path
) -> None:
    # Unknown: a valid certificate of an agency the policy does not name.
    stranger = scene.hub.issue("eve", org="unknown-office")
    async with scene.client(stranger) as c:
        err = await refused(c.get_record(f"{CHAIN}/licences/L-1", purpose="business-registration"))
    assert err.status == grpc.StatusCode.PERMISSION_DENIED
    assert "no rule allows unknown-office to read" in str(err)

    # Another CA: the handshake is refused; the SDK says why.
    other = tmp_path / "other-ca"
    pki.init_ca(other, name="Other CA")
    foreign = pki.issue(other, "mallory", org="market-regulator", role="agency")
    creds = Credentials(foreign.cert, foreign.key, scene.hub.pki_dir / pki.CA_CERT)
    async with scene.client(creds) as c:
        with pytest.raises(HandshakeRefused) as refusal:
            await c.list_chains()
    assert refusal.value.status == grpc.StatusCode.UNAUTHENTICATED
    assert "was issued by 'CN=Other CA,O=tonglian', not by the hub's CA" in str(refusal.value)

    # Expired before connecting: refused locally with its date.
    old = pki.issue(
        scene.hub.pki_dir,
        "old",
        org="market-regulator",
        role="agency",
        days=1,
        not_before=datetime(2020, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(CertificateUnusable, match="expired at 2020-01-02T00:00:00"):
        scene.client(Credentials(old.cert, old.key, scene.hub.pki_dir / pki.CA_CERT))

    # Expires while connected: the hub checks every call.
    issued = pki.issue(
        scene.hub.pki_dir,
        "brief",
        org="market-regulator",
        role="agency",
        days=3 / 86400,
        not_before=datetime.now(UTC),
    )
    brief = Credentials(issued.cert, issued.key, scene.hub.pki_dir / pki.CA_CERT)
    async with scene.client(brief) as c:
        await c.get_record(f"{CHAIN}/licences/L-1", purpose="business-registration")
        await asyncio.sleep(3.5)
        err = await refused(c.get_record(f"{CHAIN}/licences/L-1", purpose="business-registration"))
    assert err.status == grpc.StatusCode.UNAUTHENTICATED
    assert (
        "UNAUTHENTICATED: client certificate 'CN=brief,OU=agency,O=market-regulator' expired at"
        in str(err)
    )

    # Revoked: the hub re-reads its CRL.
    carol = scene.hub.issue("carol", org="market-regulator")
    async with scene.client(carol) as c:
        await c.get_record(f"{CHAIN}/licences/L-1", purpose="business-registration")
        serial = pki.revoke(scene.hub.pki_dir, carol.cert)
        err = await refused(c.get_record(f"{CHAIN}/licences/L-1", purpose="business-registration"))
    assert err.status == grpc.StatusCode.UNAUTHENTICATED
    assert f"(serial {serial:x}) was revoked on" in str(err)


async def test_policy_reloads_and_a_broken_file_keeps_the_old_one(scene: Scene) -> None:
    async with scene.client(scene.regulator) as reg:
        before = await refused(reg.get_record(f"{CHAIN}/tax/T-1", purpose="business-registration"))
        assert before.status == grpc.StatusCode.PERMISSION_DENIED
        wider = POLICY.replace(
            "namespaces: [licences]\n        schemas",
            "namespaces: [licences, tax]\n        schemas",
        )
        wider = wider.replace('schemas: ["gov.license.*"]', 'schemas: ["gov.*"]')
        scene.hub.write_policy(wider)
        vr = await reg.get_record(f"{CHAIN}/tax/T-1", purpose="business-registration")
        assert vr.record.ref.key == "T-1"
        scene.hub.write_policy("version: 1\nprincipals: {market-regulator: {rules: [{name: x}]}}\n")
        vr = await reg.get_record(f"{CHAIN}/tax/T-1", purpose="business-registration")
        assert vr.record.ref.key == "T-1"
        assert "keeping the previous policy in force" in scene.hub.log_tail(80)
        scene.hub.write_policy(POLICY)
        after = await refused(reg.get_record(f"{CHAIN}/tax/T-1", purpose="business-registration"))
        assert after.status == grpc.StatusCode.PERMISSION_DENIED


def _cli(scene: Scene, *args: str, check: int = 0) -> subprocess.CompletedProcess[str]:
    assert scene.hub.credentials
    creds = scene.hub.credentials
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub.cli.main",
            "--hub",
            scene.hub.address,
            "--cert",
            str(creds.cert),
            "--key",
            str(creds.key),
            "--ca",
            str(creds.ca),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == check, (result.stdout, result.stderr)
    return result


async def test_audit_log_records_every_call_and_verify_finds_tampering(
    scene: Scene, tmp_path: Path
) -> None:
    async with scene.client(scene.regulator) as reg:
        await reg.get_record(f"{CHAIN}/licences/L-1", purpose="business-registration")
        await refused(reg.get_record(f"{CHAIN}/tax/T-1", purpose="business-registration"))
    deadline = time.monotonic() + 20
    async with scene.client(scene.ops) as ops:
        while not await ops.audit_anchors():
            assert time.monotonic() < deadline, scene.hub.log_tail()
            await asyncio.sleep(0.3)
        events = await ops.audit_events(principal="market-regulator/alice")
    outcomes = [(e.action, e.target, e.purpose, e.outcome) for e in events]
    assert ("query.get_record", f"{CHAIN}/licences/L-1", "business-registration", "ok") in outcomes
    assert (
        "query.get_record",
        f"{CHAIN}/tax/T-1",
        "business-registration",
        "denied: no rule allows market-regulator to read custom-1/tax for purpose "
        "'business-registration'",
    ) in outcomes

    export = tmp_path / "audit.jsonl"
    _cli(scene, "audit", "export", str(export))
    ok = _cli(scene, "audit", "verify", "--file", str(export))
    assert "intact" in ok.stdout and f"@{CHAIN}" in ok.stdout
    lines = export.read_text().splitlines()

    def verdict(changed: list[str]) -> str:
        bad = tmp_path / "bad.jsonl"
        bad.write_text("\n".join(changed) + "\n")
        return _cli(scene, "audit", "verify", "--file", str(bad), check=exit_codes.FAILED).stdout

    changed = list(lines)
    event = json.loads(changed[3])
    event["purpose"] = "nothing to see"
    changed[3] = json.dumps(event)
    assert f"event {event['sequence']}: content does not match its hash" in verdict(changed)

    removed = lines[:4] + lines[5:]
    assert f"event {json.loads(lines[4])['sequence']}: is missing" in verdict(removed)

    swapped = list(lines)
    swapped[4], swapped[5] = swapped[5], swapped[4]
    assert f"event {json.loads(lines[4])['sequence']}: appears after event" in verdict(swapped)

    # Rewriting history and re-hashing the whole chain is caught by the anchor on chain.
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.json_format import ParseDict as Parse

    from tonglian.v1 import audit_pb2
    from tonglian_proof.audit_hash import event_hash

    rewritten, previous = [lines[0]], bytes(32)
    for line in lines[1:]:
        ev = Parse(json.loads(line), audit_pb2.AuditEvent())
        if ev.sequence == 2:
            ev.principal = "someone-else/x"
        ev.previous_hash = previous
        ev.hash = event_hash(ev)
        previous = ev.hash
        rewritten.append(json.dumps(MessageToDict(ev, preserving_proto_field_name=True)))
    report = verdict(rewritten)
    assert "hash differs from the head anchored on chain custom-1" in report
