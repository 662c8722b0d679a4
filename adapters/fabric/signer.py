"""ECDSA P-256 signing as Fabric verifies it: SHA-256 digest, DER signature, low-S.

Fabric rejects a signature whose S is in the upper half of the curve order
(malleability guard), so every signature is normalised to S <= n/2.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

# Order of the P-256 group.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_HALF_ORDER = P256_ORDER >> 1


class SignerError(ValueError):
    """The private key is not an unencrypted PEM ECDSA P-256 key."""


def to_low_s(signature: bytes) -> bytes:
    """The same signature with S in the lower half of the order (DER in, DER out)."""
    r, s = decode_dss_signature(signature)
    if s > P256_HALF_ORDER:
        s = P256_ORDER - s
    return encode_dss_signature(r, s)


def is_low_s(signature: bytes) -> bool:
    _, s = decode_dss_signature(signature)
    return s <= P256_HALF_ORDER


@dataclass(frozen=True)
class Signer:
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def from_pem(cls, pem: bytes, source: str = "key") -> Signer:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise SignerError(f"{source} is not an unencrypted PEM private key: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise SignerError(f"{source} is not an ECDSA P-256 key")
        return cls(key)

    def sign(self, message: bytes) -> bytes:
        """DER ECDSA signature over SHA-256(message), low-S."""
        return to_low_s(self.key.sign(message, ec.ECDSA(hashes.SHA256())))

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.key.public_key()

    def private_pem(self) -> bytes:
        """The key as unencrypted PKCS#8 PEM, for a TLS client credential (discovery)."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
