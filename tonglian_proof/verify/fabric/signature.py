"""Signature checks as Fabric's BCCSP does them.

ECDSA signatures are over SHA-256 of the message and must be low-S (s <= n/2):
Fabric normalises its own signatures and refuses high-S ones, so an accepted
high-S signature would be a malleated copy no Fabric peer would take.
Ed25519 (Fabric v3 MSPs) is verified as is.
"""

from __future__ import annotations

from typing import cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

# Group orders of the curves Fabric accepts.
_CURVE_ORDER = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    "secp521r1": int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def signature_problem(key: PublicKey, signature: bytes, message: bytes) -> str | None:
    """Return None when `signature` is a valid Fabric signature of `message`, else why not."""
    curve = getattr(key, "curve", None)  # cheaper than an ABC isinstance, per signature
    if curve is None:
        if not isinstance(key, ed25519.Ed25519PublicKey):
            return f"unsupported key type {type(key).__name__}"
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return "Ed25519 signature does not verify"
        return None
    order = _CURVE_ORDER.get(curve.name)
    if order is None:
        return f"unsupported curve {curve.name}"
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        return "signature is not a DER-encoded ECDSA signature"
    if not (0 < r < order and 0 < s < order):
        return "ECDSA signature values out of range"
    if s > order >> 1:
        return "ECDSA signature is not low-S (Fabric refuses high-S signatures)"
    try:
        cast(ec.EllipticCurvePublicKey, key).verify(signature, message, _ECDSA_SHA256)
    except InvalidSignature:
        return "ECDSA signature does not verify"
    return None
