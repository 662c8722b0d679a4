"""EvaluatePredicate signs its answer, names its audit event, keeps the proof as evidence,
and stops at the allowing rule's budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub import pki
from hub.errors import FailedPrecondition, PermissionDenied
from hub.predicate_budget import PredicateBudget
from hub.usecases.predicate import Predicates
from tests.unit.hub.usecases.fakes import RECORDS, FakeAudit, Scene, digest, principal
from tonglian.v1 import query_pb2, records_pb2
from tonglian_proof.bundle import encode_bundle
from tonglian_proof.statement import StatementSigner, verify_statement

Op = query_pb2.PredicateOperator
ASKER = principal("asker")
REF = records_pb2.RecordRef(chain_id="c", namespace="people", key="tax-1")


class MemoryQuestions:
    """PredicateQuestions in memory: (agency, target, field) -> distinct questions."""

    def __init__(self) -> None:
        self.asked: dict[tuple[str, str, str], set[str]] = {}

    async def record_within(
        self,
        agency: str,
        target: str,
        questions: list[tuple[str, str]],
        limit: int,
        since: float,
        now: float,
    ) -> tuple[str, int] | None:
        for f, q in questions:
            seen = self.asked.get((agency, target, f), set())
            if len(seen | {q}) > limit:
                return f, len(seen)
        for f, q in questions:
            self.asked.setdefault((agency, target, f), set()).add(q)
        return None


def below(n: int) -> query_pb2.Predicate:
    return query_pb2.Predicate(
        field="income", operator=Op.PREDICATE_OPERATOR_LESS_THAN, operand_json=str(n)
    )


@pytest.fixture
def signer(tmp_path: Path) -> StatementSigner:
    pki.init_ca(tmp_path)
    return StatementSigner(
        pki.load_certificate(tmp_path / "hub.crt"), pki.load_private_key(tmp_path / "hub.key")
    )


async def test_the_answer_is_signed_and_names_its_event(
    scene: Scene, audit: FakeAudit, signer: StatementSigner, tmp_path: Path
) -> None:
    predicates = Predicates(scene.access, signer, PredicateBudget(MemoryQuestions()))
    signed = await predicates.evaluate(ASKER, REF, below(11), "eligibility", audit)
    assert signed.answer is True and signed.audit_sequence == 41
    assert audit.commits == [("ok", encode_bundle(RECORDS[0].bundle))]
    assert audit.detail == {
        "rule": "ask-twice",
        "predicate": "income < 11",
        "answer": True,
        "schema": "gov.tax.return/v1",
        "version": 3,
        "proof_digest": digest(RECORDS[0]),
    }
    ok = verify_statement(
        signed.statement,
        signed.signature,
        signed.signer_certificate,
        [pki.load_certificate(tmp_path / pki.CA_CERT)],
    )
    body = json.loads(signed.statement)
    assert ok.answer is True
    assert body["principal"] == "asker/clerk" and body["purpose"] == "eligibility"
    assert body["audit_sequence"] == 41 and body["evaluated_at"] == "2027-01-15T08:00:00Z"


async def test_the_budget_refuses_a_second_question_about_a_field(
    scene: Scene, signer: StatementSigner
) -> None:
    predicates = Predicates(scene.access, signer, PredicateBudget(MemoryQuestions()))
    await predicates.evaluate(ASKER, REF, below(11), "why", FakeAudit())
    refused = FakeAudit()
    with pytest.raises(PermissionDenied, match=r"predicates\.per_field_per_day") as exc:
        await predicates.evaluate(ASKER, REF, below(12), "why", refused)
    assert refused.denied_by == str(exc.value) and refused.commits == []


async def test_a_hub_without_a_signing_key_refuses_before_reading(
    scene: Scene, audit: FakeAudit
) -> None:
    predicates = Predicates(scene.access, None, PredicateBudget(MemoryQuestions()))
    with pytest.raises(FailedPrecondition, match="this hub has no signing key"):
        await predicates.evaluate(ASKER, REF, below(11), "why", audit)
    assert scene.reader.reads == []


async def test_limits_and_budget_are_checked_before_the_record_is_read(
    scene: Scene, signer: StatementSigner
) -> None:
    predicates = Predicates(scene.access, signer, PredicateBudget(MemoryQuestions()))
    missing = records_pb2.RecordRef(chain_id="c", namespace="people", key="NOBODY")
    exists = query_pb2.Predicate(field="income", operator=Op.PREDICATE_OPERATOR_EXISTS)
    answers = []
    for ref in (REF, missing):
        with pytest.raises(PermissionDenied) as exc:
            await predicates.evaluate(ASKER, ref, exists, "why", FakeAudit())
        answers.append(str(exc.value))
    # The same refusal for a record that exists and one that does not, and nothing read.
    assert (
        answers
        == ["rule 'ask-twice' does not allow exists questions (predicates.operators: less_than)"]
        * 2
    )
    assert scene.reader.reads == []
    await predicates.evaluate(ASKER, REF, below(11), "why", FakeAudit())
    with pytest.raises(PermissionDenied, match="predicate budget spent"):
        await predicates.evaluate(ASKER, REF, below(12), "why", FakeAudit())
    assert scene.reader.reads == ["c/people/tax-1"]
