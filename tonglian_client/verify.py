"""Offline checks a client runs without trusting the hub or the channel.

`verify_record` re-verifies a record's proof bundle against the chain's trust
anchors (tonglian_proof/bundle.py, the same code the hub runs); `verify_answer` checks a
predicate answer's signature against the CA the client trusts (tonglian_proof/statement.py).
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from tonglian.v1 import chains_pb2, query_pb2, records_pb2
from tonglian_client.errors import CredentialsError
from tonglian_proof.bundle import BundleVerdict, verify_bundle
from tonglian_proof.errors import ProofRejected
from tonglian_proof.statement import VerifiedStatement, verify_statement


def verify_record(
    record: records_pb2.VerifiedRecord | records_pb2.ProofBundle,
    anchor: chains_pb2.TrustAnchor | None = None,
) -> BundleVerdict:
    """Raises tonglian_proof.errors.ProofRejected naming the failing check."""
    bundle = record.bundle if isinstance(record, records_pb2.VerifiedRecord) else record
    return verify_bundle(bundle, anchor)


def verify_answer(
    answer: query_pb2.EvaluatePredicateResponse, trusted: Path | list[x509.Certificate]
) -> VerifiedStatement:
    """Checks the hub's signature on a predicate answer and that it says `answer.answer`."""
    if isinstance(trusted, Path):
        try:
            cas = x509.load_pem_x509_certificates(trusted.read_bytes())
        except (OSError, ValueError) as exc:
            raise CredentialsError(f"cannot load trusted CA file {trusted}: {exc}") from exc
    else:
        cas = trusted
    verified = verify_statement(answer.statement, answer.signature, answer.signer_certificate, cas)
    if (
        verified.answer != answer.answer
        or verified.body.get("audit_sequence") != answer.audit_sequence
    ):
        raise ProofRejected("the response's answer differs from the signed statement")
    return verified
