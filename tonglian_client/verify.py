"""Offline checks a client runs without trusting the hub or the channel.

`verify_record` re-verifies a record's proof bundle (tonglian_proof/bundle.py, the
same code the hub runs) and insists that something the caller trusts anchors it:
the chain's trust anchors the caller supplies, or the hub's signature under a hub
key the caller supplies. `verify_answer` checks a predicate answer's signature
against the CA the client trusts (tonglian_proof/statement.py), and that what the
answer shows (its yes/no, its time, its audit event) and who it was for (principal,
purpose) are what the hub signed: a signature is only worth what it covers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from google.protobuf.timestamp_pb2 import Timestamp

from tonglian.v1 import chains_pb2, query_pb2, records_pb2
from tonglian_client.errors import CredentialsError
from tonglian_client.trust import evm_header_from_node
from tonglian_proof.bundle import BundleVerdict, ReaderTrust, TrustNames, verify_bundle
from tonglian_proof.errors import NotAnchored, ProofRejected
from tonglian_proof.statement import HubKey, VerifiedStatement, verify_statement

# The remedy a NotAnchored names, in this function's own parameters.
SDK_NAMES = TrustNames(
    give="pass anchor= (the chain's TrustAnchor: tonglian_client.trust.load_anchor(path) "
    "reads a file) or hub_keys= (tonglian_client.trust.hub_keys_from(path): the hub's "
    "certificate, public key or CA)",
    evm="pass evm_rpc= (a node you trust) or hub_keys= (the hub's key)",
)


def verify_record(
    record: records_pb2.VerifiedRecord | records_pb2.ProofBundle,
    anchor: chains_pb2.TrustAnchor | None = None,
    *,
    hub_keys: Sequence[HubKey] = (),
    evm_rpc: str | None = None,
) -> BundleVerdict:
    """The verdict on a record, anchored in `anchor` and/or `hub_keys` (never the bundle's own).

    `evm_rpc` names an Ethereum node the caller trusts to re-check an EVM block hash.
    Raises ProofRejected naming the failing check, and NotAnchored when the bundle is
    consistent but nothing the caller gave vouches for it.
    """
    bundle = record.bundle if isinstance(record, records_pb2.VerifiedRecord) else record
    evm_header = None
    if evm_rpc is not None and bundle.proof.WhichOneof("kind") == "evm":
        evm = (anchor or bundle.trust_anchor).evm
        evm_header = evm_header_from_node(evm_rpc, bundle.proof.evm, evm)
    verdict = verify_bundle(
        bundle, ReaderTrust(anchor, tuple(hub_keys), evm_header, names=SDK_NAMES)
    )
    if not verdict.anchored:
        raise NotAnchored(verdict.anchored_in)
    return verdict


def verify_answer(
    answer: query_pb2.EvaluatePredicateResponse,
    trusted: Path | list[x509.Certificate],
    *,
    principal: str | None = None,
    purpose: str | None = None,
) -> VerifiedStatement:
    """Checks the hub's signature on a predicate answer, and that the answer, its time
    (`evaluated_at`) and audit event are those signed; with `principal` ("agency/client",
    as the caller's certificate names it) and `purpose`, that it was answered for them.
    ProofRejected names the first difference."""
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
    body = verified.body
    signed_at = Timestamp()
    try:
        signed_at.FromJsonString(str(body.get("evaluated_at")))
    except ValueError:
        raise ProofRejected("the statement has no valid evaluated_at") from None
    if answer.evaluated_at != signed_at:
        raise ProofRejected(
            f"the response's time {answer.evaluated_at.ToJsonString()} differs from the "
            f"signed time {signed_at.ToJsonString()}"
        )
    for what, expected in (("principal", principal), ("purpose", purpose)):
        if expected is not None and body.get(what) != expected:
            raise ProofRejected(
                f"the statement was signed for {what} {body.get(what)!r}, not {expected!r}"
            )
    return verified
