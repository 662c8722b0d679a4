"""Low-S ECDSA and Ed25519 checks (tonglian_proof/verify/fabric/signature.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file
import fabric_forge as ff

from tonglian_proof.verify.fabric.signature import _CURVE_ORDER, _ecdsa_problem, signature_problem


def test_low_s_required() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sig = ff.low_s_sign(key, b"msg")
    assert signature_problem(key.public_key(), sig, b"msg") is None
    assert signature_problem(key.public_key(), ff.high_s(sig), b"msg") == (
        "ECDSA signature is not low-S (Fabric refuses high-S signatures)"
    )
    assert signature_problem(key.public_key(), sig, b"other") == "ECDSA signature does not verify"
    assert signature_problem(key.public_key(), b"\x30\x00", b"msg") is not None


def test_ed25519() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    assert signature_problem(key.public_key(), key.sign(b"m"), b"m") is None
    assert (
        signature_problem(key.public_key(), key.sign(b"m"), b"n")
        == "Ed25519 signature does not verify"
    )


def _der_int(v: bytes) -> bytes:
    return b"\x02" + bytes([len(v)]) + v


def _seq(body: bytes) -> bytes:
    return b"\x30" + bytes([len(body)]) + body


def _variants(sig: bytes, order: int) -> list[bytes]:
    """Encodings around a valid signature that strict DER refuses, or values out of range."""
    r, s = decode_dss_signature(sig)

    def raw(v: int) -> bytes:
        return v.to_bytes((v.bit_length() + 8) // 8 or 1, "big")

    r_b, s_b = raw(r), raw(s)
    long_form = b"\x30\x81" + bytes([len(sig) - 2]) + sig[2:]
    return [
        _seq(_der_int(b"\x00" + r_b) + _der_int(s_b)),  # r not minimal
        _seq(_der_int(r_b) + _der_int(b"\x00" + s_b)),  # s not minimal
        long_form,  # SEQUENCE length in long form
        sig + b"\x00",  # trailing byte
        sig[:-1],  # truncated
        _seq(_der_int(r_b) + _der_int(s_b) + b"\x02\x01\x01"),  # a third integer
        _seq(_der_int(b"\x00") + _der_int(s_b)),  # r = 0
        _seq(_der_int(r_b) + _der_int(b"\x00")),  # s = 0
        _seq(_der_int(r_b) + _der_int(raw(order))),  # s = n
        _seq(_der_int(raw(r + order)) + _der_int(s_b)),  # r + n: same r mod n
        _seq(_der_int(r_b) + _der_int(raw(order - s))),  # high-S twin
        _seq(_der_int(s_b) + _der_int(r_b)),  # r and s swapped
        b"\x31" + sig[1:],  # SET instead of SEQUENCE
    ]


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_fast_path_refuses_exactly_what_the_full_check_refuses(curve: ec.EllipticCurve) -> None:
    """The low-S fast path accepts no encoding the full DER/range/low-S check refuses, and
    gives the same reason for every refusal."""
    key = ec.generate_private_key(curve)
    pub = key.public_key()
    order = _CURVE_ORDER[curve.name]
    for _ in range(4):
        r, s = decode_dss_signature(key.sign(b"msg", ec.ECDSA(hashes.SHA256())))
        sig = encode_dss_signature(r, min(s, order - s))
        assert signature_problem(pub, sig, b"msg") is None
        for bad in _variants(sig, order):
            reason = _ecdsa_problem(pub, order, bad, b"msg")
            assert reason is not None
            assert signature_problem(pub, bad, b"msg") == reason
