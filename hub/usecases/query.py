"""GetRecord and ListRecords: a principal reads records for a stated purpose."""

from __future__ import annotations

from hub.policy import Request
from hub.principal import Principal
from hub.records import check_filter, check_ref, decode_page_token
from hub.usecases.audit_record import AuditRecord
from hub.usecases.purpose import declare_purpose
from hub.usecases.record_access import RecordAccess, Skipped, proof_digest
from tonglian.v1 import query_pb2, records_pb2


class RecordQueries:
    def __init__(self, access: RecordAccess) -> None:
        self._access = access

    async def get_record(
        self,
        principal: Principal,
        ref: records_pb2.RecordRef,
        at_height: int,
        purpose: str,
        audit: AuditRecord,
    ) -> records_pb2.VerifiedRecord:
        """The record at `ref` (at `at_height`, 0 for the latest) with its proof, if the
        policy lets `principal` read it for `purpose`."""
        check_ref(ref)
        declare_purpose(audit, purpose)
        access = self._access
        record = await access.read(
            access.policy.current(),
            principal,
            Request(ref.chain_id, ref.namespace, None, purpose),
            ref,
            at_height,
            audit,
        )
        access.catalog.check(record.record)
        audit.detail.update(
            schema=record.record.schema,
            version=record.record.version,
            proof_digest=proof_digest(record),
        )
        return record

    async def list_records(
        self,
        principal: Principal,
        flt: query_pb2.RecordFilter,
        page_size: int,
        page_token: str,
        purpose: str,
        audit: AuditRecord,
    ) -> query_pb2.ListRecordsResponse:
        """One page of the records `flt` selects that the policy lets `principal` read;
        records withheld by policy leave no trace in the page or its token; records that
        fail their catalog schema are left out, named in `skipped` and audited."""
        check_filter(flt)
        if page_token:
            decode_page_token(page_token, flt)
        access = self._access
        policy = access.decide_filter(principal, flt, purpose, audit)
        page = await access.reader.list(
            flt, page_size, page_token, access.visible(principal, purpose)
        )
        allowed: list[records_pb2.VerifiedRecord] = []
        skipped: list[Skipped] = []
        for record in page.records:
            verdict = access.screen(policy, principal, record, purpose)
            if isinstance(verdict, Skipped):
                skipped.append(verdict)
            elif verdict:
                allowed.append(record)
        audit.detail.update(
            returned=len(allowed), withheld=len(page.records) - len(allowed) - len(skipped)
        )
        if skipped:
            # One bad record does not fail the listing: it is left out, and audited.
            audit.detail["skipped"] = [s.fact() for s in skipped]
        del page.records[:]
        page.records.extend(allowed)
        page.skipped.extend(s.message() for s in skipped)
        return page
