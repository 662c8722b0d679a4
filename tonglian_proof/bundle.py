"""Proof bundles: a verified record with everything needed to re-verify it offline.

A bundle file is the deterministic protobuf encoding of a tonglian.v1.ProofBundle.
Its digest catches corruption. Its trust never comes from what it carries about
itself: re-running the verifier against the bundle's own anchors only shows the
bundle is consistent. It is *anchored* when something the reader chose vouches
for it: trust anchors the reader supplied (plus, for an EVM endpoint-quorum
chain, a block hash re-checked at a node the reader named), or the serving
hub's signature checked against a hub key the reader supplied ("the hub said
so at T", and named as such).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.canonical import canonical_json
from tonglian_proof.errors import MalformedInput, ProofRejected
from tonglian_proof.statement import (
    HubKey,
    StatementSigner,
    check_signature,
    parse_signer,
    trusted_signer,
)
from tonglian_proof.verdict_report import ReportLine, proof_lines, signature_lines
from tonglian_proof.verify import PROOF_KIND_OF_CHAIN, verify_proof

if TYPE_CHECKING:
    from tonglian_proof.verify.evm import TrustedEvmHeader

BUNDLE_FORMAT = "tonglian.proof-bundle/v1"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024


def make_bundle(
    chain: chains_pb2.Chain, record: records_pb2.Record, proof: records_pb2.Proof
) -> records_pb2.ProofBundle:
    created_at = Timestamp()
    created_at.FromDatetime(datetime.now(UTC))
    bundle = records_pb2.ProofBundle(
        format=BUNDLE_FORMAT,
        record=record,
        proof=proof,
        chain_kind=chain.kind,
        trust_anchor=chain.trust_anchor,
        created_at=created_at,
    )
    bundle.digest = bundle_digest(bundle)
    return bundle


def bundle_digest(bundle: records_pb2.ProofBundle) -> bytes:
    unsigned = records_pb2.ProofBundle()
    unsigned.CopyFrom(bundle)
    unsigned.ClearField("digest")
    unsigned.ClearField("hub_signature")
    return hashlib.sha256(unsigned.SerializeToString(deterministic=True)).digest()


def encode_bundle(bundle: records_pb2.ProofBundle) -> bytes:
    return bundle.SerializeToString(deterministic=True)


def decode_bundle(data: bytes) -> records_pb2.ProofBundle:
    """Parses a bundle file; raises MalformedInput saying what is wrong with it."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise MalformedInput(f"bundle is {len(data)} bytes; the limit is {MAX_BUNDLE_BYTES}")
    try:
        bundle = records_pb2.ProofBundle.FromString(data)
    except DecodeError as exc:
        raise MalformedInput(f"not a proof bundle: the protobuf does not parse ({exc})") from exc
    if bundle.format != BUNDLE_FORMAT:
        raise MalformedInput(
            f"not a proof bundle: format is {bundle.format[:60]!r}, expected {BUNDLE_FORMAT!r}"
        )
    if encode_bundle(bundle) != data:
        # Unknown fields or a non-canonical encoding: bytes that no check would cover.
        raise MalformedInput("bundle bytes are not the canonical encoding of a proof bundle")
    return bundle


STATEMENT_FORMAT = "tonglian.bundle-statement/v1"


