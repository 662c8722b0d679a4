"""Policy around the record reader: what a principal may read, decided before the read
where it can be, and so that no answer tells whether a forbidden record exists.

Order of checks for every read: purpose, a policy pre-check on what is known before
reading (chain, namespace), the read and its proof, the policy decision on the record
itself (schema), the schema catalog. Every decision leaves its rule on the audit record.

A listing or a watch passes over a record that fails its catalog schema: it is left
out, logged and audited (`Skipped`), so one bad record does not deny its namespace to
everyone; a read of that one record is refused (FAILED_PRECONDITION, naming the field
and the schema's rule, never the value).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hub.catalog.catalog import SchemaCatalog
from hub.errors import NotFound, PermissionDenied, SchemaViolation
from hub.policy import READ, Decision, Policy, PolicySource, Request
from hub.principal import Principal
from hub.records import RecordReader
from hub.usecases.audit_record import AuditRecord
from hub.usecases.purpose import declare_purpose
from tonglian.v1 import query_pb2, records_pb2

log = logging.getLogger("tonglian.hub")


@dataclass(frozen=True)
class Skipped:
    """A record a listing or watch left out because it fails its catalog schema."""

    ref: records_pb2.RecordRef
    version: int
    reason: str

    def fact(self) -> dict[str, Any]:
        """What the audit event says of it (the reason names a field, never a value)."""
        ref = self.ref
        where = f"{ref.chain_id}/{ref.namespace}/{ref.key}"
        return {"ref": where, "version": self.version, "reason": self.reason}

    def message(self) -> query_pb2.SkippedRecord:
        """What the listing tells its caller."""
        return query_pb2.SkippedRecord(ref=self.ref, version=self.version, reason=self.reason)


def proof_digest(record: records_pb2.VerifiedRecord) -> str:
    """Hex SHA-256 of the serialized proof the hub verified (as in Delivery.proof_digest)."""
    return hashlib.sha256(record.bundle.proof.SerializeToString(deterministic=True)).hexdigest()


def enforce(audit: AuditRecord, decision: Decision) -> None:
    """Records the deciding rule; PermissionDenied, naming it, when it refuses."""
    if decision.rule:
        audit.detail["rule"] = decision.rule
    if not decision.allowed:
        audit.denied_by = decision.rule or decision.reason
        raise PermissionDenied(decision.reason, rule=decision.rule)


class RecordAccess:
    """The record reader behind the policy in force and the schema catalog."""

    def __init__(self, reader: RecordReader, policy: PolicySource, catalog: SchemaCatalog) -> None:
        self.reader = reader
        self.policy = policy
        self.catalog = catalog

    def decide_filter(
        self,
        principal: Principal,
        flt: query_pb2.RecordFilter,
        purpose: str,
        audit: AuditRecord,
    ) -> Policy:
        """Refuses a listing or watch whose chain, namespace, schema or purpose no rule allows;
        returns the policy it was decided under, for the per-record checks that follow."""
        declare_purpose(audit, purpose)
        policy = self.policy.current()
        request = Request(flt.chain_id, flt.namespace or None, flt.schema or None, purpose)
        if request.namespace is None:
            enforce(audit, policy.decide(principal.agency, request))
            return policy
        # A namespace whose schemas are declared (or whose rules ignore schemas) is decided
        # now: refused, not answered empty. Otherwise each record meets the policy, and
        # withheld ones leave no trace in the answer (see `visible`).
        early = policy.decide_before_read(principal.agency, request)
        if isinstance(early, Decision):
            enforce(audit, early)
        else:
            audit.detail["rules"] = list(early.rules)
        return policy

    def visible(self, principal: Principal, purpose: str) -> Callable[[records_pb2.Record], bool]:
        """Whether the current policy lets the caller see a record (by its claimed schema),
        applied while scanning so that withheld records shape neither pages nor tokens."""

        def visible(record: records_pb2.Record) -> bool:
            ref = record.ref
            request = Request(ref.chain_id, ref.namespace, record.schema, purpose)
            return self.policy.current().decide(principal.agency, request).allowed

        return visible

    async def read(
        self,
        policy: Policy,
        principal: Principal,
        request: Request,
        ref: records_pb2.RecordRef,
        at_height: int,
        audit: AuditRecord,
    ) -> records_pb2.VerifiedRecord:
        """Reads a record the policy may let the caller see, deciding before the read where it
        can; where the record's schema decides, a missing record and a forbidden one get the
        same refusal, so no answer tells whether a record exists."""
        agency = principal.agency
        early = policy.decide_before_read(agency, request)
        if isinstance(early, Decision):
            enforce(audit, early)
            record = await self.reader.get(ref, at_height)
        else:
            what = f"{ref.chain_id}/{ref.namespace}/{ref.key}"
            refusal = early.refusal(agency, request, what)
            try:
                record = await self.reader.get(ref, at_height)
            except NotFound as exc:
                audit.denied_by = f"{refusal} (not found: {exc})"
                audit.detail["rules"] = list(early.rules)
                raise PermissionDenied(refusal) from None
            late = policy.decide(agency, replace(request, schema=record.record.schema))
            if not late.allowed:
                audit.detail["rule"] = late.rule
                audit.denied_by = f"{refusal} ({late.reason})"
                raise PermissionDenied(refusal)
        enforce(audit, policy.decide(agency, replace(request, schema=record.record.schema)))
        return record

    def admit(
        self,
        policy: Policy,
        principal: Principal,
        vr: records_pb2.VerifiedRecord,
        purpose: str,
        access: str,
    ) -> bool:
        """Whether policy lets the caller see `vr` (its schema known now); checks the catalog."""
        ref = vr.record.ref
        decision = policy.decide(
            principal.agency,
            Request(ref.chain_id, ref.namespace, vr.record.schema, purpose, access),
        )
        if decision.allowed:
            self.catalog.check(vr.record)
        return decision.allowed

    def screen(
        self,
        policy: Policy,
        principal: Principal,
        vr: records_pb2.VerifiedRecord,
        purpose: str,
    ) -> bool | Skipped:
        """For a listing or watch: True to send `vr`, False when policy withholds it,
        Skipped (logged) when it fails its catalog schema."""
        try:
            return self.admit(policy, principal, vr, purpose, READ)
        except SchemaViolation as exc:
            log.warning("left out of a listing or watch for %s: %s", principal.name, exc)
            return Skipped(vr.record.ref, vr.record.version, str(exc))
