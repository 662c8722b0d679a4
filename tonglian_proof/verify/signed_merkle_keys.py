"""A signed-Merkle anchor's validator keys and ledger digest, read once and checked.

A validator names its algorithm: Ed25519 (also when the field is unset, as in
anchors written before algorithms were named) with a 32-byte key, or SM2 with a
65-byte 04 ‖ x ‖ y key and its user id. Both sign the same message; an SM2
signature is raw r ‖ s over SM3(Z_A ‖ message). The anchor's digest (SHA-256
when unset, or SM3) hashes the block header, Merkle leaves and Merkle nodes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tonglian.v1 import chains_pb2
from tonglian_proof.crypto import sm2
from tonglian_proof.crypto.sm3 import sm3
from tonglian_proof.errors import MalformedInput

_SHA256_DIGESTS = (chains_pb2.LEDGER_DIGEST_UNSPECIFIED, chains_pb2.LEDGER_DIGEST_SHA256)
_ED25519 = (chains_pb2.SIGNATURE_ALGORITHM_UNSPECIFIED, chains_pb2.SIGNATURE_ALGORITHM_ED25519)


@dataclass(frozen=True)
class Digest:
    name: str
    hash: Callable[[bytes], bytes]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


SHA256 = Digest("SHA-256", _sha256)
SM3 = Digest("SM3", sm3)


def ledger_digest(anchor: chains_pb2.SignedMerkleTrustAnchor) -> Digest:
    if anchor.digest in _SHA256_DIGESTS:
        return SHA256
    if anchor.digest == chains_pb2.LEDGER_DIGEST_SM3:
        return SM3
    raise MalformedInput(
        f"signed_merkle trust anchor: digest {anchor.digest} is not LEDGER_DIGEST_SHA256 "
        "or LEDGER_DIGEST_SM3"
    )


@dataclass(frozen=True)
class ValidatorKey:
    """One anchored validator's key; `algorithm` is the name checks report."""

    id: str
    algorithm: str
    public_key: bytes
    user_id: str = ""
    # The Ed25519 key loaded from `public_key` once, when the anchor was validated
    # (loading it again per signature cost a tenth of a record's verification).
    ed25519: Ed25519PublicKey | None = field(default=None, compare=False, repr=False)

    def verifies(self, message: bytes, signature: bytes) -> bool:
        if self.algorithm == "SM2":
            return sm2.verify(self.public_key, self.user_id, message, signature)
        key = self.ed25519 or Ed25519PublicKey.from_public_bytes(self.public_key)
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def validator_key(v: chains_pb2.Validator) -> ValidatorKey:
    """The validator's key; raises MalformedInput naming the field that is wrong."""
    where = f"signed_merkle trust anchor: validator {v.id!r}"
    if v.algorithm in _ED25519:
        if v.sm2_public_key or v.sm2_user_id:
            raise MalformedInput(
                f"{where} is Ed25519 but sets sm2_public_key or sm2_user_id; "
                "set algorithm SIGNATURE_ALGORITHM_SM2 for an SM2 key"
            )
        if len(v.ed25519_public_key) != 32:
            raise MalformedInput(
                f"{where} key is {len(v.ed25519_public_key)} bytes, an Ed25519 public key is 32"
            )
        try:
            loaded = Ed25519PublicKey.from_public_bytes(v.ed25519_public_key)
        except ValueError as exc:
            raise MalformedInput(f"{where} key is invalid: {exc}") from None
        return ValidatorKey(v.id, "Ed25519", v.ed25519_public_key, ed25519=loaded)
    if v.algorithm == chains_pb2.SIGNATURE_ALGORITHM_SM2:
        if v.ed25519_public_key:
            raise MalformedInput(f"{where} is SM2 but sets ed25519_public_key")
        try:
            sm2.check_public_key(v.sm2_public_key, v.sm2_user_id)
        except sm2.InvalidSM2Key as exc:
            raise MalformedInput(f"{where}: {exc}") from None
        return ValidatorKey(v.id, "SM2", v.sm2_public_key, v.sm2_user_id)
    raise MalformedInput(
        f"{where} algorithm {v.algorithm} is not SIGNATURE_ALGORITHM_ED25519 or "
        "SIGNATURE_ALGORITHM_SM2"
    )
