"""tonglian.v1.Query over gRPC: purpose, policy, schema catalog and audit around the record reader.

Order of checks for every call: request syntax, purpose, a policy pre-check on
what is known before reading (chain, namespace), the read and its proof, the
policy decision on the record itself (schema), the catalog. The access
interceptor appends the call's audit event; the decisions and digests end up in it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from google.protobuf.json_format import MessageToDict

from hub.audit.call import AuditedCall, current_call
from hub.catalog.catalog import SchemaCatalog
from hub.errors import FailedPrecondition, InvalidInput, NotFound, PermissionDenied
from hub.policy import PREDICATE, READ, Decision, Policy, PolicySource, Request
from hub.predicate import check_predicate, describe, evaluate
from hub.predicate_budget import PredicateBudget, check_limits
from hub.records import RecordReader, check_filter, check_ref, decode_page_token
from hub.services.status import Context, streaming, unary
from hub.usecases.purpose import declare_purpose
from tonglian.v1 import query_pb2, query_pb2_grpc, records_pb2
from tonglian_proof.bundle import encode_bundle
from tonglian_proof.statement import StatementSigner, encode_statement


def proof_digest(record: records_pb2.VerifiedRecord) -> str:
    """Hex SHA-256 of the serialized proof the hub verified (as in Delivery.proof_digest)."""
    return hashlib.sha256(record.bundle.proof.SerializeToString(deterministic=True)).hexdigest()


def enforce(call: AuditedCall, decision: Decision) -> None:
    if decision.rule:
        call.detail["rule"] = decision.rule
    if not decision.allowed:
        call.denied_by = decision.rule or decision.reason
        raise PermissionDenied(decision.reason, rule=decision.rule)


class QueryService(query_pb2_grpc.QueryServicer):
    """The Query use cases; `budget` remembers the yes/no questions each agency asked."""

    def __init__(
        self,
        reader: RecordReader,
        policy: PolicySource,
        catalog: SchemaCatalog,
        signer: StatementSigner | None,
        budget: PredicateBudget,
    ) -> None:
        self._reader = reader
        self._policy = policy
        self._catalog = catalog
        self._signer = signer
        self._budget = budget

    def _decide(self, policy: Policy, call: AuditedCall, request: Request) -> Decision:
        decision = policy.decide(call.principal.agency, request)
        enforce(call, decision)
        return decision

    def _decide_filter(
        self, call: AuditedCall, flt: query_pb2.RecordFilter, purpose: str
    ) -> Policy:
        """Refuses a listing or watch whose chain, namespace, schema or purpose no rule allows;
        returns the policy it was decided under, for the per-record checks that follow."""
        declare_purpose(call, purpose)
        policy = self._policy.current()
        request = Request(flt.chain_id, flt.namespace or None, flt.schema or None, purpose)
        if request.namespace is None:
            self._decide(policy, call, request)
            return policy
        # A namespace whose schemas are declared (or whose rules ignore schemas) is decided
        # now: refused, not answered empty. Otherwise each record meets the policy, and
        # withheld ones leave no trace in the answer (see `_visible`).
        early = policy.decide_before_read(call.principal.agency, request)
        if isinstance(early, Decision):
            enforce(call, early)
        else:
            call.detail["rules"] = list(early.rules)
        return policy

    def _visible(self, call: AuditedCall, purpose: str) -> Callable[[records_pb2.Record], bool]:
        """Whether the current policy lets the caller see a record (by its claimed schema),
        applied while scanning so that withheld records shape neither pages nor tokens."""

        def visible(record: records_pb2.Record) -> bool:
            ref = record.ref
            request = Request(ref.chain_id, ref.namespace, record.schema, purpose)
            return self._policy.current().decide(call.principal.agency, request).allowed

        return visible

    async def _read(
        self,
        policy: Policy,
        call: AuditedCall,
        request: Request,
        ref: records_pb2.RecordRef,
        at_height: int,
    ) -> records_pb2.VerifiedRecord:
        """Reads a record the policy may let the caller see, deciding before the read where it
        can; where the record's schema decides, a missing record and a forbidden one get the
        same refusal, so no answer tells whether a record exists."""
        agency = call.principal.agency
        early = policy.decide_before_read(agency, request)
        if isinstance(early, Decision):
            enforce(call, early)
            record = await self._reader.get(ref, at_height)
        else:
            what = f"{ref.chain_id}/{ref.namespace}/{ref.key}"
            refusal = early.refusal(agency, request, what)
            try:
                record = await self._reader.get(ref, at_height)
            except NotFound as exc:
                call.denied_by = f"{refusal} (not found: {exc})"
                call.detail["rules"] = list(early.rules)
                raise PermissionDenied(refusal) from None
            late = policy.decide(agency, replace(request, schema=record.record.schema))
            if not late.allowed:
                call.detail["rule"] = late.rule
                call.denied_by = f"{refusal} ({late.reason})"
                raise PermissionDenied(refusal)
        self._decide(policy, call, replace(request, schema=record.record.schema))
        return record

    def _admit(
        self,
        policy: Policy,
        call: AuditedCall,
        vr: records_pb2.VerifiedRecord,
        purpose: str,
        access: str,
    ) -> bool:
        """Whether policy lets the caller see `vr` (its schema known now); checks the catalog."""
        ref = vr.record.ref
        decision = policy.decide(
            call.principal.agency,
            Request(ref.chain_id, ref.namespace, vr.record.schema, purpose, access),
        )
        if decision.allowed:
            self._catalog.check(vr.record)
        return decision.allowed

    async def _within_budget(
        self,
        policy: Policy,
        call: AuditedCall,
        ref: records_pb2.RecordRef,
        predicate: query_pb2.Predicate,
    ) -> None:
        """Refuses a question the allowing rule's `predicates` limits forbid, naming the limit;
        counts it against the rule's budget otherwise."""
        rule = str(call.detail.get("rule", ""))
        limits = policy.predicate_limits(rule) if rule else None
        if limits is None:
            return
        target = f"{ref.chain_id}/{ref.namespace}/{ref.key}"
        try:
            questions = check_limits(rule, limits, predicate)
            await self._budget.spend(call.principal.agency, target, rule, questions, limits)
        except PermissionDenied as exc:
            call.denied_by = str(exc)
            raise

    @unary
    async def GetRecord(
        self, request: query_pb2.GetRecordRequest, context: Context
    ) -> query_pb2.GetRecordResponse:
        call = current_call()
        ref = request.ref
        check_ref(ref)
        declare_purpose(call, request.purpose)
        policy = self._policy.current()
        record = await self._read(
            policy,
            call,
            Request(ref.chain_id, ref.namespace, None, request.purpose),
            ref,
            request.at_height,
        )
        self._catalog.check(record.record)
        call.detail.update(
            schema=record.record.schema,
            version=record.record.version,
            proof_digest=proof_digest(record),
        )
        return query_pb2.GetRecordResponse(record=record)

    @unary
    async def ListRecords(
        self, request: query_pb2.ListRecordsRequest, context: Context
    ) -> query_pb2.ListRecordsResponse:
        call = current_call()
        flt = request.filter
        check_filter(flt)
        if request.page_token:
            decode_page_token(request.page_token, flt)
        policy = self._decide_filter(call, flt, request.purpose)
        page = await self._reader.list(
            flt, request.page_size, request.page_token, self._visible(call, request.purpose)
        )
        allowed = [r for r in page.records if self._admit(policy, call, r, request.purpose, READ)]
        call.detail.update(returned=len(allowed), withheld=len(page.records) - len(allowed))
        del page.records[:]
        page.records.extend(allowed)
        return page

    @streaming
    async def WatchRecords(
        self, request: query_pb2.WatchRecordsRequest, context: Context
    ) -> AsyncIterator[query_pb2.WatchRecordsResponse]:
        call = current_call()
        flt = request.filter
        check_filter(flt)
        self._decide_filter(call, flt, request.purpose)
        # A watch may run for days: its event is written when it opens.
        await call.commit("ok: watch opened")
        async for record in self._reader.watch(flt, self._visible(call, request.purpose)):
            # Policy may change while the watch runs; each record meets the current one.
            if self._admit(self._policy.current(), call, record, request.purpose, READ):
                yield query_pb2.WatchRecordsResponse(record=record)

    @unary
    async def EvaluatePredicate(
        self, request: query_pb2.EvaluatePredicateRequest, context: Context
    ) -> query_pb2.EvaluatePredicateResponse:
        call = current_call()
        ref = request.ref
        check_ref(ref)
        declare_purpose(call, request.purpose)
        if not request.HasField("predicate"):
            raise InvalidInput("predicate is required")
        check_predicate(request.predicate)
        if self._signer is None:
            raise FailedPrecondition(
                "this hub has no signing key, so it cannot sign answers "
                "(set signing_cert and signing_key, or run it with TLS)"
            )
        policy = self._policy.current()
        record = await self._read(
            policy,
            call,
            Request(ref.chain_id, ref.namespace, None, request.purpose, PREDICATE),
            ref,
            0,
        )
        rec = record.record
        self._catalog.check(rec)
        await self._within_budget(policy, call, ref, request.predicate)
        value = None if rec.deleted else json.loads(rec.value)
        answer = evaluate(request.predicate, value)
        digest = proof_digest(record)
        call.detail.update(
            predicate=describe(request.predicate),
            answer=answer,
            schema=rec.schema,
            version=rec.version,
            proof_digest=digest,
        )
        # The record and its proof stay at the hub, beside the audit event.
        event = await call.commit("ok", evidence=encode_bundle(record.bundle))
        statement = encode_statement(
            {
                "ref": {"chain_id": ref.chain_id, "namespace": ref.namespace, "key": ref.key},
                "predicate": MessageToDict(request.predicate, preserving_proto_field_name=True),
                "answer": answer,
                "record": {
                    "version": rec.version,
                    "block_height": rec.block_height,
                    "tx_id": rec.tx_id,
                },
                "proof_digest": digest,
                "principal": call.principal.name,
                "purpose": request.purpose,
                "evaluated_at": event.time.ToJsonString(),
                "audit_sequence": event.sequence,
            }
        )
        return query_pb2.EvaluatePredicateResponse(
            answer=answer,
            statement=statement,
            signature=self._signer.sign(statement),
            signer_certificate=self._signer.cert_pem,
            evaluated_at=event.time,
            audit_sequence=event.sequence,
        )
