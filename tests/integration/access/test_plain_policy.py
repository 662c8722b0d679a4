"""The oracle attacks, run against the policy the docs show and against a plain one.

"Documented" is docs/examples/policy.yaml, the policy docs/security.md shows (with
`namespace_schemas` and `predicates:` blocks); "plain" is the same file without them.
Each runs in its own hub over mutual TLS, reading its own real custom ledger. In
neither may an agency learn whether a record it may not read exists (present and
missing get one status and one message), nor recover a value by yes/no questions.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf.json_format import ParseDict

from devnets.base import DevnetInfo
from devnets.custom.network import CustomDevnet
from devnets.custom.writer import write_record
from hub import pki
from tests.integration.cli.runner import Cli
from tonglian.v1 import chains_pb2, query_pb2, query_pb2_grpc
from tonglian_client import predicates
from tonglian_client.channel import open_channel
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import Credentials
from tonglian_client.errors import ClientError
from tonglian_client.verify import verify_answer
from tonglian_proof.errors import ProofRejected
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "policy.yaml"
CHAIN = "custom-1"
RESIDENCE = "gov.residence.certificate/v1"
LICENCE_SCHEMA = "gov.license.business/v1"
TAX_SCHEMA = "gov.tax.clearance/v1"
REGISTRATION = "business-registration"
ASSESSMENT = "tax-assessment"
PERSON = {
    "person_id": "P-1",
    "address": {"city": "Shanghai"},
    "valid_from": "2020-03-01",
    "status": "valid",
}
LICENCE = {"licence_no": "L-9", "holder": "通链科技", "status": "active"}
TAX = {"taxpayer_id": "T-9", "status": "arrears", "valid_until": "2027-01-01"}
AMOUNT = 123456.78
BAD_AMOUNT = -98765.43


def policy_text(kind: str) -> str:
    """The documented example, or the same rules plain: no namespace_schemas, no predicates."""
    text = EXAMPLE.read_text()
    if kind == "documented":
        return text
    doc = yaml.safe_load(text)
    del doc["namespace_schemas"]
    for entry in doc["principals"].values():
        for rule in entry.get("rules", []):
            rule.pop("predicates", None)
    return yaml.safe_dump(doc, sort_keys=False)


class Scene:
    def __init__(self, kind: str, hub: HubProcess) -> None:
        self.kind = kind
        self.hub = hub
        assert hub.credentials is not None
        self.ops = hub.credentials
        self.regulator = hub.issue("alice", org="market-regulator")
        self.tax = hub.issue("bob", org="tax-bureau")

    def client(self, creds: Credentials) -> AsyncClient:
        return AsyncClient(self.hub.address, creds)

    @property
    def plain(self) -> bool:
        return self.kind == "plain"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetInfo]:
    """A ledger of this module's own, so its namespaces hold exactly these records."""
    devnet = CustomDevnet(tmp_path_factory.mktemp("plain-policy-ledger"), block_interval_ms=100)
    try:
        info = asyncio.run(devnet.up(lambda _line: None))

        async def write() -> None:
            url = info.endpoints["http"]
            await write_record(url, "residence", "P-1", RESIDENCE, PERSON)
            await write_record(url, "people", "P-1", RESIDENCE, PERSON)
            await write_record(url, "people", "L-9", LICENCE_SCHEMA, LICENCE)
            # The bad record comes first: listings and watches must pass over it.
            bad = {**TAX, "taxpayer_id": "T-BAD", "amount_due": BAD_AMOUNT}
            await write_record(url, "tax", "T-BAD", TAX_SCHEMA, bad)
            await write_record(url, "tax", "T-9", TAX_SCHEMA, {**TAX, "amount_due": AMOUNT})

        asyncio.run(write())
        yield info
    finally:
        asyncio.run(devnet.down())


@pytest.fixture(scope="module", params=["documented", "plain"])
def scene(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    ledger: DevnetInfo,
) -> Iterator[Scene]:
    kind = str(request.param)
    hub = HubProcess(tmp_path_factory.mktemp(f"hub-{kind}") / "hub", policy=policy_text(kind))
    hub.start()
    try:
        asyncio.run(hub.wait_serving())
        scene = Scene(kind, hub)

        async def register() -> None:
            chain = chains_pb2.Chain()
            ParseDict(ledger.chain, chain)
            chain.chain_id = CHAIN
            async with scene.client(scene.ops) as ops:
                await ops.register_chain(chain)

        asyncio.run(register())
        yield scene
    finally:
        hub.stop()


