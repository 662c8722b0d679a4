"""EvaluatePredicate: a yes/no question about a record, answered in a signed statement
while the record and its proof stay at the hub, within the allowing rule's budget."""

from __future__ import annotations

import json
from dataclasses import dataclass

from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

from hub.errors import FailedPrecondition, InvalidInput, PermissionDenied
from hub.policy import PREDICATE, Policy, Request
from hub.predicate import check_predicate, describe, evaluate
from hub.predicate_budget import PredicateBudget, check_limits
from hub.principal import Principal
from hub.records import check_ref
from hub.usecases.audit_record import AuditRecord
from hub.usecases.purpose import declare_purpose
from hub.usecases.record_access import RecordAccess, proof_digest
from tonglian.v1 import query_pb2, records_pb2
from tonglian_proof.bundle import encode_bundle
from tonglian_proof.statement import StatementSigner, encode_statement


@dataclass(frozen=True)
class SignedAnswer:
    """The answer, the statement that carries it and the hub's signature over that."""

    answer: bool
    statement: bytes
    signature: bytes
    signer_certificate: str
    evaluated_at: Timestamp
    audit_sequence: int


class Predicates:
    """`budget` remembers the yes/no questions each agency asked."""

    def __init__(
        self, access: RecordAccess, signer: StatementSigner | None, budget: PredicateBudget
    ) -> None:
        self._access = access
        self._signer = signer
        self._budget = budget

    async def _within_budget(
        self,
        policy: Policy,
        principal: Principal,
        ref: records_pb2.RecordRef,
        predicate: query_pb2.Predicate,
        audit: AuditRecord,
    ) -> None:
        """Refuses a question the allowing rule's `predicates` limits forbid, naming the limit;
        counts it against the rule's budget otherwise."""
        rule = str(audit.detail.get("rule", ""))
        limits = policy.predicate_limits(rule) if rule else None
        if limits is None:
            return
        target = f"{ref.chain_id}/{ref.namespace}/{ref.key}"
        try:
            questions = check_limits(rule, limits, predicate)
            await self._budget.spend(principal.agency, target, rule, questions, limits)
        except PermissionDenied as exc:
            audit.denied_by = str(exc)
            raise

    async def evaluate(
        self,
        principal: Principal,
        ref: records_pb2.RecordRef,
        predicate: query_pb2.Predicate | None,
        purpose: str,
        audit: AuditRecord,
    ) -> SignedAnswer:
        """Answers `predicate` (None: not given) about the latest record at `ref`; the
        statement names the audit event, appended here, that keeps the record's proof."""
        check_ref(ref)
        declare_purpose(audit, purpose)
        if predicate is None:
            raise InvalidInput("predicate is required")
        check_predicate(predicate)
        signer = self._signer
        if signer is None:
            raise FailedPrecondition(
                "this hub has no signing key, so it cannot sign answers "
                "(set signing_cert and signing_key, or run it with TLS)"
            )
        access = self._access
        policy = access.policy.current()
        record = await access.read(
            policy,
            principal,
            Request(ref.chain_id, ref.namespace, None, purpose, PREDICATE),
            ref,
            0,
            audit,
        )
        rec = record.record
        access.catalog.check(rec)
        await self._within_budget(policy, principal, ref, predicate, audit)
        value = None if rec.deleted else json.loads(rec.value)
        answer = evaluate(predicate, value)
        digest = proof_digest(record)
        audit.detail.update(
            predicate=describe(predicate),
            answer=answer,
            schema=rec.schema,
            version=rec.version,
            proof_digest=digest,
        )
        # The record and its proof stay at the hub, beside the audit event.
        event = await audit.commit("ok", evidence=encode_bundle(record.bundle))
        statement = encode_statement(
            {
                "ref": {"chain_id": ref.chain_id, "namespace": ref.namespace, "key": ref.key},
                "predicate": MessageToDict(predicate, preserving_proto_field_name=True),
                "answer": answer,
                "record": {
                    "version": rec.version,
                    "block_height": rec.block_height,
                    "tx_id": rec.tx_id,
                },
                "proof_digest": digest,
                "principal": principal.name,
                "purpose": purpose,
                "evaluated_at": event.time.ToJsonString(),
                "audit_sequence": event.sequence,
            }
        )
        return SignedAnswer(
            answer=answer,
            statement=statement,
            signature=signer.sign(statement),
            signer_certificate=signer.cert_pem,
            evaluated_at=event.time,
            audit_sequence=event.sequence,
        )
