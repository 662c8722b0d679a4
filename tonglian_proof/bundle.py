"""Proof bundles: a verified record with everything needed to re-verify it offline.

A bundle file is the deterministic protobuf encoding of a tonglian.v1.ProofBundle.
Its digest catches corruption; its trust comes from re-running the verifier
against trust anchors that the reader trusts (`tonglian verify --anchor`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from tonglian.v1 import chains_pb2, records_pb2

if TYPE_CHECKING:
    from tonglian_proof.verify.evm import TrustedEvmHeader

from tonglian_proof.errors import MalformedInput, ProofRejected
from tonglian_proof.verify import PROOF_KIND_OF_CHAIN, verify_proof

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


@dataclass(frozen=True)
class BundleVerdict:
    record: records_pb2.Record
    proof_kind: str
    checks: list[str]
    # True when the anchors came from the reader, not from the bundle itself.
    anchor_given: bool


def trusted_evm_header_offline(
    proof: records_pb2.EvmStorageProof, anchor: chains_pb2.EvmTrustAnchor
) -> TrustedEvmHeader:
    """QBFT headers carry their own seals; otherwise the hub's recorded attestations."""
    if anchor.consensus == chains_pb2.EVM_CONSENSUS_QBFT:
        from tonglian_proof.verify.evm_qbft import trusted_from_qbft_seals

        return trusted_from_qbft_seals(proof, anchor)
    from hub.oracles.evm_headers import trusted_from_attestations

    return trusted_from_attestations(proof, anchor)


def verify_bundle(
    bundle: records_pb2.ProofBundle, anchor: chains_pb2.TrustAnchor | None = None
) -> BundleVerdict:
    """Re-verifies a bundle offline, against `anchor` when given (else its own anchors).

    Raises ProofRejected with the failing check.
    """
    if anchor is not None and anchor.SerializeToString(
        deterministic=True
    ) != bundle.trust_anchor.SerializeToString(deterministic=True):
        raise ProofRejected(
            "the bundle's trust anchors differ from the trusted anchor file: "
            "it was not made for the chain you trust"
        )
    trusted = anchor or bundle.trust_anchor
    kind = PROOF_KIND_OF_CHAIN.get(bundle.chain_kind)
    proof_kind = bundle.proof.WhichOneof("kind")
    if kind is None or kind != proof_kind:
        raise ProofRejected(
            f"bundle says chain kind {bundle.chain_kind} but carries a {proof_kind} proof"
        )
    evm_header = None
    if proof_kind == "evm":
        evm_header = trusted_evm_header_offline(bundle.proof.evm, trusted.evm)
    checks = verify_proof(bundle.record, bundle.proof, trusted, evm_header)
    # After the proof, so a change the proof catches is reported by the check it breaks.
    if bundle_digest(bundle) != bundle.digest:
        raise ProofRejected(
            "bundle digest does not match its content: the file was altered after the hub made it"
        )
    checks.append("bundle digest matches its content")
    return BundleVerdict(bundle.record, proof_kind, checks, anchor is not None)
