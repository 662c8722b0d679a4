"""verify_answer refuses a predicate answer whose shown time or audience is not what was signed."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from hub import pki
from tonglian.v1 import query_pb2
from tonglian_client.verify import verify_answer
from tonglian_proof.errors import ProofRejected
from tonglian_proof.statement import StatementSigner, encode_statement


@pytest.fixture
def signed(tmp_path: Path) -> tuple[query_pb2.EvaluatePredicateResponse, Path]:
    pki.init_ca(tmp_path)
    signer = StatementSigner(
        pki.load_certificate(tmp_path / "hub.crt"), pki.load_private_key(tmp_path / "hub.key")
    )
    at = Timestamp()
    at.GetCurrentTime()
    at.nanos = 0
    statement = encode_statement(
        {
            "answer": True,
            "principal": "tax-bureau/bob",
            "purpose": "tax-assessment",
            "evaluated_at": at.ToJsonString(),
            "audit_sequence": 7,
        }
    )
    answer = query_pb2.EvaluatePredicateResponse(
        answer=True,
        statement=statement,
        signature=signer.sign(statement),
        signer_certificate=signer.cert_pem,
        evaluated_at=at,
        audit_sequence=7,
    )
    return answer, tmp_path / pki.CA_CERT


def test_an_answer_as_signed_verifies(
    signed: tuple[query_pb2.EvaluatePredicateResponse, Path],
) -> None:
    answer, ca = signed
    ok = verify_answer(answer, ca, principal="tax-bureau/bob", purpose="tax-assessment")
    assert ok.answer is True and ok.body["principal"] == "tax-bureau/bob"


def test_a_shown_time_that_differs_from_the_signed_one_is_refused(
    signed: tuple[query_pb2.EvaluatePredicateResponse, Path],
) -> None:
    answer, ca = signed
    signed_at = answer.evaluated_at.ToJsonString()
    answer.evaluated_at.seconds -= 86400
    with pytest.raises(ProofRejected) as err:
        verify_answer(answer, ca)
    assert str(err.value) == (
        f"the response's time {answer.evaluated_at.ToJsonString()} differs from the signed "
        f"time {signed_at}"
    )
    answer.ClearField("evaluated_at")
    with pytest.raises(ProofRejected, match="the response's time 1970-01-01T00:00:00Z differs"):
        verify_answer(answer, ca)


@pytest.mark.parametrize(
    ("principal", "purpose", "message"),
    [
        ("tax-bureau/eve", None, "signed for principal 'tax-bureau/bob', not 'tax-bureau/eve'"),
        (None, "marketing", "signed for purpose 'tax-assessment', not 'marketing'"),
    ],
)
def test_an_answer_signed_for_another_audience_is_refused(
    signed: tuple[query_pb2.EvaluatePredicateResponse, Path],
    principal: str | None,
    purpose: str | None,
    message: str,
) -> None:
    answer, ca = signed
    with pytest.raises(ProofRejected) as err:
        verify_answer(answer, ca, principal=principal, purpose=purpose)
    assert str(err.value) == f"the statement was {message}"
