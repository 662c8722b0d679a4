"""In-memory fakes for the use case tests: an audit record, a record reader, a policy."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.catalog.catalog import SchemaCatalog, shipped_catalog
from hub.errors import NotFound
from hub.policy import Policy, parse_policy
from hub.principal import Principal
from hub.usecases.record_access import RecordAccess
from tonglian.v1 import audit_pb2, query_pb2, records_pb2

POLICY = b"""
version: 1
namespace_schemas:
  "c/declared": [gov.tax.return/v1]
principals:
  office:
    rules:
      - name: no-tax
        effect: deny
        chains: [c]
        schemas: ["gov.tax.*"]
        purposes: ["*"]
      - name: rest
        chains: [c]
        purposes: ["*"]
  asker:
    rules:
      - name: ask-twice
        chains: [c]
        purposes: ["*"]
        access: predicate
        predicates: {per_field_per_day: 1, operators: [less_than]}
  ops:
    operator: true
  evm-ops:
    operator: {name: evm-ops-chains, chains: ["evm-*"]}
"""


class SwitchablePolicy:
    """A PolicySource whose policy a test may replace, as a reload would."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def current(self) -> Policy:
        return self.policy


@dataclass
class FakeAudit:
    """An AuditRecord that keeps its committed events in memory."""

    purpose: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    denied_by: str = ""
    commits: list[tuple[str, bytes | None]] = field(default_factory=list)
    event: audit_pb2.AuditEvent | None = None
    notes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def commit(
        self, outcome: str = "ok", evidence: bytes | None = None
    ) -> audit_pb2.AuditEvent:
        if self.event is None:
            self.commits.append((outcome, evidence))
            self.event = audit_pb2.AuditEvent(sequence=41, purpose=self.purpose, outcome=outcome)
            self.event.time.FromSeconds(1_800_000_000)
        return self.event

    async def note(self, outcome: str, detail: dict[str, Any]) -> audit_pb2.AuditEvent:
        self.notes.append((outcome, detail))
        return audit_pb2.AuditEvent(sequence=42 + len(self.notes), outcome=outcome)


def verified(namespace: str, key: str, schema: str, value: bytes) -> records_pb2.VerifiedRecord:
    vr = records_pb2.VerifiedRecord()
    rec = vr.record
    rec.ref.chain_id, rec.ref.namespace, rec.ref.key = "c", namespace, key
    rec.schema, rec.value, rec.version, rec.block_height, rec.tx_id = schema, value, 3, 12, "tx"
    vr.bundle.proof.signed_merkle.header = f"{namespace}/{key}".encode()
    return vr


class FakeReader:
    """Records in memory; remembers which refs were read, to tell a decision before the read."""

    def __init__(self, records: list[records_pb2.VerifiedRecord]) -> None:
        self.records = {self._key(r.record.ref): r for r in records}
        self.reads: list[str] = []

    @staticmethod
    def _key(ref: records_pb2.RecordRef) -> str:
        return f"{ref.chain_id}/{ref.namespace}/{ref.key}"

    async def get(self, ref: records_pb2.RecordRef, at_height: int) -> records_pb2.VerifiedRecord:
        self.reads.append(self._key(ref))
        try:
            return self.records[self._key(ref)]
        except KeyError:
            raise NotFound(f"no record {self._key(ref)}") from None

    def _selected(self, flt: query_pb2.RecordFilter) -> list[records_pb2.VerifiedRecord]:
        return [
            r
            for r in self.records.values()
            if r.record.ref.chain_id == flt.chain_id
            and (not flt.namespace or r.record.ref.namespace == flt.namespace)
        ]

    async def list(
        self,
        flt: query_pb2.RecordFilter,
        page_size: int,
        page_token: str,
        visible: Callable[[records_pb2.Record], bool],
    ) -> query_pb2.ListRecordsResponse:
        return query_pb2.ListRecordsResponse(
            records=[r for r in self._selected(flt) if visible(r.record)]
        )

    async def watch(
        self, flt: query_pb2.RecordFilter, visible: Callable[[records_pb2.Record], bool]
    ) -> AsyncIterator[records_pb2.VerifiedRecord]:
        # Scanned (and found visible) before any is sent, as a scan runs ahead of the sender.
        for r in [r for r in self._selected(flt) if visible(r.record)]:
            yield r


@dataclass
class Scene:
    """The record access of one test, over the fake reader and the switchable policy."""

    reader: FakeReader
    policy: SwitchablePolicy
    access: RecordAccess


RECORDS = [
    verified("people", "tax-1", "gov.tax.return/v1", b'{"income": 10}'),
    verified("people", "lic-1", "gov.license.business/v1", b'{"name": "A"}'),
    verified("declared", "t-2", "gov.tax.return/v1", b'{"income": 20}'),
    verified("shops", "lic-2", "gov.license.business/v1", b'{"name": "B"}'),
]


def principal(agency: str, role: str = "agency") -> Principal:
    return Principal(agency, "clerk", role, "ab")


def digest(vr: records_pb2.VerifiedRecord) -> str:
    return hashlib.sha256(vr.bundle.proof.SerializeToString(deterministic=True)).hexdigest()


def new_scene() -> Scene:
    reader = FakeReader(list(RECORDS))
    policy = SwitchablePolicy(parse_policy(POLICY, Path("policy.yaml")))
    access = RecordAccess(reader, policy, SchemaCatalog([], strict=False))  # type: ignore[arg-type]
    return Scene(reader, policy, access)


def bad_and_good() -> tuple[RecordAccess, list[records_pb2.VerifiedRecord]]:
    """Record access over the shipped catalog and two licences, one failing its schema."""
    records = [
        verified("shops", "bad", "gov.license.business/v1", b'{"status": "dormant"}'),
        verified("shops", "good", "gov.license.business/v1", b'{"status": "active"}'),
    ]
    policy = SwitchablePolicy(parse_policy(POLICY, Path("policy.yaml")))
    return RecordAccess(FakeReader(records), policy, shipped_catalog()), records  # type: ignore[arg-type]
