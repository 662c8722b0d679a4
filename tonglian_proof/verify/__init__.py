"""Trusted proof verifiers: pure functions from (record, proof, trust anchor) to a verdict.

Nothing here does I/O, so every verifier can run in a worker process and be
re-run offline by `tonglian verify`. Each returns the list of checks that
passed and raises hub.errors.ProofRejected with the first one that failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.errors import ProofRejected

if TYPE_CHECKING:
    from tonglian_proof.verify.evm import TrustedEvmHeader

PROOF_KIND_OF_CHAIN: dict[int, str] = {
    chains_pb2.CHAIN_KIND_FABRIC: "fabric",
    chains_pb2.CHAIN_KIND_EVM: "evm",
    chains_pb2.CHAIN_KIND_SIGNED_MERKLE: "signed_merkle",
}


def verify_proof(
    record: records_pb2.Record,
    proof: records_pb2.Proof,
    anchor: chains_pb2.TrustAnchor,
    evm_header: TrustedEvmHeader | None = None,
) -> list[str]:
    """Verifies `proof` of `record` against `anchor`, whatever the proof kind."""
    kind = proof.WhichOneof("kind")
    anchor_kind = anchor.WhichOneof("anchor")
    if kind is None:
        raise ProofRejected("no proof: the record came without proof material")
    if kind != anchor_kind:
        raise ProofRejected(
            f"a {kind} proof cannot be checked against a {anchor_kind or 'missing'} trust anchor"
        )
    # Imported here so a worker loads only the verifier it needs.
    if kind == "signed_merkle":
        from tonglian_proof.verify.signed_merkle import verify_signed_merkle_record

        checks: list[str] = verify_signed_merkle_record(
            record, proof.signed_merkle, anchor.signed_merkle
        )
        return checks
    if kind == "evm":
        from tonglian_proof.verify.evm import verify_evm_record

        if evm_header is None:
            raise ProofRejected("no trusted EVM header: the block hash was not attested")
        return verify_evm_record(record, proof.evm, anchor.evm, evm_header)
    from tonglian_proof.verify.fabric import verify_fabric_record

    return verify_fabric_record(record, proof.fabric, anchor.fabric)