def bundle_statement(digest: bytes, signed_at: Timestamp) -> bytes:
    """The bytes a hub signs for a bundle: its digest and when it vouched for it."""
    at = signed_at.ToDatetime(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    return canonical_json(
        {"bundle_digest": digest.hex(), "format": STATEMENT_FORMAT, "signed_at": at}
    )


def sign_bundle(bundle: records_pb2.ProofBundle, signer: StatementSigner) -> None:
    """Adds the hub's signature over `bundle`'s digest, made now."""
    signed_at = Timestamp()
    signed_at.FromDatetime(datetime.now(UTC))
    bundle.hub_signature.CopyFrom(
        records_pb2.HubSignature(
            signer_certificate=signer.cert_pem,
            signature=signer.sign(bundle_statement(bundle.digest, signed_at)),
            signed_at=signed_at,
        )
    )


@dataclass(frozen=True)
class TrustNames:
    """How the reader's own interface names the trust it can give, for the remedy a
    "not anchored" verdict ends with: the CLI's flags by default; the SDK names its
    parameters (tonglian_client.verify)."""

    # Any proof kind: the chain's anchors or a hub key.
    give: str = "pass --anchor FILE (or keep anchors in --anchors DIR) or --hub-key FILE"
    # An EVM endpoint-quorum anchor: a node the reader trusts, or a hub key.
    evm: str = "name a node you trust (--rpc URL) or the hub's key (--hub-key)"


@dataclass(frozen=True)
class ReaderTrust:
    """What the reader chose to trust. Nothing in here may come from the bundle."""

    # The chain's trust anchors, from the reader's own files.
    anchor: chains_pb2.TrustAnchor | None = None
    # Hub statement keys, hub certificates or the CA that issues them.
    hub_keys: tuple[HubKey, ...] = ()
    # An EVM block hash the reader re-checked at a node they named (`--rpc`).
    evm_header: TrustedEvmHeader | None = None
    # How the reader's interface names these, for a "not anchored" remedy.
    names: TrustNames = TrustNames()


@dataclass(frozen=True)
class BundleVerdict:
    record: records_pb2.Record
    proof_kind: str
    # Every check that passed, consistency and anchoring alike, in order.
    checks: list[str]
    # True only when something in ReaderTrust vouches for the record.
    anchored: bool
    # What it is anchored in, or why it is not: one line for people.
    anchored_in: str
    # When the serving hub signed the bundle, if it did and the signature is intact.
    hub_signed_at: datetime | None = None
    # Who signed it, as the statement certificate beside the signature names it: that is
    # the hub only when `hub_key_checked` (a hub key the reader gave checked it).
    hub_signer: str = ""
    hub_key_checked: bool = False
    # The facts for people, each marked checked or resting on the bundle's own material
    # (tonglian_proof/verdict_report.py).
    report: tuple[ReportLine, ...] = ()


def _hub_signature(
    bundle: records_pb2.ProofBundle, hub_keys: tuple[HubKey, ...], checks: list[str]
) -> tuple[bool, str, datetime | None, list[ReportLine]]:
    """(vouched, signer, signed_at, report lines): a broken signature is refused, an
    untrusted one is not an anchor."""
    if not bundle.HasField("hub_signature"):
        return False, "", None, []
    sig = bundle.hub_signature
    cert = parse_signer(sig.signer_certificate)
    check_signature(cert, sig.signature, bundle_statement(bundle.digest, sig.signed_at))
    signed_at = sig.signed_at.ToDatetime(tzinfo=UTC)
    if not cert.not_valid_before_utc <= signed_at <= cert.not_valid_after_utc:
        raise ProofRejected("the hub's statement certificate was not valid at signed_at")
    signer = cert.subject.rfc4514_string()
    checks.append(f"hub signature by {signer} over the bundle digest is intact")
    untrusted = signature_lines(signer, keys_given=bool(hub_keys), trusted_how=None)
    if not hub_keys:
        return False, signer, signed_at, untrusted
    try:
        how = trusted_signer(cert, hub_keys)
    except ProofRejected:
        return False, signer, signed_at, untrusted
    checks.append(how)
    return True, signer, signed_at, signature_lines(signer, keys_given=True, trusted_how=how)


def _evm_header(
    bundle: records_pb2.ProofBundle, anchor: chains_pb2.TrustAnchor, trust: ReaderTrust
) -> tuple[TrustedEvmHeader, str]:
    """The header to check the EVM proof against, and what authenticates its hash."""
    proof, evm = bundle.proof.evm, anchor.evm
    if trust.evm_header is not None:
        return trust.evm_header, "node"
    if evm.consensus == chains_pb2.EVM_CONSENSUS_QBFT:
        from tonglian_proof.verify.evm_qbft import trusted_from_qbft_seals

        return trusted_from_qbft_seals(proof, evm), "seals"
    from tonglian_proof.verify.evm_attested import header_from_attestations

    return header_from_attestations(proof, evm), "hub"


def verify_bundle(
    bundle: records_pb2.ProofBundle, trust: ReaderTrust | None = None
) -> BundleVerdict:
    """Re-verifies a bundle offline and says whether what the reader trusts anchors it.

    Raises ProofRejected with the failing check when the bundle is inconsistent,
    altered, or made against anchors other than the reader's. A consistent bundle
    that nothing of the reader's vouches for is returned with `anchored=False`.
    """
    trust = trust or ReaderTrust()
    if trust.anchor is not None and trust.anchor.SerializeToString(
        deterministic=True
    ) != bundle.trust_anchor.SerializeToString(deterministic=True):
        raise ProofRejected(
            "the bundle's trust anchors differ from the trusted anchor file: "
            "it was not made for the chain you trust"
        )
    anchor = trust.anchor or bundle.trust_anchor
    kind = PROOF_KIND_OF_CHAIN.get(bundle.chain_kind)
    proof_kind = bundle.proof.WhichOneof("kind")
    if kind is None or kind != proof_kind:
        raise ProofRejected(
            f"bundle says chain kind {bundle.chain_kind} but carries a {proof_kind} proof"
        )
    evm_header, evm_source = None, ""
    if proof_kind == "evm":
        evm_header, evm_source = _evm_header(bundle, anchor, trust)
    checks = verify_proof(bundle.record, bundle.proof, anchor, evm_header)
    # After the proof, so a change the proof catches is reported by the check it breaks.
    if bundle_digest(bundle) != bundle.digest:
        raise ProofRejected(
            "bundle digest does not match its content: the file was altered after the hub made it"
        )
    checks.append("bundle digest matches its content")
    consistency = list(checks)
    vouched, signer, signed_at, signature = _hub_signature(bundle, trust.hub_keys, checks)
    anchored, anchored_in = _anchoring(trust, proof_kind, evm_source, vouched, signer, signed_at)
    report = (*proof_lines(consistency, anchored), *signature)
    return BundleVerdict(
        bundle.record,
        proof_kind,
        checks,
        anchored,
        anchored_in,
        signed_at,
        signer,
        hub_key_checked=vouched,
        report=report,
    )


def _anchoring(
    trust: ReaderTrust,
    proof_kind: str,
    evm_source: str,
    vouched: bool,
    signer: str,
    signed_at: datetime | None,
) -> tuple[bool, str]:
    hub_said = (
        f"the signature of hub {signer}, a hub key you gave: the hub says it verified this "
        f"record against these anchors at {signed_at:%Y-%m-%dT%H:%M:%SZ}"
        if vouched and signed_at is not None
        else ""
    )
    if trust.anchor is not None:
        if proof_kind != "evm" or evm_source in ("node", "seals"):
            how = {
                "node": " and the block hash your node gave",
                "seals": " and its QBFT validator seals",
            }.get(evm_source, "")
            mine = f"the trust anchor you gave{how}"
            return True, mine + (f"; also {hub_said}" if hub_said else "")
        if vouched:
            return True, f"the trust anchor you gave, with the block hash attested by {hub_said}"
        return False, (
            "the EVM block hash is not authenticated: an endpoint-quorum anchor cannot vouch "
            f"for it offline; {trust.names.evm}"
        )
    if vouched:
        return True, hub_said
    if signer:
        return False, (
            f"checked against the trust anchors inside the bundle, which anyone can make; "
            f"it is signed by a certificate that names {signer}, which is not a hub key you "
            f"gave: {trust.names.give}"
        )
    return False, (
        f"checked against the trust anchors inside the bundle, which anyone can make: "
        f"{trust.names.give}"
    )