async def refused(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(ClientError) as err:
        await call
    return err.value.status, str(err.value)


async def drained(stream: AsyncIterator[Any]) -> None:
    async for _ in stream:
        pass


def _less_than(amount: float) -> query_pb2.Predicate:
    return predicates.less_than("amount_due", amount)


async def test_a_namespace_deny_rule_refuses_before_the_read_naming_no_schema(
    scene: Scene,
) -> None:
    expected = (
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED: rule 'regulator-no-residence' denies market-regulator to read "
        f"{CHAIN}/residence for purpose '{REGISTRATION}'",
    )
    flt = query_pb2.RecordFilter(chain_id=CHAIN, namespace="residence")
    async with scene.client(scene.regulator) as reg:
        there = await refused(reg.get_record(f"{CHAIN}/residence/P-1", purpose=REGISTRATION))
        absent = await refused(reg.get_record(f"{CHAIN}/residence/NOBODY", purpose=REGISTRATION))
        # A listing or a watch of the namespace is refused naming the rule, not answered empty.
        listing = await refused(drained(reg.list_records(flt, purpose=REGISTRATION)))
        watch = await refused(drained(reg.watch_records(flt, purpose=REGISTRATION)))
    assert there == absent == listing == watch == expected

    async with scene.client(scene.ops) as ops:
        events = await ops.audit_events(principal="market-regulator/alice")
    outcomes = {e.target: e.outcome for e in events if e.action == "query.get_record"}
    # Refused before the read: even the audit log has no "not found" for the missing key.
    assert outcomes[f"{CHAIN}/residence/NOBODY"] == "denied: regulator-no-residence"
    assert outcomes[f"{CHAIN}/residence/P-1"] == "denied: regulator-no-residence"


async def test_a_decision_by_schema_answers_missing_and_forbidden_alike(scene: Scene) -> None:
    def expected(key: str, verb: str = "read") -> tuple[grpc.StatusCode, str]:
        return (
            grpc.StatusCode.PERMISSION_DENIED,
            f"PERMISSION_DENIED: market-regulator may not {verb} {CHAIN}/people/{key} for "
            f"purpose '{REGISTRATION}', or it does not exist: rules 'regulator-no-personal', "
            "'regulator-reads' decide by the record's schema",
        )

    status = predicates.equals("status", "valid")
    async with scene.client(scene.regulator) as reg:
        for key in ("P-1", "NOBODY"):
            got = await refused(reg.get_record(f"{CHAIN}/people/{key}", purpose=REGISTRATION))
            assert got == expected(key)
            asked = await refused(
                reg.evaluate_predicate(f"{CHAIN}/people/{key}", status, purpose=REGISTRATION)
            )
            assert asked == expected(key, "evaluate predicates on")
        allowed = await reg.get_record(f"{CHAIN}/people/L-9", purpose=REGISTRATION)
        assert json.loads(allowed.record.value) == LICENCE
        flt = query_pb2.RecordFilter(chain_id=CHAIN, namespace="people")
        listed = [r.record.ref.key async for r in reg.list_records(flt, purpose=REGISTRATION)]
        assert listed == ["L-9"]

    async with scene.client(scene.ops) as ops:
        events = await ops.audit_events(principal="market-regulator/alice")
    outcomes = {e.target: e.outcome for e in events if e.action == "query.get_record"}
    # Only the operators' audit log tells the two apart.
    assert "rule 'regulator-no-personal' denies" in outcomes[f"{CHAIN}/people/P-1"]
    assert "(not found: " in outcomes[f"{CHAIN}/people/NOBODY"]


async def test_bisection_recovers_nothing(scene: Scene) -> None:
    low, high = 0.0, 2.0**24
    answers: list[bool] = []
    refusals: list[tuple[grpc.StatusCode, str]] = []
    async with scene.client(scene.tax) as tax:
        for _ in range(31):
            middle = round((low + high) / 2, 2)
            try:
                answer = await tax.evaluate_predicate(
                    f"{CHAIN}/tax/T-9", _less_than(middle), purpose=ASSESSMENT
                )
            except ClientError as err:
                refusals.append((err.status, str(err)))
                # A refusal tells nothing: the attacker can only guess on.
                low = middle
                continue
            answers.append(answer.answer)
    assert answers == []
    if scene.plain:
        assert set(refusals) == {
            (
                grpc.StatusCode.PERMISSION_DENIED,
                "PERMISSION_DENIED: rule 'tax-questions' does not allow less_than questions "
                "(it has no predicates: block, so the default operators: equals, exists)",
            )
        }
    else:
        assert refusals[0] == (
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED: rule 'tax-questions' allows ordering questions on "
            "'amount_due' only against its declared thresholds "
            "(predicates.thresholds.amount_due: 0, 10000), not 8388608.0",
        )
        assert all("only against its declared thresholds" in r[1] for r in refusals)
    assert len(refusals) == 31


async def test_equality_guessing_stops_at_the_budget(scene: Scene) -> None:
    limit, where = (
        (10, "the default for a rule without a predicates: block")
        if scene.plain
        else (
            3,
            "predicates.per_field_per_day",
        )
    )
    budget_spent = (
        grpc.StatusCode.PERMISSION_DENIED,
        f"PERMISSION_DENIED: predicate budget spent: rule 'tax-questions' allows tax-bureau "
        f"{limit} distinct questions per record and field per day ({where}), and {limit} "
        f"were asked about 'amount_due' of {CHAIN}/tax/T-9 in the last 24 hours",
    )
    async with scene.client(scene.tax) as tax:
        for n in range(limit):
            guess = predicates.equals("amount_due", 100000 + n)
            answer = await tax.evaluate_predicate(f"{CHAIN}/tax/T-9", guess, purpose=ASSESSMENT)
            assert answer.answer is False
        over = predicates.equals("amount_due", AMOUNT)
        got = await refused(tax.evaluate_predicate(f"{CHAIN}/tax/T-9", over, purpose=ASSESSMENT))
    assert got == budget_spent


async def test_exists_where_the_rule_forbids_it_answers_missing_and_present_alike(
    scene: Scene,
) -> None:
    exists = predicates.exists("amount_due")
    pairs = {
        # No rule lets the tax bureau ask about people: refused before the read.
        "people": (
            grpc.StatusCode.PERMISSION_DENIED,
            f"PERMISSION_DENIED: no rule allows tax-bureau to evaluate predicates on "
            f"{CHAIN}/people for purpose '{ASSESSMENT}'",
        ),
    }
    if not scene.plain:
        # The documented rule allows equals and less_than only: exists is refused unread.
        pairs["tax"] = (
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED: rule 'tax-questions' does not allow exists questions "
            "(predicates.operators: equals, less_than)",
        )
    present = {"people": "P-1", "tax": "T-9"}
    async with scene.client(scene.tax) as tax:
        for namespace, expected in pairs.items():
            for key in (present[namespace], "NOBODY"):
                ref = f"{CHAIN}/{namespace}/{key}"
                got = await refused(tax.evaluate_predicate(ref, exists, purpose=ASSESSMENT))
                assert got == expected, ref


async def test_a_record_failing_its_schema_names_no_value_and_spends_the_budget(
    scene: Scene,
) -> None:
    limit = 10 if scene.plain else 3
    violation = (
        grpc.StatusCode.FAILED_PRECONDITION,
        f"FAILED_PRECONDITION: record {CHAIN}/tax/T-BAD version 1 violates {TAX_SCHEMA} at "
        "$.amount_due: must be at least 0 (minimum)",
    )
    async with scene.client(scene.tax) as tax:
        for n in range(limit):
            got = await refused(
                tax.evaluate_predicate(
                    f"{CHAIN}/tax/T-BAD", predicates.equals("amount_due", n), purpose=ASSESSMENT
                )
            )
            assert got == violation
        over = await refused(
            tax.evaluate_predicate(
                f"{CHAIN}/tax/T-BAD", predicates.equals("amount_due", -1), purpose=ASSESSMENT
            )
        )
    assert over[0] == grpc.StatusCode.PERMISSION_DENIED
    assert over[1].startswith("PERMISSION_DENIED: predicate budget spent: rule 'tax-questions'")
    assert f"and {limit} were asked about 'amount_due' of {CHAIN}/tax/T-BAD" in over[1]


async def test_a_record_failing_its_schema_is_left_out_of_listings_and_watches(
    scene: Scene,
) -> None:
    flt = query_pb2.RecordFilter(chain_id=CHAIN, namespace="tax")
    reason = (
        f"record {CHAIN}/tax/T-BAD version 1 violates {TAX_SCHEMA} at $.amount_due: "
        "must be at least 0 (minimum)"
    )
    async with open_channel(scene.hub.address, scene.regulator) as channel:
        page = await query_pb2_grpc.QueryStub(channel).ListRecords(
            query_pb2.ListRecordsRequest(filter=flt, purpose=REGISTRATION)
        )
    # The listing answers, without the bad record, and says which it left out and why.
    assert [r.record.ref.key for r in page.records] == ["T-9"]
    assert [(s.ref.key, s.version, s.reason) for s in page.skipped] == [("T-BAD", 1, reason)]
    async with scene.client(scene.regulator) as reg:
        watch_from_start = query_pb2.RecordFilter(chain_id=CHAIN, namespace="tax", from_height=1)
        stream = reg.watch_records(watch_from_start, purpose=REGISTRATION)
        first = await asyncio.wait_for(anext(stream), timeout=30)
        assert first.record.ref.key == "T-9"
        await stream.aclose()  # type: ignore[attr-defined]

    async with scene.client(scene.ops) as ops:
        events = await ops.audit_events(principal="market-regulator/alice")
    listings = [e for e in events if e.action == "query.list_records"]
    listing = next(e for e in listings if e.target == f"{CHAIN}/tax/*")
    skipped = json.loads(listing.detail_json)["skipped"]
    assert skipped == [{"ref": f"{CHAIN}/tax/T-BAD", "version": 1, "reason": reason}]
    noted = [e for e in events if e.outcome == "skipped: fails its catalog schema"]
    assert [json.loads(e.detail_json)["reason"] for e in noted] == [reason]
    assert str(BAD_AMOUNT) not in "".join(e.detail_json + e.outcome for e in events)


async def test_a_signed_answer_names_its_time_and_audience(scene: Scene, tmp_path: Path) -> None:
    ref = f"{CHAIN}/tax/T-9"
    async with scene.client(scene.tax) as tax:
        answer = await tax.evaluate_predicate(
            ref, predicates.equals("status", "arrears"), purpose=ASSESSMENT
        )
    ca = scene.hub.pki_dir / pki.CA_CERT
    checked = verify_answer(answer, ca, principal="tax-bureau/bob", purpose=ASSESSMENT)
    assert checked.answer is True
    signed_at = checked.body["evaluated_at"]

    later = query_pb2.EvaluatePredicateResponse()
    later.CopyFrom(answer)
    later.evaluated_at.seconds += 3600
    with pytest.raises(ProofRejected) as err:
        verify_answer(later, ca)
    assert str(err.value) == (
        f"the response's time {later.evaluated_at.ToJsonString()} differs from the signed "
        f"time {signed_at}"
    )
    with pytest.raises(ProofRejected) as err:
        verify_answer(answer, ca, principal="market-regulator/alice")
    assert str(err.value) == (
        "the statement was signed for principal 'tax-bureau/bob', not 'market-regulator/alice'"
    )
    with pytest.raises(ProofRejected) as err:
        verify_answer(answer, ca, principal="tax-bureau/bob", purpose="marketing")
    assert str(err.value) == (
        f"the statement was signed for purpose '{ASSESSMENT}', not 'marketing'"
    )

    # The CLI checks the same, with its own certificate and purpose, and says so.
    env = {
        **os.environ,
        "TONGLIAN_HUB": scene.hub.address,
        "TONGLIAN_CERT": str(scene.tax.cert),
        "TONGLIAN_KEY": str(scene.tax.key),
        "TONGLIAN_CA": str(scene.tax.ca),
    }
    out = Cli(env, tmp_path)(
        "predicate", ref, "--field", "status", "--equals", "arrears", "--purpose", ASSESSMENT
    ).stdout.splitlines()
    assert out[0] == "answer   yes"
    assert out[2] == f"for      tax-bureau/bob, purpose '{ASSESSMENT}'"
    assert out[-1] == "  ✓ time, principal and purpose are those signed"


async def test_unlimited_predicates_must_be_written_out_and_are_logged(scene: Scene) -> None:
    """Runs last: it changes the policy of this scene's hub."""
    doc = yaml.safe_load(policy_text(scene.kind))
    doc["principals"]["tax-bureau"]["rules"][0]["predicates"] = "unlimited"
    scene.hub.write_policy(yaml.safe_dump(doc, sort_keys=False))
    async with scene.client(scene.tax) as tax:
        # Written out, the rule has no budget: the next question is answered (and logged).
        answer = await tax.evaluate_predicate(
            f"{CHAIN}/tax/T-9", _less_than(AMOUNT + 0.01), purpose=ASSESSMENT
        )
    assert answer.answer is True
    log = scene.hub.log_path.read_text(errors="replace")
    assert (
        "rule 'tax-questions' allows yes/no questions without limits (predicates: unlimited): "
        "a run of them can recover a value"
    ) in log
