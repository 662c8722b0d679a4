"""The SDK's errors name the SDK's own parameters (anchor=, hub_keys=, credentials=),
never the CLI's flags: a Python caller cannot pass `--anchor FILE`."""

from __future__ import annotations

import pytest

from tests.unit.verify.test_bundle_trust import merkle_bundle
from tests.unit.verify.test_signed_merkle import anchor
from tonglian.v1 import chains_pb2
from tonglian_client.client import AsyncClient
from tonglian_client.errors import CredentialsError
from tonglian_client.verify import verify_record
from tonglian_proof.errors import NotAnchored


def test_not_anchored_names_verify_records_parameters() -> None:
    bundle = merkle_bundle(anchor())
    with pytest.raises(NotAnchored) as refused:
        verify_record(bundle)
    assert str(refused.value) == (
        "checked against the trust anchors inside the bundle, which anyone can make: pass "
        "anchor= (the chain's TrustAnchor: tonglian_client.trust.load_anchor(path) reads a "
        "file) or hub_keys= (tonglian_client.trust.hub_keys_from(path): the hub's "
        "certificate, public key or CA)"
    )
    assert "--" not in str(refused.value)
    verdict = verify_record(bundle, chains_pb2.TrustAnchor(signed_merkle=anchor()))
    assert verdict.anchored and verdict.anchored_in == "the trust anchor you gave"


def test_a_client_without_credentials_names_its_own_parameters() -> None:
    with pytest.raises(CredentialsError) as refused:
        AsyncClient("127.0.0.1:1", None)
    assert str(refused.value) == (
        "no client certificate: pass credentials=Credentials(cert, key, ca) (or "
        "Credentials.from_env(), which reads TONGLIAN_CERT/TONGLIAN_KEY/TONGLIAN_CA), or "
        "insecure=True for a hub run with --insecure"
    )
