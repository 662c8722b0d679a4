"""Signed predicate statements: the hub's yes/no answer, checkable without trusting the channel.

The statement is canonical JSON (keys sorted, no spaces, UTF-8):

    {"format": "tonglian.predicate-statement/v1", "ref": {chain_id, namespace, key},
     "predicate": <Predicate as proto JSON>, "answer": true|false,
     "record": {"version", "block_height", "tx_id"}, "proof_digest": <hex SHA-256 of
     the serialized Proof the hub verified>, "principal", "purpose",
     "evaluated_at": <RFC 3339>, "audit_sequence": <the audit event holding the digest>}

signed with ECDSA P-256 / SHA-256 (DER) by the hub's signing key, whose
certificate (OU=hub) a verifier checks against the CA it trusts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tonglian_proof.canonical import canonical_json
from tonglian_proof.errors import MalformedInput, ProofRejected

FORMAT = "tonglian.predicate-statement/v1"
SIGNER_ROLE = "hub"


def encode_statement(body: dict[str, Any]) -> bytes:
    return canonical_json({"format": FORMAT, **body})


class StatementSigner:
    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        if cert.public_key() != key.public_key():
            raise MalformedInput("the signing certificate does not belong to the signing key")
        self.cert = cert
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        self._key = key

    @property
    def key(self) -> ec.EllipticCurvePrivateKey:
        """The signing key, for secrets the hub derives from it (its page-token seal)."""
        return self._key

    def sign(self, statement: bytes) -> bytes:
        return self._key.sign(statement, ec.ECDSA(hashes.SHA256()))


@dataclass(frozen=True)
class VerifiedStatement:
    answer: bool
    body: dict[str, Any]
    signer: str
    checks: list[str]


# What a reader may name as the hub it trusts: the CA that issued the hub's
# statement certificate, that certificate itself, or its bare public key.
HubKey = x509.Certificate | ec.EllipticCurvePublicKey


def load_hub_keys(pem: bytes, where: str) -> list[HubKey]:
    """Every certificate and public key in a PEM file; MalformedInput when it holds none."""
    keys: list[HubKey] = []
    try:
        keys.extend(x509.load_pem_x509_certificates(pem))
    except ValueError:
        pass
    for block in pem.split(b"-----BEGIN PUBLIC KEY-----")[1:]:
        text = b"-----BEGIN PUBLIC KEY-----" + block.split(b"-----END PUBLIC KEY-----")[0]
        try:
            key = serialization.load_pem_public_key(text + b"-----END PUBLIC KEY-----\n")
        except ValueError as exc:
            raise MalformedInput(f"{where}: a public key does not parse: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise MalformedInput(f"{where}: a hub key must be an ECDSA P-256 key")
        keys.append(key)
    if not keys:
        raise MalformedInput(f"{where} holds no PEM certificate or public key")
    return keys


def _same_key(a: ec.EllipticCurvePublicKey, b: object) -> bool:
    return isinstance(b, ec.EllipticCurvePublicKey) and a.public_numbers() == b.public_numbers()


def trusted_signer(cert: x509.Certificate, trusted: Sequence[HubKey]) -> str:
    """How `cert` is vouched for by what the reader trusts; ProofRejected when it is not."""
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise ProofRejected("the signer certificate does not hold an ECDSA key")
    for key in trusted:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if _same_key(public, key):
                return "signer key is a hub key you trust"
        elif key == cert:
            return "signer certificate is a hub certificate you trust"
    for ca in trusted:
        if not isinstance(ca, x509.Certificate) or ca.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise ProofRejected("the signer certificate's CA signature does not verify") from None
        roles = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        if [r.value for r in roles] != [SIGNER_ROLE]:
            raise ProofRejected("the signer certificate is not a hub certificate (OU=hub)")
        return f"signer certificate issued by {ca.subject.rfc4514_string()}"
    raise ProofRejected(
        f"the signer certificate ({cert.subject.rfc4514_string()}, issued by "
        f"{cert.issuer.rfc4514_string()!r}) is not a hub key, hub certificate or CA you trust"
    )


def parse_signer(signer_pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(signer_pem.encode())
    except ValueError as exc:
        raise ProofRejected(f"the signer certificate does not parse: {exc}") from exc


def check_signature(cert: x509.Certificate, signature: bytes, statement: bytes) -> None:
    """ProofRejected unless `signature` is `cert`'s ECDSA P-256 signature of `statement`."""
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise ProofRejected("the signer certificate does not hold an ECDSA key")
    try:
        public.verify(signature, statement, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ProofRejected(
            "the signature does not match the statement: it was altered or not signed by the hub"
        ) from None


def verify_statement(
    statement: bytes, signature: bytes, signer_pem: str, trusted: Sequence[HubKey]
) -> VerifiedStatement:
    """Checks a signed answer offline; ProofRejected names the check that failed."""
    cert = parse_signer(signer_pem)
    checks = [trusted_signer(cert, trusted)]
    check_signature(cert, signature, statement)
    checks.append("hub signature over the statement verifies")
    try:
        body = json.loads(statement)
    except ValueError as exc:
        raise ProofRejected(f"the statement is not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ProofRejected(f"the statement is not a {FORMAT}")
    try:
        at = datetime.fromisoformat(str(body["evaluated_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError) as exc:
        raise ProofRejected("the statement has no valid evaluated_at") from exc
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise ProofRejected("the signer certificate was not valid when the statement was made")
    checks.append("signer certificate valid at evaluated_at")
    answer = body.get("answer")
    if not isinstance(answer, bool):
        raise ProofRejected("the statement has no yes/no answer")
    return VerifiedStatement(answer, body, cert.subject.rfc4514_string(), checks)
