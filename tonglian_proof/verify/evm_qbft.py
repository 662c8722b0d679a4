"""Header trust for QBFT chains: committed seals of the registered validators in extraData.

A QBFT block is final once sealed. Each committed seal is a 65-byte secp256k1
signature (r ‖ s ‖ recovery id) over the QBFT block hash, i.e. keccak256 of
the header with the seals list emptied (see evm_header.qbft_block_hash). The
block is trusted when distinct validators of the anchor's set sealed it, at
least ceil(2n/3) of n: Besu's quorum, which is what its chains produce (for
n = 3f+1 it equals 2f+1, more than two thirds). Only the anchor's validator set
counts; the set written in the header is ignored, so a validator-set change
needs a new registration.
"""

from __future__ import annotations

from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.exceptions import ValidationError

from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.evm import TrustedEvmHeader
from tonglian_proof.verify.evm_header import (
    HeaderError,
    decode_header,
    decode_qbft_extra,
    qbft_block_hash,
)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def qbft_quorum(validator_count: int) -> int:
    """Seals needed out of `validator_count`: ceil(2n/3)."""
    return -(-2 * validator_count // 3)


def recover_seal(seal: bytes, block_hash: bytes) -> bytes:
    """The address (20 bytes) that produced `seal` over `block_hash`."""
    if len(seal) != 65:
        raise ProofRejected(f"a committed seal is {len(seal)} bytes, not 65")
    v = seal[64]
    if v in (27, 28):
        v -= 27
    if v not in (0, 1):
        raise ProofRejected(f"a committed seal has recovery id {seal[64]}")
    s = int.from_bytes(seal[32:64], "big")
    if s > SECP256K1_N // 2:
        raise ProofRejected("a committed seal has a high s value (malleable signature)")
    try:
        signature = Signature(seal[:64] + bytes([v]))
        public_key = signature.recover_public_key_from_msg_hash(block_hash)
    except (BadSignature, ValidationError) as exc:
        raise ProofRejected(f"a committed seal does not recover: {exc}") from exc
    return public_key.to_canonical_address()


def trusted_from_qbft_seals(
    proof: records_pb2.EvmStorageProof, anchor: chains_pb2.EvmTrustAnchor
) -> TrustedEvmHeader:
    """The proof's header as trusted by its validator seals; raises ProofRejected otherwise."""
    try:
        header = decode_header(proof.block_header_rlp)
        extra = decode_qbft_extra(header.extra_data)
        block_hash = qbft_block_hash(header)
    except HeaderError as exc:
        raise ProofRejected(f"QBFT header: {exc}") from exc
    validators = set(anchor.validators)
    signers: set[bytes] = set()
    strangers: list[str] = []
    for seal in extra.seals:
        signer = recover_seal(seal, block_hash)
        if signer in validators:
            signers.add(signer)
        else:
            strangers.append(to_checksum_address(signer))
    need = qbft_quorum(len(validators))
    if len(signers) < need:
        detail = f"; seals from non-validators: {', '.join(strangers)}" if strangers else ""
        raise ProofRejected(
            f"block {header.number} has seals of {len(signers)} distinct registered "
            f"validator(s), {need} of {len(validators)} required{detail}"
        )
    return TrustedEvmHeader(
        block_number=header.number,
        block_hash=block_hash,
        head_number=header.number,
        source=f"QBFT seals of {len(signers)} of {len(validators)} validators",
    )
