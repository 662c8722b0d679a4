"""WatchRecords: a principal follows new records for a stated purpose, for as long as it
likes; each record meets the policy in force when it arrives, and one that fails its
catalog schema is left out and audited without ending the watch."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from hub.principal import Principal
from hub.records import check_filter
from hub.usecases.audit_record import AuditRecord
from hub.usecases.record_access import RecordAccess, Skipped
from tonglian.v1 import query_pb2, records_pb2


class RecordWatch:
    def __init__(self, access: RecordAccess) -> None:
        self._access = access

    async def watch(
        self,
        principal: Principal,
        flt: query_pb2.RecordFilter,
        purpose: str,
        audit: AuditRecord,
    ) -> AsyncGenerator[records_pb2.VerifiedRecord, None]:
        """The records `flt` selects as they are written, those the policy lets `principal`
        read; refuses at once a filter no rule allows."""
        check_filter(flt)
        access = self._access
        access.decide_filter(principal, flt, purpose, audit)
        # A watch may run for days: its event is written when it opens.
        await audit.commit("ok: watch opened")
        async for record in access.reader.watch(flt, access.visible(principal, purpose)):
            # Policy may change while the watch runs; each record meets the current one.
            verdict = access.screen(access.policy.current(), principal, record, purpose)
            if isinstance(verdict, Skipped):
                # One bad record does not end the watch: it is left out, with its own event.
                await audit.note("skipped: fails its catalog schema", verdict.fact())
            elif verdict:
                yield record
