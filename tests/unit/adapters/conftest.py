"""Fixtures of the adapters' unit tests."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.fabric.identity import Identity
from adapters.fabric.signer import Signer


@pytest.fixture
def fabric_identity() -> tuple[Identity, Signer]:
    """An Org1MSP client identity (self-signed, valid for a day) and its P-256 signer."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "User1@org1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return Identity("Org1MSP", cert.public_bytes(serialization.Encoding.PEM)), Signer(key)
