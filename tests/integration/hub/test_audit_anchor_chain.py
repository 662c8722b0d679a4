"""`tonglian audit verify` reads the anchored heads back from the anchor chain.

The attack of issue 14: with the hub stopped, change event 4 in its store,
re-hash every event after it, cut the events after the last anchor and
`DELETE FROM audit_anchors`. The log is then consistent with itself and the
hub's table is empty; the heads on the custom ledger still name the old hashes.

And the attack of issue 27 (item 7): the operator who runs `audit verify` has operator
rights and no read rule at all. Reading the heads back is implied by the right to read
the log, audited as such; an agency, or an operator scoped to some chains, is refused.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf.json_format import ParseDict

from devnets.base import DevnetInfo
from devnets.custom.writer import write_record
from hub.cli import exit_codes
from tonglian.v1 import audit_pb2, chains_pb2
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import Credentials
from tonglian_client.errors import PolicyDenied
from tonglian_proof.audit_hash import event_hash, timestamp_of
from tonglian_tools.hub_process import OPERATOR_ORG, HubProcess

pytestmark = pytest.mark.integration

CHAIN = "custom-1"
AGENCY_ORG = "market-regulator"
SCOPED_ORG = "custom-ops"
# The operator may read the audit log (operator rights over every chain) and no record:
# no rule of this policy allows any read of the anchor chain.
POLICY = f"""\
version: 1
principals:
  {OPERATOR_ORG}:
    operator: true
  {SCOPED_ORG}:
    operator: {{name: ops-custom, chains: ["custom-*"]}}
  {AGENCY_ORG}:
    rules:
      - name: regulator-reads-custom
        chains: ["*"]
        namespaces: ["*"]
        purposes: ["*"]
