"""EvaluatePredicate: a yes/no question about a record, answered in a signed statement
while the record and its proof stay at the hub, within the allowing rule's budget.

Order: purpose, what the policy decides before the read, the rule's operators,
thresholds and budget (a rule without `predicates:` has the default), the read, the
decision on the record's schema, the catalog check. The statement the hub signs names
when it was answered, for whom (principal) and why (purpose); the SDK's check refuses
an answer whose shown time or audience differs (tonglian_client/verify.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

from hub.errors import FailedPrecondition, InvalidInput, PermissionDenied
from hub.policy import PREDICATE, Decision, Policy, Request
from hub.predicate import check_predicate, describe, evaluate
from hub.predicate_budget import PredicateBudget, check_limits
from hub.principal import Principal
from hub.records import check_ref
from hub.usecases.audit_record import AuditRecord
from hub.usecases.purpose import declare_purpose
from hub.usecases.record_access import RecordAccess, enforce, proof_digest
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
        request: Request,
        ref: records_pb2.RecordRef,
        predicate: query_pb2.Predicate,
        audit: AuditRecord,
    ) -> None:
        """Before the read: refuses a question the limits of a rule that may allow it forbid
        (every such rule, while the record's schema is unknown), naming the limit; counts it
        against the strictest budget otherwise. So a refusal, like a count, is the same for
        a record that exists and one that does not."""
        rules = policy.allowing_rules(principal.agency, request)
        bounds = [b for b in map(policy.predicate_limits, rules) if b is not None]
        if not bounds:
            return
        target = f"{ref.chain_id}/{ref.namespace}/{ref.key}"
        try:
            # Every rule that may allow it must allow it: its schema is not known yet.
            for bound in bounds:
                questions = check_limits(bound, predicate)
            strictest = min(bounds, key=lambda b: b.limits.per_field_per_day)
            await self._budget.spend(principal.agency, target, strictest, questions)
        except PermissionDenied as exc:
            audit.detail["rules"] = rules
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
        request = Request(ref.chain_id, ref.namespace, None, purpose, PREDICATE)
        # Authorize before the read: what chain, namespace and purpose decide, then the
        # limits and budget; the record is read only for a question that may be answered.
        early = policy.decide_before_read(principal.agency, request)
        if isinstance(early, Decision) and not early.allowed:
            enforce(audit, early)
        await self._within_budget(policy, principal, request, ref, predicate, audit)
        record = await access.read(policy, principal, request, ref, 0, audit)
        rec = record.record
        # A violation names the field and the schema's rule, never the value; the question
        # was counted above.
        access.catalog.check(rec)
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
