"""What "verified" may mean offline: anchored in the reader's trust, never the bundle's own.

Bundles here are forged from nothing (made-up validators, a made-up EVM state) and
are internally consistent, so only ReaderTrust can tell them from real ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import json_format

from hub import pki
from tests.unit.verify.evm_forge import forge_evm_bundle
from tests.unit.verify.test_signed_merkle import anchor, block
from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.bundle import (
    BUNDLE_FORMAT,
    ReaderTrust,
    bundle_digest,
    sign_bundle,
    verify_bundle,
)
from tonglian_proof.errors import ProofRejected
from tonglian_proof.statement import StatementSigner
from tonglian_proof.verify.evm import TrustedEvmHeader

VECTOR = json.loads(Path(__file__).with_name("test_evm_vector.json").read_text())


def merkle_bundle(trust_anchor: chains_pb2.SignedMerkleTrustAnchor) -> records_pb2.ProofBundle:
    b = block(3)
    bundle = records_pb2.ProofBundle(
        format=BUNDLE_FORMAT,
        record=b.records[1],
        proof=records_pb2.Proof(signed_merkle=b.proof(1)),
        chain_kind=chains_pb2.CHAIN_KIND_SIGNED_MERKLE,
        trust_anchor=chains_pb2.TrustAnchor(signed_merkle=trust_anchor),
    )
    bundle.digest = bundle_digest(bundle)
    return bundle


def signer(tmp_path: Path, name: str) -> StatementSigner:
    cert, key = pki.own_statement_key(tmp_path / name)
    return StatementSigner(pki.load_certificate(cert), pki.load_private_key(key))


def test_a_bundle_from_made_up_validators_is_consistent_but_not_anchored() -> None:
    verdict = verify_bundle(merkle_bundle(anchor()))
    assert verdict.anchored is False
    assert verdict.anchored_in == (
        "checked against the trust anchors inside the bundle, which anyone can make: "
        "pass --anchor FILE (or keep anchors in --anchors DIR) or --hub-key FILE"
    )


def test_the_readers_anchor_anchors_it_and_another_chains_anchor_refuses_it() -> None:
    bundle = merkle_bundle(anchor())
    verdict = verify_bundle(bundle, ReaderTrust(chains_pb2.TrustAnchor(signed_merkle=anchor())))
    assert verdict.anchored and verdict.anchored_in == "the trust anchor you gave"
    real = chains_pb2.TrustAnchor(signed_merkle=anchor(threshold=2))
    with pytest.raises(ProofRejected, match="the bundle's trust anchors differ"):
        verify_bundle(bundle, ReaderTrust(real))


def test_the_hubs_signature_anchors_it_only_under_a_hub_key_the_reader_gave(
    tmp_path: Path,
) -> None:
    hub, mallory = signer(tmp_path, "hub"), signer(tmp_path, "mallory")
    bundle = merkle_bundle(anchor())
    sign_bundle(bundle, hub)
    verdict = verify_bundle(bundle, ReaderTrust(hub_keys=(hub.cert,)))
    assert verdict.anchored and verdict.hub_signed_at is not None
    assert verdict.anchored_in.startswith(
        "the signature of hub OU=hub,CN=tonglian hub statement key, a hub key you gave: "
        "the hub says it verified this record against these anchors at "
    )
    assert "signer certificate is a hub certificate you trust" in verdict.checks
    # The public key alone is as good as the certificate.
    assert verify_bundle(bundle, ReaderTrust(hub_keys=(hub.cert.public_key(),))).anchored  # type: ignore[arg-type]

    # Mallory re-signs a forged bundle with her own key: intact, but not the reader's hub.
    forged = merkle_bundle(anchor())
    sign_bundle(forged, mallory)
    verdict = verify_bundle(forged, ReaderTrust(hub_keys=(hub.cert,)))
    assert verdict.anchored is False
    assert "which is not a hub key you gave" in verdict.anchored_in


def test_a_broken_hub_signature_or_a_change_after_signing_is_refused(tmp_path: Path) -> None:
    hub = signer(tmp_path, "hub")
    bundle = merkle_bundle(anchor())
    sign_bundle(bundle, hub)
    bad = records_pb2.ProofBundle()
    bad.CopyFrom(bundle)
    bad.hub_signature.signature = bytes(reversed(bad.hub_signature.signature))
    with pytest.raises(ProofRejected, match="the signature does not match the statement"):
        verify_bundle(bad, ReaderTrust(hub_keys=(hub.cert,)))
    later = records_pb2.ProofBundle()
    later.CopyFrom(bundle)
    later.hub_signature.signed_at.seconds += 1
    with pytest.raises(ProofRejected, match="the signature does not match the statement"):
        verify_bundle(later, ReaderTrust(hub_keys=(hub.cert,)))
    moved = records_pb2.ProofBundle()
    moved.CopyFrom(bundle)
    moved.created_at.seconds += 1
    with pytest.raises(ProofRejected, match="bundle digest does not match its content"):
        verify_bundle(moved, ReaderTrust(hub_keys=(hub.cert,)))


def _evm_anchor() -> chains_pb2.TrustAnchor:
    evm = json_format.ParseDict(VECTOR["anchor"], chains_pb2.EvmTrustAnchor())
    return chains_pb2.TrustAnchor(evm=evm)


def _evm_forgery(a: chains_pb2.TrustAnchor) -> records_pb2.ProofBundle:
    real = json_format.ParseDict(VECTOR["proof"], records_pb2.EvmStorageProof())
    return forge_evm_bundle(
        a,
        real.block_header_rlp,
        chain_id="evm-1",
        key="lic-3",
        schema="gov.license.business/v1",
        value=b'{"status":"active"}',
        version=9,
        block_number=real.block_number,
    )


def test_an_evm_bundle_forged_from_nothing_is_not_anchored_by_the_anchor_alone() -> None:
    a = _evm_anchor()
    forged = _evm_forgery(a)
    verdict = verify_bundle(forged, ReaderTrust(a))
    # Every per-proof check passes: the state, header and attestations agree...
    assert any("equals the trusted block hash" in c for c in verdict.checks)
    # ...and still nothing the reader trusts vouches for the block hash.
    assert verdict.anchored is False
    assert verdict.anchored_in == (
        "the EVM block hash is not authenticated: an endpoint-quorum anchor cannot vouch "
        "for it offline; name a node you trust (--rpc URL) or the hub's key (--hub-key)"
    )


def test_a_block_hash_from_the_readers_node_refuses_the_forgery_and_anchors_the_real_read() -> None:
    a = _evm_anchor()
    real = json_format.ParseDict(VECTOR["proof"], records_pb2.EvmStorageProof())
    node = TrustedEvmHeader(
        block_number=real.block_number,
        block_hash=real.block_hash,
        head_number=VECTOR["head_number"],
        source="your node http://node",
    )
    with pytest.raises(ProofRejected, match=r"but the trusted block .* is 0x"):
        verify_bundle(_evm_forgery(a), ReaderTrust(a, evm_header=node))
    bundle = records_pb2.ProofBundle(
        format=BUNDLE_FORMAT,
        record=json_format.ParseDict(VECTOR["record"], records_pb2.Record()),
        proof=records_pb2.Proof(evm=real),
        chain_kind=chains_pb2.CHAIN_KIND_EVM,
        trust_anchor=a,
    )
    bundle.digest = bundle_digest(bundle)
    verdict = verify_bundle(bundle, ReaderTrust(a, evm_header=node))
    assert verdict.anchored
    assert verdict.anchored_in == "the trust anchor you gave and the block hash your node gave"
