"""Predicate evaluation over JSON values, and signed statements checked offline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from hub import pki
from hub.errors import InvalidInput
from hub.predicate import check_predicate, describe, evaluate
from tonglian.v1 import query_pb2
from tonglian_client import predicates as p
from tonglian_proof.errors import ProofRejected
from tonglian_proof.statement import StatementSigner, encode_statement, verify_statement

RESIDENCE = {
    "valid_from": "2020-03-01",
    "valid_to": "2025-06-30",
    "status": "valid",
    "address": {"city": "Shanghai"},
    "floor": 3,
}


@pytest.mark.parametrize(
    ("predicate", "answer"),
    [
        (p.equals("status", "valid"), True),
        (p.equals("status", "cancelled"), False),
        (p.not_equals("status", "cancelled"), True),
        (p.equals("address.city", "Shanghai"), True),
        (p.equals("floor", 3.0), True),
        (p.equals("floor", "3"), False),
        (p.greater_than("floor", 2), True),
        (p.less_than("floor", "4"), False),  # number against string: never true
        (p.between("floor", 1, 3), True),
        (p.exists("address.district"), False),
        (p.exists("address"), True),
        (p.in_force_on("2024-02-29"), True),
        (p.in_force_on("2025-07-01"), False),
        (p.in_force_on("2020-03-01"), True),
        (p.equals("missing.deep", 1), False),
    ],
)
def test_evaluate(predicate: query_pb2.Predicate, answer: bool) -> None:
    check_predicate(predicate)
    assert evaluate(predicate, RESIDENCE) is answer


@pytest.mark.parametrize(
    ("predicate", "message"),
    [
        (query_pb2.Predicate(), "predicate.field must be a dotted path"),
        (query_pb2.Predicate(field="a..b", operator=1, operand_json="1"), "dotted path"),
        (query_pb2.Predicate(field="a"), "predicate.operator is required"),
        (
            query_pb2.Predicate(field="a", operator=1, operand_json="active"),
            "predicate operand_json 'active' is not JSON: quote strings",
        ),
        (
            query_pb2.Predicate(field="a", all_of=[p.exists("b")]),
            "a predicate with all_of has no field",
        ),
    ],
)
def test_bad_predicates(predicate: query_pb2.Predicate, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_predicate(predicate)


def test_describe() -> None:
    assert describe(p.in_force_on("2024-01-01")) == (
        '(valid_from <= "2024-01-01") and (valid_to >= "2024-01-01")'
    )


def test_signed_statement_verifies_and_tampering_is_caught(tmp_path: Path) -> None:
    folder = tmp_path / "pki"
    pki.init_ca(folder)
    signer = StatementSigner(
        pki.load_certificate(folder / "hub.crt"), pki.load_private_key(folder / "hub.key")
    )
    trusted = [pki.load_certificate(folder / pki.CA_CERT)]
    now = datetime.now(UTC).isoformat()
    statement = encode_statement({"answer": True, "evaluated_at": now})
    signature = signer.sign(statement)
    ok = verify_statement(statement, signature, signer.cert_pem, trusted)
    assert ok.answer is True and "hub signature over the statement verifies" in ok.checks

    with pytest.raises(ProofRejected, match="signature does not match the statement"):
        verify_statement(statement.replace(b"true", b"false"), signature, signer.cert_pem, trusted)

    other = tmp_path / "other"
    pki.init_ca(other, name="Other CA")
    with pytest.raises(
        ProofRejected,
        match=r"the signer certificate \(CN=hub,OU=hub,O=tonglian-hub, issued by "
        r"'CN=Tonglian Dev CA,O=tonglian'\) is not a hub key, hub certificate or CA you trust",
    ):
        verify_statement(
            statement, signature, signer.cert_pem, [pki.load_certificate(other / pki.CA_CERT)]
        )
    agency = pki.issue(folder, "alice", org="x", role="agency")
    agency_signer = StatementSigner(
        pki.load_certificate(agency.cert), pki.load_private_key(agency.key)
    )
    with pytest.raises(ProofRejected, match=r"not a hub certificate \(OU=hub\)"):
        verify_statement(statement, agency_signer.sign(statement), agency_signer.cert_pem, trusted)
    assert isinstance(trusted[0], x509.Certificate)
