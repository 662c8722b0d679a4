"""The fabric adapter's identity: certificates inline as PEM, the key a secret of the chain
(issue 27, attack 2). Options naming files are refused with one message, the file unopened.

Covers the whole conversion without a Fabric network: the devnet's chain description ->
the registration the SDK sends (PEM inlined, key put into the chain's store) -> the
adapter the hub builds from options + resolved secret, which signs a proposal."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf.json_format import MessageToDict, ParseDict

from adapters.base import AdapterContext, AdapterMisconfigured, Secret
from adapters.fabric import check_options, create_adapter
from adapters.fabric.options import IDENTITY_KEY, PATHS_REFUSED
from adapters.fabric.proposal import build_proposal
from adapters.fabric.signer import is_low_s
from devnets.fabric.client import devnet_adapter
from devnets.fabric.layout import NetworkPlan
from devnets.fabric.network import FabricDevnet
from hub import adapter_plugins
from hub.adapter_context import adapter_context
from hub.errors import InvalidInput
from tonglian.v1 import chains_pb2
from tonglian_client.secret_files import staged

DATA = Path(__file__).resolve().parents[2] / "data" / "fabric"
TLS_CA = (DATA / "certs" / "Org1MSP" / "tlsca.pem").read_text()


def _pem_identity() -> tuple[str, str]:
    """A self-signed P-256 client certificate and its PKCS#8 key, both PEM."""
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
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def _options(cert_pem: str) -> dict[str, Any]:
    return {
        "channel": "govchannel",
        "chaincode": "records",
        "peers": [
            {"endpoint": "127.0.0.1:7051", "msp_id": "Org1MSP", "tls_root_cert_pem": TLS_CA},
            {"endpoint": "127.0.0.1:9051", "msp_id": "Org2MSP", "tls_root_cert_pem": TLS_CA},
        ],
        "identity": {"msp_id": "Org1MSP", "cert_pem": cert_pem},
    }


def _devnet_plan(root: Path, cert_pem: str, key_pem: str) -> NetworkPlan:
    """A devnet plan whose crypto material is on disk where cryptogen would put it."""
    plan = NetworkPlan.fresh(root)
    plan.channel = "govchannel"  # the recorded config block's channel
    for org in plan.orgs:
        plan.peer_tls_ca(org).parent.mkdir(parents=True)
        plan.peer_tls_ca(org).write_text(TLS_CA)
        for user in ("User1", "Admin"):
            msp = plan.user_dir(org, user) / "msp"
            (msp / "signcerts").mkdir(parents=True)
            (msp / "keystore").mkdir()
            (msp / "signcerts" / f"{user}-cert.pem").write_text(cert_pem)
            (msp / "keystore" / "priv_sk").write_text(key_pem)
    plan.genesis_block.parent.mkdir(parents=True)
    shutil.copy(DATA / "config-block.pb", plan.genesis_block)
    return plan


def test_the_devnets_chain_registers_inline_pem_and_a_store_secret(tmp_path: Path) -> None:
    cert_pem, key_pem = _pem_identity()
    plan = _devnet_plan(tmp_path, cert_pem, key_pem)
    info = FabricDevnet(tmp_path)._info(plan, [])
    described = ParseDict(info.chain, chains_pb2.Chain())
    options = MessageToDict(described.adapter.options)
    assert options["identity"] == {"msp_id": "Org1MSP", "cert_pem": cert_pem}
    assert [p["tls_root_cert_pem"] for p in options["peers"]] == [TLS_CA, TLS_CA]
    assert str(tmp_path) not in json.dumps(options)  # no path of the devnet's files
    key_file = plan.user_key(plan.orgs[0], "User1")
    assert dict(described.adapter.secrets) == {
        IDENTITY_KEY: chains_pb2.SecretRef(file=str(key_file))
    }
    # What the SDK sends: the key put into the chain's own store first, referenced by name.
    to_register, puts = staged(described)
    assert [(p.chain_id, p.name, p.value) for p in puts] == [
        ("fabric-1", IDENTITY_KEY, key_pem.encode())
    ]
    assert dict(to_register.adapter.secrets) == {
        IDENTITY_KEY: chains_pb2.SecretRef(store=IDENTITY_KEY)
    }
    # The hub accepts the options at registration and builds the adapter from them and
    # the secret it resolves from the store; the adapter signs with that key.
    adapter_plugins.check_options("fabric", MessageToDict(to_register.adapter.options))
    ctx = adapter_context(
        to_register, timeout=5, secrets={IDENTITY_KEY: Secret(puts[0].value.decode())}
    )
    adapter = create_adapter(ctx)
    assert adapter.identity.certificate_pem == cert_pem.encode()
    proposal = build_proposal(
        adapter.identity, adapter._signer, channel="govchannel", chaincode="records", args=["f"]
    )
    signature = bytes(proposal.message.signature)
    assert is_low_s(signature)
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, proposal.message.proposal_bytes, ec.ECDSA(hashes.SHA256()))
    # The devnet's own tools (tests, benchmarks, the demo) build the same adapter.
    own = devnet_adapter(info, "fabric-1")
    assert own.identity == adapter.identity and own._signer.public_key() == public


