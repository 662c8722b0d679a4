"""Low-S ECDSA and Ed25519 checks (tonglian_proof/verify/fabric/signature.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file
import fabric_forge as ff

from tonglian_proof.verify.fabric.signature import signature_problem


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
