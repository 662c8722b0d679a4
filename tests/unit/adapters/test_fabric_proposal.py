"""Proposal building and signing as Fabric's Gateway clients do it: tx id, header, low-S."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from adapters.fabric.identity import Identity
from adapters.fabric.proposal import build_proposal, transaction_id
from adapters.fabric.protos import (
    chaincode_pb2,
    common_pb2,
    identities_pb2,
    proposal_pb2,
)
from adapters.fabric.requests import commit_status_request, seek_envelope, sign_envelope
from adapters.fabric.signer import P256_HALF_ORDER, P256_ORDER, Signer, is_low_s, to_low_s


def test_tx_id_is_sha256_of_nonce_and_creator(fabric_identity: tuple[Identity, Signer]) -> None:
    identity, signer = fabric_identity
    nonce = bytes(range(24))
    p = build_proposal(
        identity, signer, channel="ch", chaincode="records", args=["put", "k"], nonce=nonce
    )
    assert p.tx_id == hashlib.sha256(nonce + identity.creator).hexdigest()
    assert p.tx_id == transaction_id(nonce, identity.creator)


def test_proposal_header_and_payload_as_gateway_clients_build_them(
    fabric_identity: tuple[Identity, Signer],
) -> None:
    identity, signer = fabric_identity
    p = build_proposal(identity, signer, channel="ch", chaincode="records", args=["get", "k"])
    header = common_pb2.Header.FromString(p.proposal.header)
    ch = common_pb2.ChannelHeader.FromString(header.channel_header)
    assert ch.type == common_pb2.HeaderType.ENDORSER_TRANSACTION
    assert (ch.channel_id, ch.tx_id) == ("ch", p.tx_id)
    ext = proposal_pb2.ChaincodeHeaderExtension.FromString(ch.extension)
    assert ext.chaincode_id.name == "records"
    sh = common_pb2.SignatureHeader.FromString(header.signature_header)
    creator = identities_pb2.SerializedIdentity.FromString(sh.creator)
    assert creator.mspid == "Org1MSP" and creator.id_bytes == identity.certificate_pem
    assert len(sh.nonce) == 24
    payload = proposal_pb2.ChaincodeProposalPayload.FromString(p.proposal.payload)
    spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input)
    assert spec.chaincode_spec.chaincode_id.name == "records"
    assert list(spec.chaincode_spec.input.args) == [b"get", b"k"]


def test_signature_verifies_and_is_low_s(fabric_identity: tuple[Identity, Signer]) -> None:
    identity, signer = fabric_identity
    for _ in range(40):  # about half of raw ECDSA signatures are high-S
        p = build_proposal(identity, signer, channel="ch", chaincode="cc", args=["f"])
        sig = bytes(p.message.signature)
        assert is_low_s(sig)
        signer.public_key().verify(sig, p.message.proposal_bytes, ec.ECDSA(hashes.SHA256()))


def test_to_low_s_flips_high_s_only() -> None:
    high = encode_dss_signature(5, P256_ORDER - 7)
    r, s = decode_dss_signature(to_low_s(high))
    assert (r, s) == (5, 7) and s <= P256_HALF_ORDER
    low = encode_dss_signature(5, 7)
    assert to_low_s(low) == low


def test_signed_requests(fabric_identity: tuple[Identity, Signer]) -> None:
    identity, signer = fabric_identity
    env = common_pb2.Envelope(payload=b"prepared")
    signed = sign_envelope(env, signer)
    signer.public_key().verify(signed.signature, b"prepared", ec.ECDSA(hashes.SHA256()))
    req = commit_status_request(identity, signer, "ch", "ab" * 32)
    signer.public_key().verify(req.signature, req.request, ec.ECDSA(hashes.SHA256()))
    seek = seek_envelope(identity, signer, "ch", 3, 5)
    payload = common_pb2.Payload.FromString(seek.payload)
    ch = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    assert ch.type == common_pb2.HeaderType.DELIVER_SEEK_INFO and ch.channel_id == "ch"
