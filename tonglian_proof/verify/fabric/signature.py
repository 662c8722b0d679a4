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


def _der_s(signature: bytes) -> int | None:
    """`s` of a DER `SEQUENCE { INTEGER r, INTEGER s }` with short-form lengths (every
    P-256 and P-384 signature), or None for any other shape. Only a hint for the fast
    path: OpenSSL accepts strict DER alone, in which this is exactly s."""
    n = len(signature)
    if n < 8 or signature[0] != 0x30 or signature[1] != n - 2 or signature[2] != 0x02:
        return None
    i = 4 + signature[3]
    if i + 2 > n or signature[i] != 0x02 or i + 2 + signature[i + 1] != n:
        return None
    return int.from_bytes(signature[i + 2 :], "big")


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
    # Fast path: a low-S signature that OpenSSL verifies is valid (OpenSSL takes strict DER
    # only and checks 0 < r, s < n itself). Anything else is diagnosed below, so the
    # reason given for a refusal is the same as without this path.
    ec_key = cast("ec.EllipticCurvePublicKey", key)  # a string: `ec.` is a slow module getattr
    s = _der_s(signature)
    if s is not None and 0 < s <= order >> 1:
        try:
            ec_key.verify(signature, message, _ECDSA_SHA256)
        except InvalidSignature:
            pass
        else:
            return None
    return _ecdsa_problem(ec_key, order, signature, message)


def _ecdsa_problem(
    key: ec.EllipticCurvePublicKey, order: int, signature: bytes, message: bytes
) -> str | None:
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        return "signature is not a DER-encoded ECDSA signature"
    if not (0 < r < order and 0 < s < order):
        return "ECDSA signature values out of range"
    if s > order >> 1:
        return "ECDSA signature is not low-S (Fabric refuses high-S signatures)"
    try:
        key.verify(signature, message, _ECDSA_SHA256)
    except InvalidSignature:
        return "ECDSA signature does not verify"
    return None
