"""A watch writes its audit event when it opens, and each record meets the policy in force
when it arrives."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import PermissionDenied
from hub.policy import parse_policy
from hub.usecases.watch import RecordWatch
from tests.unit.hub.usecases.fakes import FakeAudit, Scene, bad_and_good, principal
from tonglian.v1 import query_pb2

OFFICE = principal("office")


async def test_the_event_is_written_when_the_watch_opens(scene: Scene, audit: FakeAudit) -> None:
    watch = RecordWatch(scene.access).watch(
        OFFICE, query_pb2.RecordFilter(chain_id="c", namespace="people"), "why", audit
    )
    first = await anext(watch)
    assert audit.commits == [("ok: watch opened", None)]
    assert audit.event is not None and audit.event.purpose == "why"
    assert first.record.ref.key == "lic-1"
    with pytest.raises(StopAsyncIteration):
        await anext(watch)


async def test_a_policy_change_withholds_later_records(scene: Scene, audit: FakeAudit) -> None:
    watch = RecordWatch(scene.access).watch(
        OFFICE, query_pb2.RecordFilter(chain_id="c"), "why", audit
    )
    first = await anext(watch)
    assert first.record.ref.key == "lic-1"
    # lic-2 was scanned under the old policy; a reload now refuses it before it is sent.
    scene.policy.policy = parse_policy(b"version: 1\nprincipals: {}\n", Path("p.yaml"))
    assert [r async for r in watch] == []


async def test_a_filter_no_rule_allows_is_refused_at_once(scene: Scene, audit: FakeAudit) -> None:
    watch = RecordWatch(scene.access).watch(
        OFFICE, query_pb2.RecordFilter(chain_id="other"), "why", audit
    )
    with pytest.raises(PermissionDenied, match="no rule allows office to read other/\\*"):
        await anext(watch)
    assert audit.commits == []


async def test_a_record_failing_its_schema_does_not_end_the_watch(audit: FakeAudit) -> None:
    access, _ = bad_and_good()
    watch = RecordWatch(access).watch(
        OFFICE, query_pb2.RecordFilter(chain_id="c", namespace="shops"), "why", audit
    )
    assert [r.record.ref.key async for r in watch] == ["good"]
    assert [(outcome, fact["ref"]) for outcome, fact in audit.notes] == [
        ("skipped: fails its catalog schema", "c/shops/bad")
    ]
