"""An agency tries to learn what the policy hides: whether a record exists, and a value bit by bit.

A real hub over mutual TLS reads a real custom ledger. `curious-office` may read
the chain except records of residence schemas; `tax-bureau` may ask yes/no
questions about tax records, within a budget kept in the hub's store.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.json_format import ParseDict

from devnets.base import DevnetInfo
from devnets.custom.writer import write_record
from tonglian.v1 import chains_pb2, query_pb2
from tonglian_client import predicates
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import Credentials
from tonglian_client.errors import ClientError
from tonglian_tools.hub_process import OPERATOR_ORG, HubProcess

pytestmark = pytest.mark.integration

CHAIN = "custom-1"
RESIDENCE = "gov.residence.certificate/v1"
POLICY = f"""\
version: 1
namespace_schemas:
  "{CHAIN}/residence": [{RESIDENCE}]
principals:
  {OPERATOR_ORG}:
    operator: true
    rules: []
  curious-office:
    rules:
      - name: no-residence
        effect: deny
        chains: [{CHAIN}]
        schemas: ["gov.residence.*"]
        purposes: ["*"]
      - name: read-everything-else
        chains: [{CHAIN}]
        purposes: ["*"]
  tax-bureau:
    rules:
      - name: tax-asks-about-tax
        access: predicate
        chains: [{CHAIN}]
        namespaces: [tax]
        purposes: [tax-assessment]
        predicates:
          per_field_per_day: 3
      - name: tax-asks-thresholds
        access: predicate
        chains: [{CHAIN}]
        namespaces: [tax-thresholds]
        purposes: [tax-assessment]
        predicates:
          operators: [equals, less_than]
          thresholds:
            amount_due: ["0", "10000"]
