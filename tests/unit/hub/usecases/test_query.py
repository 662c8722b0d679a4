"""GetRecord and ListRecords decide policy before the read where they can, and give a
forbidden record and an absent one the same refusal."""

from __future__ import annotations

import pytest

from hub.errors import InvalidInput, PermissionDenied
from hub.usecases.query import RecordQueries
from tests.unit.hub.usecases.fakes import (
    RECORDS,
    FakeAudit,
    Scene,
    bad_and_good,
    digest,
    principal,
)
from tonglian.v1 import query_pb2, records_pb2

OFFICE = principal("office")


def ref(namespace: str, key: str) -> records_pb2.RecordRef:
    return records_pb2.RecordRef(chain_id="c", namespace=namespace, key=key)


async def test_an_allowed_record_and_its_facts(scene: Scene, audit: FakeAudit) -> None:
    record = await RecordQueries(scene.access).get_record(
        OFFICE, ref("people", "lic-1"), 0, "licensing", audit
    )
    assert record is RECORDS[1]
    assert audit.purpose == "licensing"
    assert audit.detail == {
        "rule": "rest",
        "schema": "gov.license.business/v1",
        "version": 3,
        "proof_digest": digest(RECORDS[1]),
    }
    assert audit.denied_by == "" and audit.commits == []


async def test_forbidden_and_absent_get_the_same_refusal(scene: Scene) -> None:
    queries = RecordQueries(scene.access)
    forbidden, absent = FakeAudit(), FakeAudit()
    with pytest.raises(PermissionDenied) as refused:
        await queries.get_record(OFFICE, ref("people", "tax-1"), 0, "why", forbidden)
    with pytest.raises(PermissionDenied) as missing:
        await queries.get_record(OFFICE, ref("people", "nope"), 0, "why", absent)
    expected = (
        "office may not read c/people/{key} for purpose 'why', or it does not exist: "
        "rules 'no-tax', 'rest' decide by the record's schema"
    )
    assert str(refused.value) == expected.format(key="tax-1")
    assert str(missing.value) == expected.format(key="nope")
    assert refused.value.metadata == missing.value.metadata == {}
    # Only the audit log tells them apart.
    assert forbidden.detail == {"rule": "no-tax"}
    assert forbidden.denied_by.endswith(
        "(rule 'no-tax' denies office to read c/people "
        "(schema gov.tax.return/v1) for purpose 'why')"
    )
    assert absent.detail == {"rules": ["no-tax", "rest"]}
    assert absent.denied_by.endswith("(not found: no record c/people/nope)")


async def test_a_declared_namespace_is_refused_before_the_read(
    scene: Scene, audit: FakeAudit
) -> None:
    with pytest.raises(PermissionDenied, match="rule 'no-tax' denies office") as refused:
        await RecordQueries(scene.access).get_record(
            OFFICE, ref("declared", "t-2"), 0, "why", audit
        )
    assert refused.value.metadata == {"rule": "no-tax"}
    assert scene.reader.reads == []
    assert audit.denied_by == "no-tax" and audit.detail == {"rule": "no-tax"}


async def test_purpose_is_checked_before_anything_is_read(scene: Scene, audit: FakeAudit) -> None:
    with pytest.raises(InvalidInput, match="purpose is required"):
        await RecordQueries(scene.access).get_record(OFFICE, ref("people", "lic-1"), 0, " ", audit)
    assert scene.reader.reads == [] and audit.purpose == ""


async def test_a_listing_withholds_what_policy_forbids(scene: Scene, audit: FakeAudit) -> None:
    page = await RecordQueries(scene.access).list_records(
        OFFICE, query_pb2.RecordFilter(chain_id="c", namespace="people"), 10, "", "why", audit
    )
    assert [r.record.ref.key for r in page.records] == ["lic-1"]
    assert audit.detail == {"rules": ["no-tax", "rest"], "returned": 1, "withheld": 0}
    assert audit.purpose == "why"


async def test_a_listing_leaves_out_a_record_failing_its_schema_and_audits_it(
    audit: FakeAudit,
) -> None:
    access, _ = bad_and_good()
    page = await RecordQueries(access).list_records(
        OFFICE, query_pb2.RecordFilter(chain_id="c", namespace="shops"), 10, "", "why", audit
    )
    assert [r.record.ref.key for r in page.records] == ["good"]
    assert [(s.ref.key, s.version) for s in page.skipped] == [("bad", 3)]
    assert page.skipped[0].reason == audit.detail["skipped"][0]["reason"]
    assert audit.detail["returned"] == 1 and audit.detail["withheld"] == 0
    assert audit.detail["skipped"] == [
        {
            "ref": "c/shops/bad",
            "version": 3,
            "reason": "record c/shops/bad version 3 violates gov.license.business/v1 at "
            "$.status: must be one of ['active', 'suspended', 'revoked', 'expired'] (enum)",
        }
    ]