@pytest.mark.parametrize(
    "change",
    [
        {"identity": {"msp_id": "Org1MSP", "cert": "/etc/passwd", "key": "/etc/shadow"}},
        {"identity": {"msp_id": "Org1MSP", "cert_pem": "x", "key": "/nonexistent"}},
        {"identity": {"msp_id": "Org1MSP", "cert": "pki/ca.key"}},
        {"peers": [{"endpoint": "127.0.0.1:7051", "msp_id": "Org1MSP", "tls_root_cert": "../x"}]},
    ],
)
def test_options_naming_files_get_one_message(change: dict[str, Any], tmp_path: Path) -> None:
    cert_pem, _ = _pem_identity()
    options = {**_options(cert_pem), **change}
    with pytest.raises(AdapterMisconfigured) as err:
        check_options(options)
    assert str(err.value) == PATHS_REFUSED
    with pytest.raises(InvalidInput) as refused:
        adapter_plugins.check_options("fabric", options)
    assert str(refused.value) == PATHS_REFUSED
    with pytest.raises(AdapterMisconfigured) as built:
        create_adapter(AdapterContext("fab", options, {IDENTITY_KEY: Secret("k")}))
    assert str(built.value) == PATHS_REFUSED


def test_the_refusal_says_nothing_about_the_file() -> None:
    assert PATHS_REFUSED == (
        "fabric adapter options name files (identity.cert, identity.key or a peer's "
        "tls_root_cert), which the hub never opens: give the certificates inline as PEM text "
        "(identity.cert_pem, peers[].tls_root_cert_pem) and the identity's private key as the "
        "chain's secret 'identity_key' (`tonglian secrets put CHAIN identity_key --file KEY`)"
    )


def test_the_key_is_a_secret_and_must_match_the_certificate() -> None:
    cert_pem, key_pem = _pem_identity()
    _, other_key = _pem_identity()
    options = _options(cert_pem)
    cases = [
        (
            {},
            "no secret 'identity_key' in the chain's adapter settings: the identity's private "
            "key is one (`tonglian secrets put fab identity_key --file KEY`)",
        ),
        (
            {IDENTITY_KEY: Secret(key_pem), "token": Secret("t")},
            "the fabric adapter takes only the secret 'identity_key', not token",
        ),
        (
            {IDENTITY_KEY: Secret(other_key)},
            "secret 'identity_key' is not the private key of identity.cert_pem",
        ),
    ]
    for secrets, message in cases:
        with pytest.raises(AdapterMisconfigured) as err:
            create_adapter(AdapterContext("fab", options, secrets))
        assert str(err.value) == message
    with pytest.raises(AdapterMisconfigured) as garbage:
        create_adapter(AdapterContext("fab", options, {IDENTITY_KEY: Secret("not a key")}))
    assert str(garbage.value).startswith(
        "secret 'identity_key' is not an unencrypted PEM private key"
    )
    assert "not a key" not in str(garbage.value)


def test_inline_certificates_must_be_pem() -> None:
    cert_pem, _ = _pem_identity()
    options = _options(cert_pem)
    options["identity"]["cert_pem"] = "/etc/passwd"
    with pytest.raises(AdapterMisconfigured) as err:
        check_options(options)
    assert str(err.value) == (
        "invalid fabric adapter options: identity.cert_pem: Value error, is not PEM text of "
        "an X.509 certificate"
    )


def test_plugins_without_an_options_check_take_any_options_at_registration() -> None:
    adapter_plugins.check_options("custom", {"identity": {"cert": "/etc/passwd"}})
    with pytest.raises(InvalidInput) as err:
        adapter_plugins.check_options("nope", {})
    assert str(err.value).startswith("no adapter named 'nope' is installed")
