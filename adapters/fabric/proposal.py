"""Signed proposals, built the way the official Fabric Gateway clients build them.

nonce: 24 random bytes; tx id: hex SHA-256(nonce ‖ creator); channel header of
type ENDORSER_TRANSACTION with the chaincode id in its extension; payload a
ChaincodeProposalPayload holding a ChaincodeInvocationSpec of the arguments.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from google.protobuf import timestamp_pb2

from adapters.fabric.identity import Identity
from adapters.fabric.protos import Message, chaincode_pb2, common_pb2, proposal_pb2
from adapters.fabric.signer import Signer

NONCE_LENGTH = 24


def new_nonce() -> bytes:
    return os.urandom(NONCE_LENGTH)


def transaction_id(nonce: bytes, creator: bytes) -> str:
    """Fabric's tx id: hex SHA-256 of nonce ‖ serialized creator."""
    return hashlib.sha256(nonce + creator).hexdigest()


def now_timestamp() -> timestamp_pb2.Timestamp:
    ns = time.time_ns()
    return timestamp_pb2.Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)


@dataclass(frozen=True)
class SignedProposal:
    """A proposal ready to send, with the facts a caller needs about it."""

    tx_id: str
    channel: str
    chaincode: str
    message: Message

    @property
    def proposal(self) -> Message:
        return proposal_pb2.Proposal.FromString(self.message.proposal_bytes)

    def serialize(self) -> bytes:
        return bytes(self.message.SerializeToString())


def build_proposal(
    identity: Identity,
    signer: Signer,
    *,
    channel: str,
    chaincode: str,
    args: Sequence[bytes | str],
    transient: Mapping[str, bytes] | None = None,
    nonce: bytes | None = None,
    timestamp: timestamp_pb2.Timestamp | None = None,
) -> SignedProposal:
    """Builds and signs a proposal invoking `chaincode` with `args` (function name first)."""
    creator = identity.creator
    nonce = new_nonce() if nonce is None else nonce
    tx_id = transaction_id(nonce, creator)
    extension = proposal_pb2.ChaincodeHeaderExtension(
        chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode)
    )
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.HeaderType.ENDORSER_TRANSACTION,
        channel_id=channel,
        tx_id=tx_id,
        timestamp=timestamp or now_timestamp(),
        extension=extension.SerializeToString(),
    )
    signature_header = common_pb2.SignatureHeader(creator=creator, nonce=nonce)
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=signature_header.SerializeToString(),
    )
    spec = chaincode_pb2.ChaincodeInvocationSpec(
        chaincode_spec=chaincode_pb2.ChaincodeSpec(
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode),
            input=chaincode_pb2.ChaincodeInput(
                args=[a.encode() if isinstance(a, str) else bytes(a) for a in args]
            ),
        )
    )
    payload = proposal_pb2.ChaincodeProposalPayload(
        input=spec.SerializeToString(), TransientMap=dict(transient or {})
    )
    proposal = proposal_pb2.Proposal(
        header=header.SerializeToString(), payload=payload.SerializeToString()
    )
    proposal_bytes = proposal.SerializeToString()
    signed = proposal_pb2.SignedProposal(
        proposal_bytes=proposal_bytes, signature=signer.sign(proposal_bytes)
    )
    return SignedProposal(tx_id=tx_id, channel=channel, chaincode=chaincode, message=signed)
