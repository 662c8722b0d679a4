"""Checks an anchor's proof: the chain really holds the head the anchor claims.

Each anchor carries the verified head record's proof bundle; it is re-verified
offline (tonglian_proof/bundle.py), against trust anchors the checker gives or else the
bundle's own, and its value must name the anchor's sequence and hash.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.audit.anchoring import HEAD_SCHEMA, head_value
from hub.audit.chain_check import Finding
from hub.errors import KNOWN_ERRORS
from tonglian.v1 import audit_pb2, chains_pb2
from tonglian_proof.bundle import ReaderTrust, verify_bundle


def check_anchor_proofs(
    anchors: Sequence[audit_pb2.AuditAnchor],
    trusted: dict[str, chains_pb2.TrustAnchor] | None = None,
) -> list[Finding]:
    """Findings for anchors whose proof fails; `trusted` maps chain id to its trust anchor."""
    findings: list[Finding] = []
    for anchor in anchors:
        where = f"anchored on {anchor.chain_id}/{anchor.namespace}/{anchor.key}"
        if not anchor.HasField("bundle"):
            findings.append(Finding(anchor.sequence, f"{where} carries no proof"))
            continue
        record = anchor.bundle.record
        try:
            verify_bundle(anchor.bundle, ReaderTrust((trusted or {}).get(anchor.chain_id)))
        except KNOWN_ERRORS as exc:
            findings.append(Finding(anchor.sequence, f"{where}: the proof does not verify: {exc}"))
            continue
        if (
            record.ref.chain_id != anchor.chain_id
            or record.ref.namespace != anchor.namespace
            or record.ref.key != anchor.key
            or record.schema != HEAD_SCHEMA
            or record.value != head_value(anchor.sequence, anchor.head_hash)
        ):
            findings.append(
                Finding(anchor.sequence, f"{where}: the chain's record names another head")
            )
    return findings
