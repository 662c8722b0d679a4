"""The EVM block hash a hub recorded from its endpoints, read back offline.

An ENDPOINT_QUORUM anchor authenticates a block hash only by asking its RPC
endpoints, which an offline reader cannot do. The proof carries what the
endpoints told the serving hub; those records are unsigned, so they are worth
exactly as much as the hub's signature over the bundle that holds them. This
module checks that they are coherent (configured endpoints, each once, all on
the proof's block hash, at least k); bundle.py decides whether anything the
reader trusts vouches for them.
"""

from __future__ import annotations

from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.evm import TrustedEvmHeader


def header_from_attestations(
    proof: records_pb2.EvmStorageProof, anchor: chains_pb2.EvmTrustAnchor
) -> TrustedEvmHeader:
    """The header as the proof's attestations record it; ProofRejected when incoherent."""
    configured = set(anchor.rpc_endpoints)
    seen: set[str] = set()
    for att in proof.attestations:
        if att.endpoint not in configured:
            raise ProofRejected(f"attestation from {att.endpoint}, not an endpoint of the anchor")
        if att.endpoint in seen:
            raise ProofRejected(f"two attestations from {att.endpoint}")
        seen.add(att.endpoint)
        if att.block_hash != proof.block_hash:
            raise ProofRejected(
                f"{att.endpoint} attested 0x{att.block_hash.hex()} for block "
                f"{proof.block_number}, the proof's block is 0x{proof.block_hash.hex()}"
            )
    k = anchor.endpoint_quorum
    if len(seen) < k or not seen:
        raise ProofRejected(
            f"the proof records {len(seen)} endpoint attestation(s), the anchor requires {k}"
        )
    return TrustedEvmHeader(
        block_number=proof.block_number,
        block_hash=proof.block_hash,
        # The lowest: each attesting endpoint vouched that the chain is at least this long.
        head_number=min(att.head_number for att in proof.attestations),
        source=f"{len(seen)} of {len(configured)} RPC endpoints attested to the hub, {k} required",
        attestations=tuple(proof.attestations),
    )