"""
LICENCE = {"licence_no": "L-7", "holder": "Acme", "status": "active", "issued_on": "2026-01-05"}


def cli(
    hub: HubProcess, *args: str, check: int, creds: Credentials | None = None
) -> subprocess.CompletedProcess[str]:
    creds = creds or hub.credentials
    assert creds is not None
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub.cli.main",
            "--hub",
            hub.address,
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
        timeout=120,
    )
    assert result.returncode == check, (result.stdout, result.stderr)
    return result


def event_of(row: tuple[object, ...]) -> audit_pb2.AuditEvent:
    return audit_pb2.AuditEvent(
        sequence=int(str(row[0])),
        previous_hash=bytes(row[1]),  # type: ignore[call-overload]
        hash=bytes(row[2]),  # type: ignore[call-overload]
        time=timestamp_of(int(str(row[3]))),
        principal=str(row[4]),
        action=str(row[5]),
        target=str(row[6]),
        purpose=str(row[7]),
        outcome=str(row[8]),
        detail_json=str(row[9]),
    )


def tamper(db: Path, cut_after: int) -> list[audit_pb2.AuditAnchor]:
    """Changes event 4, re-hashes the rest, cuts after `cut_after`, empties the anchor
    table; returns the anchors the table held."""
    conn = sqlite3.connect(db)
    try:
        anchors = [
            audit_pb2.AuditAnchor.FromString(blob)
            for (blob,) in conn.execute("SELECT anchor FROM audit_anchors ORDER BY sequence")
        ]
        conn.execute("DELETE FROM audit_events WHERE sequence > ?", (cut_after,))
        rows = conn.execute(
            "SELECT sequence, previous_hash, hash, time_us, principal, action, target, purpose, "
            "outcome, detail_json FROM audit_events WHERE sequence >= 3 ORDER BY sequence"
        ).fetchall()
        previous = bytes(rows[0][2])
        for row in rows[1:]:
            event = event_of(row)
            if event.sequence == 4:
                event.purpose = "nothing to see here"
            event.previous_hash = previous
            event.hash = event_hash(event)
            previous = event.hash
            conn.execute(
                "UPDATE audit_events SET previous_hash = ?, hash = ?, purpose = ? "
                "WHERE sequence = ?",
                (event.previous_hash, event.hash, event.purpose, event.sequence),
            )
        conn.execute("DELETE FROM audit_anchors")
        conn.commit()
    finally:
        conn.close()
    return anchors


async def test_audit_verify_reads_the_anchored_heads_back_from_the_chain(
    tmp_path: Path, custom_ledger: DevnetInfo
) -> None:
    namespace = f"audit-{uuid.uuid4().hex[:8]}"
    data = tmp_path / "hub"
    first = HubProcess(
        data,
        policy=POLICY,
        extra_args=("--anchor-chain", CHAIN),
        env={
            "TONGLIAN_AUDIT_ANCHOR_NAMESPACE": namespace,
            "TONGLIAN_AUDIT_ANCHOR_INTERVAL": "0.5",
        },
    )
    first.start()
    try:
        await first.wait_serving()
        assert first.credentials is not None
        url = custom_ledger.endpoints["http"]
        await write_record(url, "licences", "L-7", "gov.license.business/v1", LICENCE)
        chain = chains_pb2.Chain()
        ParseDict(custom_ledger.chain, chain)
        chain.chain_id = CHAIN
        async with AsyncClient(first.address, first.credentials) as ops:
            await ops.register_chain(chain)
            deadline = time.monotonic() + 60
            while True:
                await ops.audit_head()
                anchors = await ops.audit_anchors()
                if len(anchors) >= 2 and anchors[-1].sequence >= 6:
                    break
                assert time.monotonic() < deadline, first.log_tail()
                await asyncio.sleep(0.3)

            with pytest.raises(PolicyDenied) as no_read_rule:
                await ops.get_record(f"{CHAIN}/licences/L-7", purpose="audit-verification")
            assert no_read_rule.value.status == grpc.StatusCode.PERMISSION_DENIED

        intact = cli(first, "audit", "verify", check=exit_codes.OK)
        assert intact.stderr == ""
        lines = intact.stdout.splitlines()
        assert len(lines) == 2, intact.stdout
        assert re.fullmatch(
            r"the hub's log: intact: \d+ events chained by hash; anchors verified: "
            rf"\d+@{CHAIN}(, \d+@{CHAIN})+",
            lines[0],
        ), lines[0]
        assert re.fullmatch(
            rf"  heads on chain {CHAIN}/{namespace}: \d+; unanchored tail: \d+ event\(s\) "
            r"after event \d+, which could be cut without notice until the next anchor",
            lines[1],
        ), lines[1]
        await _implied_read_is_audited_and_refused_without_audit_rights(first, namespace)
    finally:
        first.stop()

    db = data / "hub.sqlite3"
    conn = sqlite3.connect(db)
    (last_anchored,) = conn.execute("SELECT MAX(sequence) FROM audit_anchors").fetchone()
    conn.close()
    table = tamper(db, cut_after=last_anchored)
    assert [a.sequence for a in table][-1] == last_anchored

    # Restarted with anchoring rare, so no new head lands while it is checked.
    second = HubProcess(
        data,
        policy=POLICY,
        extra_args=("--anchor-chain", CHAIN),
        env={
            "TONGLIAN_AUDIT_ANCHOR_NAMESPACE": namespace,
            "TONGLIAN_AUDIT_ANCHOR_INTERVAL": "3600",
            "TONGLIAN_AUDIT_ANCHOR_EVERY": "1000000",
        },
    )
    second.start()
    try:
        await second.wait_serving()
        report = json.loads(
            cli(second, "audit", "verify", "--json", check=exit_codes.FAILED).stdout
        )
        text = cli(second, "audit", "verify", check=exit_codes.FAILED).stdout
    finally:
        second.stop()

    assert report["intact"] is False and report["anchors"] == 0
    on_chain = report["anchor_chain"]
    assert on_chain["chain_id"] == CHAIN and on_chain["namespace"] == namespace
    assert set(on_chain["heads"]) >= {a.sequence for a in table}
    problems = {(f["sequence"], f["problem"]) for f in report["findings"]}
    # The re-hashed log is consistent with itself: only the heads on the chain betray it.
    assert not [p for _, p in problems if "content does not match" in p or "links to" in p]
    for anchor in table:
        where = f"(tx {anchor.tx_id}, block {anchor.block_height})"
        missing = (
            f"was anchored on chain {CHAIN}/{namespace}/{anchor.key} {where} but is missing "
            "from the hub's anchor table"
        )
        assert (anchor.sequence, missing) in problems
        assert f"  ✗ event {anchor.sequence}: {missing}" in text
        differs = f"hash differs from the head anchored on chain {CHAIN} {where}"
        assert ((anchor.sequence, differs) in problems) == (anchor.sequence >= 4)
        assert (f"  ✗ event {anchor.sequence}: {differs}" in text) == (anchor.sequence >= 4)
    # Events after the last head were cut: nothing shows it but the tail, which is reported.
    assert on_chain["unanchored_tail"] == {
        "after_sequence": last_anchored,
        "events": report["head_sequence"] - last_anchored,
    }
    assert report["head_sequence"] > last_anchored
    assert f"event(s) after event {last_anchored}, which could be cut without notice" in text


async def _implied_read_is_audited_and_refused_without_audit_rights(
    hub: HubProcess, namespace: str
) -> None:
    """The operator's read of the heads is in the log under the implied right; an agency
    (whose read rules cover the anchor chain) and an operator scoped to custom-* are
    refused, through the CLI and the RPC alike, and their refusals are in the log."""
    agency = hub.issue("alice", org=AGENCY_ORG)
    scoped = hub.issue("carol", org=SCOPED_ORG, role="operator")
    refused_agency = cli(hub, "audit", "verify", check=exit_codes.DENIED, creds=agency)
    assert refused_agency.stdout == ""
    assert refused_agency.stderr == (
        "tonglian: PERMISSION_DENIED: tonglian.v1.Audit.GetLogHead needs operator rights: "
        f"the certificate of {AGENCY_ORG}/alice has role agency\n"
    )
    refused_scoped = cli(hub, "audit", "verify", check=exit_codes.DENIED, creds=scoped)
    assert refused_scoped.stderr == (
        "tonglian: PERMISSION_DENIED: rule 'ops-custom' lets custom-ops operate chains "
        "['custom-*'] only; "
        "tonglian.v1.Audit.GetLogHead (the audit log) spans every chain and needs an "
        "operator rule for chains ['*']\n"
    )
    for creds, message in (
        (agency, f"the certificate of {AGENCY_ORG}/alice has role agency"),
        (scoped, "rule 'ops-custom' lets custom-ops operate chains ['custom-*'] only"),
    ):
        async with AsyncClient(hub.address, creds) as caller:
            with pytest.raises(PolicyDenied) as denied:
                _ = [r async for r in caller.audit_chain_heads()]
        assert denied.value.status == grpc.StatusCode.PERMISSION_DENIED
        assert message in str(denied.value)
        assert "tonglian.v1.Audit.ListChainHeads" in str(denied.value)

    assert hub.credentials is not None
    async with AsyncClient(hub.address, hub.credentials) as ops:
        reads = await ops.audit_events(action="audit.list_chain_heads")
    target = f"{CHAIN}/{namespace}/head-*"
    granted = [e for e in reads if e.outcome == "ok"]
    assert granted, [(e.principal, e.outcome) for e in reads]
    for event in granted:
        assert (event.principal, event.target, event.purpose) == (
            f"{OPERATOR_ORG}/operator",
            target,
            "audit-verification",
        )
        detail = json.loads(event.detail_json)
        assert detail["rule"] == "audit-rights"
        assert detail["records"] >= 2
    refused = {(e.principal, e.outcome.partition(":")[0]) for e in reads if e.outcome != "ok"}
    assert refused == {
        (f"{AGENCY_ORG}/alice", "denied"),
        (f"{SCOPED_ORG}/carol", "denied"),
    }
