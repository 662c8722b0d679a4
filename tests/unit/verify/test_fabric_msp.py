"""MSP identity validation (tonglian_proof/verify/fabric/msp.py) with generated certificates."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file
import fabric_forge as ff

from tonglian_proof.errors import MalformedInput, ProofRejected
from tonglian_proof.verify.fabric.config import load_config, parse_config_block
from tonglian_proof.verify.fabric.msp import clear_cache

AT = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def ident(party: ff.Party, at: datetime = AT) -> str:
    return load_config(ff.world().config).msps.identity(party.serialized(), at).describe()


def test_roles_from_node_ous_and_intermediate_chain() -> None:
    w = ff.world()
    assert ident(w.org1_peer).startswith("Org1MSP peer")
    assert ident(w.org2_peer).startswith("Org2MSP peer")  # via the intermediate CA
    assert ident(w.org1_client).startswith("Org1MSP client")
    assert ident(w.orderer).startswith("OrdererMSP orderer")


def test_real_roots_still_chain_in_modified_config() -> None:
    from tonglian_proof.verify.fabric.block import parse_block

    cfg = load_config(ff.world().config)
    blk = parse_block(ff.block_bytes(7))
    from tonglian_proof.verify.fabric.transaction import parse_header

    h = parse_header(7, 0, blk.envelopes[0])
    assert (
        cfg.msps.identity(h.creator, h.time).describe().startswith("Org1MSP client CN=User1@org1")
    )


def test_cache_never_skips_the_time_check() -> None:
    w = ff.world()
    clear_cache()
    assert ident(w.expired_peer, datetime(2026, 3, 1, tzinfo=UTC)).startswith("Org2MSP peer")
    with pytest.raises(ProofRejected, match="is not valid at 2026-11-27"):
        ident(w.expired_peer)  # cached chain, but expired now


def test_failures_are_not_cached_as_success() -> None:
    w = ff.world()
    for _ in range(2):
        with pytest.raises(ProofRejected, match="does not chain"):
            ident(w.rogue_peer)
        with pytest.raises(ProofRejected, match="revoked"):
            ident(w.revoked_peer)


def test_ca_certificate_cannot_be_an_identity() -> None:
    w = ff.world()
    with pytest.raises(ProofRejected, match="is a CA and cannot sign"):
        ident(w.org2_int)


def test_identity_with_two_node_roles_refused() -> None:
    w = ff.world()
    both = w.org1_ca.issue("both", None)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "peer"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "client"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "both"),
                ]
            )
        )
        .issuer_name(w.org1_ca.cert.subject)
        .public_key(both.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
        .sign(w.org1_ca.key, hashes.SHA256())
    )
    with pytest.raises(ProofRejected, match="must carry exactly one NodeOU role of Org1MSP"):
        ident(ff.Party("Org1MSP", both.key, cert))


def test_identity_of_unknown_msp() -> None:
    w = ff.world()
    stranger = w.rogue_ca.issue("x", "peer", msp_id="Org9MSP")
    with pytest.raises(ProofRejected, match="MSP 'Org9MSP' is not a member of the channel"):
        ident(stranger)


def test_crl_not_signed_by_msp_ca_makes_config_unusable() -> None:
    w = ff.world()
    bad = ff.config_with(crls={"Org2MSP": [w.rogue_ca.crl([1])]})
    with pytest.raises(MalformedInput, match=r"CRL of .* is not signed by any of the MSP's CAs"):
        parse_config_block(bad)


def test_known_identity_answers_only_for_its_exact_bytes_and_config() -> None:
    """The per-channel cache of identities (by serialized bytes) never vouches for another
    certificate, another MSP id, or the same certificate under a config that refuses it."""
    w = ff.world()
    cfg = load_config(w.config)
    peer = w.org1_peer
    assert cfg.msps.identity(peer.serialized(), AT).describe().startswith("Org1MSP peer")
    # Another certificate of the same name and OU, not issued by Org1's CA.
    imposter = w.rogue_ca.issue("peer1.org1.test", "peer", msp_id="Org1MSP")
    with pytest.raises(ProofRejected, match="does not chain to the root CAs of Org1MSP"):
        cfg.msps.identity(imposter.serialized(), AT)
    # The same certificate claimed for another MSP.
    with pytest.raises(ProofRejected, match="does not chain to the root CAs of Org2MSP"):
        cfg.msps.identity(ff.Party("Org2MSP", peer.key, peer.cert).serialized(), AT)
    # The same bytes under a channel config whose CRL revokes the certificate.
    revoking = load_config(
        ff.config_with(
            roots={"Org1MSP": [w.org1_ca.cert], "Org2MSP": [w.org2_ca.cert]},
            intermediates={"Org2MSP": [w.org2_int.cert]},
            crls={"Org1MSP": [w.org1_ca.crl([peer.cert.serial_number])]},
        )
    )
    with pytest.raises(ProofRejected, match="is revoked by a CRL of Org1MSP"):
        revoking.msps.identity(peer.serialized(), AT)
    # And the first config still knows it, with the time checked on the hit.
    assert cfg.msps.identity(peer.serialized(), AT).describe().startswith("Org1MSP peer")
    with pytest.raises(ProofRejected, match="is not valid at 2040-01-01"):
        cfg.msps.identity(peer.serialized(), datetime(2040, 1, 1, tzinfo=UTC))
