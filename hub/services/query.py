"""tonglian.v1.Query over gRPC: purpose, policy, schema catalog and audit around the record reader.

Order of checks for every call: request syntax, purpose, a policy pre-check on
what is known before reading (chain, namespace), the read and its proof, the
policy decision on the record itself (schema), the catalog. The access
interceptor appends the call's audit event; the decisions and digests end up in it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

from google.protobuf.json_format import MessageToDict

from hub.audit.call import AuditedCall, current_call
from hub.catalog.catalog import SchemaCatalog
from hub.errors import FailedPrecondition, InvalidInput, PermissionDenied
from hub.policy import PREDICATE, READ, Decision, Policy, PolicySource, Request
from hub.predicate import check_predicate, describe, evaluate
from hub.records import RecordReader, check_filter, check_ref, decode_page_token
from hub.services.status import Context, streaming, unary
from tonglian.v1 import query_pb2, query_pb2_grpc, records_pb2
from tonglian_proof.bundle import encode_bundle
from tonglian_proof.statement import StatementSigner, encode_statement

MAX_PURPOSE = 200


def check_purpose(purpose: str) -> None:
    if not purpose.strip():
        raise InvalidInput(
            "purpose is required: say why the record is read, e.g. 'business-registration' "
            "(it is written to the audit log)"
        )
    if len(purpose) > MAX_PURPOSE:
        raise InvalidInput(f"purpose is longer than {MAX_PURPOSE} characters")
    if any(ord(c) < 0x20 for c in purpose):
        raise InvalidInput("purpose contains control characters")


def proof_digest(record: records_pb2.VerifiedRecord) -> str:
    """Hex SHA-256 of the serialized proof the hub verified (as in Delivery.proof_digest)."""
    return hashlib.sha256(record.bundle.proof.SerializeToString(deterministic=True)).hexdigest()


def enforce(call: AuditedCall, decision: Decision) -> None:
    if decision.rule:
        call.detail["rule"] = decision.rule
    if not decision.allowed:
        call.denied_by = decision.rule or decision.reason
        raise PermissionDenied(decision.reason)


class QueryService(query_pb2_grpc.QueryServicer):
    def __init__(
        self,
        reader: RecordReader,
        policy: PolicySource,
        catalog: SchemaCatalog,
        signer: StatementSigner | None,
    ) -> None:
        self._reader = reader
        self._policy = policy
        self._catalog = catalog
        self._signer = signer

    def _decide(self, policy: Policy, call: AuditedCall, request: Request) -> Decision:
        decision = policy.decide(call.principal.agency, request)
        enforce(call, decision)
        return decision

    def _decide_filter(
        self, call: AuditedCall, flt: query_pb2.RecordFilter, purpose: str
    ) -> Policy:
        """Refuses a listing or watch whose chain, namespace, schema or purpose no rule allows;
        returns the policy it was decided under, for the per-record checks that follow."""
        check_purpose(purpose)
        policy = self._policy.current()
        request = Request(flt.chain_id, flt.namespace or None, flt.schema or None, purpose)
        self._decide(policy, call, request)
        return policy

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

    @unary
    async def GetRecord(
        self, request: query_pb2.GetRecordRequest, context: Context
    ) -> query_pb2.GetRecordResponse:
        call = current_call()
        ref = request.ref
        check_ref(ref)
        check_purpose(request.purpose)
        policy = self._policy.current()
        self._decide(policy, call, Request(ref.chain_id, ref.namespace, None, request.purpose))
        record = await self._reader.get(ref, request.at_height)
        self._decide(
            policy,
            call,
            Request(ref.chain_id, ref.namespace, record.record.schema, request.purpose),
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
        page = await self._reader.list(flt, request.page_size, request.page_token)
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
        async for record in self._reader.watch(flt):
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
        check_purpose(request.purpose)
        if not request.HasField("predicate"):
            raise InvalidInput("predicate is required")
        check_predicate(request.predicate)
        if self._signer is None:
            raise FailedPrecondition(
                "this hub has no signing key, so it cannot sign answers "
                "(set signing_cert and signing_key, or run it with TLS)"
            )
        policy = self._policy.current()
        self._decide(
            policy, call, Request(ref.chain_id, ref.namespace, None, request.purpose, PREDICATE)
        )
        record = await self._reader.get(ref, 0)
        rec = record.record
        self._decide(
            policy,
            call,
            Request(ref.chain_id, ref.namespace, rec.schema, request.purpose, PREDICATE),
        )
        self._catalog.check(rec)
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
