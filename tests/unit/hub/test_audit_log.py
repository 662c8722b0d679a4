"""The audit log's hash chain: appended in the store, recomputed, and damage located."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from hub.audit.chain_check import check_chain
from hub.audit.export_file import AuditExport, read_export, write_export
from hub.audit.log import AuditLog
from hub.errors import InvalidInput
from hub.store.sqlite import SqliteStore
from tonglian.v1 import audit_pb2
from tonglian_proof.audit_hash import GENESIS, event_hash


@pytest.fixture
async def log(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    audit = AuditLog(store)
    for i in range(6):
        await audit.append(
            principal="tax-bureau/bob",
            action="query.get_record",
            target=f"custom-1/tax/T-{i}",
            purpose="assessment",
            outcome="ok",
            detail={"n": i, "名": "值"},
        )
    yield audit
    await store.close()


async def test_appends_chain_by_hash(log: AuditLog) -> None:
    events = await log.events(1, 100)
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[0].previous_hash == GENESIS
    for before, after in itertools.pairwise(events):
        assert after.previous_hash == before.hash
    assert all(event_hash(e) == e.hash for e in events)
    assert await log.head() == (6, events[-1].hash)
    assert check_chain(events, head_sequence=6) == []
    assert json.loads(events[2].detail_json) == {"n": 2, "名": "值"}
    assert [e.sequence async for e in log.export(4)] == [4, 5, 6]


async def test_hash_is_language_neutral_canonical_json(log: AuditLog) -> None:
    import hashlib

    e = (await log.events(1, 1))[0]
    body = (
        '{"action":"query.get_record","detail_json":"{\\"n\\":0,\\"名\\":\\"值\\"}",'
        f'"outcome":"ok","previous_hash":"{"00" * 32}","principal":"tax-bureau/bob",'
        f'"purpose":"assessment","sequence":1,"target":"custom-1/tax/T-0",'
        f'"time_us":{e.time.seconds * 1_000_000 + e.time.nanos // 1000}}}'
    )
    assert hashlib.sha256(body.encode()).digest() == e.hash


async def test_changed_deleted_reordered_rehashed_are_located(log: AuditLog) -> None:
    events = await log.events(1, 100)

    changed = [audit_pb2.AuditEvent() for _ in events]
    for c, e in zip(changed, events, strict=True):
        c.CopyFrom(e)
    changed[2].outcome = "denied: nothing"
    assert [str(f) for f in check_chain(changed)] == [
        "event 3: content does not match its hash: the event was changed"
    ]

    changed[2].hash = event_hash(changed[2])  # re-hashed: the next link breaks
    assert [str(f) for f in check_chain(changed)] == [
        "event 3: was changed and re-hashed (or replaced): event 4 links to a different hash"
    ]

    deleted = events[:3] + events[4:]
    assert [str(f) for f in check_chain(deleted)] == [
        "event 4: is missing: it was deleted from the log"
    ]
    truncated = events[:5]
    assert [str(f) for f in check_chain(truncated, head_sequence=6)] == [
        "event 6: is missing: it was deleted from the log"
    ]

    reordered = [events[0], events[2], events[1], *events[3:]]
    assert [str(f) for f in check_chain(reordered)] == [
        "event 2: appears after event 3: the events were reordered"
    ]


async def test_anchor_mismatch_is_found(log: AuditLog) -> None:
    events = await log.events(1, 100)
    anchor = audit_pb2.AuditAnchor(sequence=4, head_hash=b"\x01" * 32, chain_id="custom-1")
    anchor.tx_id, anchor.block_height = "ab", 7
    assert [str(f) for f in check_chain(events, anchors=[anchor])] == [
        "event 4: hash differs from the head anchored on chain custom-1 (tx ab, block 7)"
    ]


async def test_export_file_round_trip_and_bad_lines(log: AuditLog, tmp_path: Path) -> None:
    events = await log.events(1, 100)
    path = tmp_path / "audit.jsonl"
    write_export(path, AuditExport(6, events[-1].hash, events))
    back = read_export(path)
    assert back.events == events and back.head_sequence == 6
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:3], "{not json", *lines[3:]]))
    with pytest.raises(InvalidInput, match="line 4 is not an audit event"):
        read_export(path)
    path.write_text('{"format": "other"}\n')
    with pytest.raises(InvalidInput, match="line 1 is not an export header"):
        read_export(path)