"""
PERSON = {
    "person_id": "P-1",
    "address": {"city": "Shanghai"},
    "valid_from": "2020-03-01",
    "valid_to": "2030-06-30",
    "status": "valid",
}
LICENCE = {"licence_no": "L-9", "holder": "通链科技", "status": "active", "issued_on": "2026-01-05"}
TAX = {
    "taxpayer_id": "T-9",
    "status": "arrears",
    "valid_until": "2027-01-01",
    "amount_due": 123456.78,
}


class Scene:
    def __init__(self, hub: HubProcess) -> None:
        self.hub = hub
        self.curious = hub.issue("cleo", org="curious-office")
        self.tax = hub.issue("bob", org="tax-bureau")

    def client(self, creds: Credentials) -> AsyncClient:
        return AsyncClient(self.hub.address, creds)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, custom_ledger: DevnetInfo) -> Iterator[Scene]:
    hub = HubProcess(tmp_path_factory.mktemp("oracles") / "hub", policy=POLICY)
    hub.start()
    try:
        asyncio.run(hub.wait_serving())

        async def setup() -> None:
            url = custom_ledger.endpoints["http"]
            await write_record(url, "residence", "P-1", RESIDENCE, PERSON)
            # An undeclared namespace holding records of both kinds.
            await write_record(url, "people", "P-1", RESIDENCE, PERSON)
            await write_record(url, "people", "L-9", "gov.license.business/v1", LICENCE)
            await write_record(url, "tax", "T-9", "gov.tax.clearance/v1", TAX)
            await write_record(url, "tax-thresholds", "T-9", "gov.tax.clearance/v1", TAX)
            chain = chains_pb2.Chain()
            ParseDict(custom_ledger.chain, chain)
            chain.chain_id = CHAIN
            assert hub.credentials is not None
            async with AsyncClient(hub.address, hub.credentials) as ops:
                await ops.register_chain(chain)

        asyncio.run(setup())
        yield Scene(hub)
    finally:
        hub.stop()


async def refused(call: object) -> ClientError:
    with pytest.raises(ClientError) as err:
        await call  # type: ignore[misc]
    return err.value


async def test_a_declared_namespace_is_refused_before_the_read(scene: Scene) -> None:
    async with scene.client(scene.curious) as c:
        there = await refused(c.get_record(f"{CHAIN}/residence/P-1", purpose="audit"))
        absent = await refused(c.get_record(f"{CHAIN}/residence/NOBODY", purpose="audit"))
        expected = (
            "PERMISSION_DENIED: rule 'no-residence' denies curious-office to read "
            f"custom-1/residence (schema {RESIDENCE}) for purpose 'audit'"
        )
        assert (there.status, str(there)) == (grpc.StatusCode.PERMISSION_DENIED, expected)
        assert (absent.status, str(absent)) == (grpc.StatusCode.PERMISSION_DENIED, expected)

        flt = query_pb2.RecordFilter(chain_id=CHAIN, namespace="residence")
        listing = await refused(_drain(c.list_records(flt, purpose="audit")))
        assert (listing.status, str(listing)) == (grpc.StatusCode.PERMISSION_DENIED, expected)
        watch = await refused(_drain(c.watch_records(flt, purpose="audit")))
        assert (watch.status, str(watch)) == (grpc.StatusCode.PERMISSION_DENIED, expected)


async def test_an_undeclared_namespace_answers_missing_and_forbidden_alike(scene: Scene) -> None:
    async with scene.client(scene.curious) as c:
        there = await refused(c.get_record(f"{CHAIN}/people/P-1", purpose="audit"))
        absent = await refused(c.get_record(f"{CHAIN}/people/NOBODY", purpose="audit"))
        for err, key in ((there, "P-1"), (absent, "NOBODY")):
            assert err.status == grpc.StatusCode.PERMISSION_DENIED
            assert str(err) == (
                f"PERMISSION_DENIED: curious-office may not read custom-1/people/{key} for "
                "purpose 'audit', or it does not exist: rules 'no-residence', "
                "'read-everything-else' decide by the record's schema"
            )
        allowed = await c.get_record(f"{CHAIN}/people/L-9", purpose="audit")
        assert json.loads(allowed.record.value) == LICENCE
        # The listing shows what the agency may read, and nothing of what it may not.
        flt = query_pb2.RecordFilter(chain_id=CHAIN, namespace="people")
        listed = [r.record.ref.key async for r in c.list_records(flt, purpose="audit")]
        assert listed == ["L-9"]

    assert scene.hub.credentials is not None
    async with scene.client(scene.hub.credentials) as ops:
        events = await ops.audit_events(principal="curious-office/cleo")
    outcomes = {e.target: e.outcome for e in events if e.action == "query.get_record"}
    # The audit log, which only operators read, keeps the real reason.
    assert "rule 'no-residence' denies" in outcomes[f"{CHAIN}/people/P-1"]
    assert "(not found: " in outcomes[f"{CHAIN}/people/NOBODY"]


def _less_than(amount: float) -> query_pb2.Predicate:
    return query_pb2.Predicate(
        field="amount_due",
        operator=query_pb2.PredicateOperator.PREDICATE_OPERATOR_LESS_THAN,
        operand_json=json.dumps(amount),
    )


BUDGET_SPENT = (
    "PERMISSION_DENIED: predicate budget spent: rule 'tax-asks-about-tax' allows tax-bureau 3 "
    "distinct questions per record and field per day (predicates.per_field_per_day), and 3 "
    "were asked about 'amount_due' of custom-1/tax/T-9 in the last 24 hours"
)


async def test_bisection_is_refused_after_the_budget(scene: Scene) -> None:
    low, high = 0.0, 2.0**24
    answered: list[float] = []
    refusals: list[ClientError] = []
    async with scene.client(scene.tax) as tax:
        for _ in range(31):
            middle = round((low + high) / 2, 2)
            try:
                answer = await tax.evaluate_predicate(
                    f"{CHAIN}/tax/T-9", _less_than(middle), purpose="tax-assessment"
                )
            except ClientError as err:
                refusals.append(err)
                continue
            answered.append(middle)
            low, high = (low, middle) if answer.answer else (middle, high)
    assert len(answered) == 3 and len(refusals) == 28
    assert {(e.status, str(e)) for e in refusals} == {
        (grpc.StatusCode.PERMISSION_DENIED, BUDGET_SPENT)
    }
    assert high - low > 1_000_000  # three answers leave the value unknown

    assert scene.hub.credentials is not None
    async with scene.client(scene.hub.credentials) as ops:
        events = await ops.audit_events(principal="tax-bureau/bob")
    denied = [e for e in events if e.outcome.startswith("denied: predicate budget spent")]
    assert len(denied) == 28
    assert denied[0].outcome == "denied: " + BUDGET_SPENT.removeprefix("PERMISSION_DENIED: ")


async def test_only_declared_operators_and_thresholds(scene: Scene) -> None:
    ref = f"{CHAIN}/tax-thresholds/T-9"
    async with scene.client(scene.tax) as tax:
        yes = await tax.evaluate_predicate(ref, _less_than(10000), purpose="tax-assessment")
        assert yes.answer is False
        eq = await tax.evaluate_predicate(
            ref, predicates.equals("status", "arrears"), purpose="tax-assessment"
        )
        assert eq.answer is True
        err = await refused(tax.evaluate_predicate(ref, _less_than(5000), purpose="tax-assessment"))
        assert (err.status, str(err)) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED: rule 'tax-asks-thresholds' allows ordering questions on "
            "'amount_due' only against its declared thresholds "
            "(predicates.thresholds.amount_due: 0, 10000), not 5000",
        )
        above = query_pb2.Predicate(
            field="amount_due",
            operator=query_pb2.PredicateOperator.PREDICATE_OPERATOR_GREATER_THAN,
            operand_json="10000",
        )
        err = await refused(tax.evaluate_predicate(ref, above, purpose="tax-assessment"))
        assert (err.status, str(err)) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED: rule 'tax-asks-thresholds' does not allow greater_than "
            "questions (predicates.operators: equals, less_than)",
        )


async def test_the_budget_survives_a_restart(scene: Scene) -> None:
    """Runs after the bisection: the hub restarts on the same store and still refuses."""
    scene.hub.stop()
    scene.hub.start()
    await scene.hub.wait_serving()
    async with scene.client(scene.tax) as tax:
        err = await refused(
            tax.evaluate_predicate(f"{CHAIN}/tax/T-9", _less_than(1.5), purpose="tax-assessment")
        )
        assert (err.status, str(err)) == (grpc.StatusCode.PERMISSION_DENIED, BUDGET_SPENT)
        # A question already asked reveals nothing new: it is answered again.
        again = await tax.evaluate_predicate(
            f"{CHAIN}/tax/T-9", _less_than(2.0**23), purpose="tax-assessment"
        )
        assert again.answer is True


async def _drain(stream: object) -> None:
    async for _ in stream:  # type: ignore[attr-defined]
        pass
