"""Signed requests that are not proposals: prepared transactions, commit status, events, seeks,
discovery questions.

Each is a value: built and signed here, sent by `gateway.py`.
"""

from __future__ import annotations

import hashlib

from adapters.fabric.identity import Identity
from adapters.fabric.proposal import new_nonce, now_timestamp, transaction_id
from adapters.fabric.protos import (
    Message,
    ab_pb2,
    common_pb2,
    discovery_pb2,
    gateway_pb2,
    proposal_response_pb2,
)
from adapters.fabric.signer import Signer

# The highest block number: "keep the stream open" for a seek.
NEWEST_POSSIBLE = 2**64 - 1


def sign_envelope(envelope: Message, signer: Signer) -> Message:
    """The gateway's prepared transaction, signed by the client over its payload."""
    return common_pb2.Envelope(payload=envelope.payload, signature=signer.sign(envelope.payload))


def commit_status_request(identity: Identity, signer: Signer, channel: str, tx_id: str) -> Message:
    request = gateway_pb2.CommitStatusRequest(
        transaction_id=tx_id, channel_id=channel, identity=identity.creator
    ).SerializeToString()
    return gateway_pb2.SignedCommitStatusRequest(request=request, signature=signer.sign(request))


def chaincode_events_request(
    identity: Identity,
    signer: Signer,
    channel: str,
    chaincode: str,
    start_block: int | None = None,
    after_tx_id: str = "",
) -> Message:
    """From `start_block` (None: the next block committed) on."""
    if start_block is None:
        start = ab_pb2.SeekPosition(newest=ab_pb2.SeekNewest())
    else:
        start = ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start_block))
    request = gateway_pb2.ChaincodeEventsRequest(
        channel_id=channel,
        chaincode_id=chaincode,
        identity=identity.creator,
        start_position=start,
        after_transaction_id=after_tx_id,
    ).SerializeToString()
    return gateway_pb2.SignedChaincodeEventsRequest(request=request, signature=signer.sign(request))


def discovery_request(
    identity: Identity, signer: Signer, tls_cert_der: bytes, channel: str, chaincode: str
) -> Message:
    """Two questions to a peer's discovery service about `chaincode` on `channel`: can the
    peers it knows satisfy the chaincode's endorsement policy, and which peers does it know
    per organisation. Discovery binds a request to the TLS session that carries it, so the
    request names the hash of the client certificate sent in that session."""
    interest = proposal_response_pb2.ChaincodeInterest(
        chaincodes=[proposal_response_pb2.ChaincodeCall(name=chaincode)]
    )
    payload = discovery_pb2.Request(
        authentication=discovery_pb2.AuthInfo(
            client_identity=identity.creator,
            client_tls_cert_hash=hashlib.sha256(tls_cert_der).digest(),
        ),
        queries=[
            discovery_pb2.Query(
                channel=channel, cc_query=discovery_pb2.ChaincodeQuery(interests=[interest])
            ),
            discovery_pb2.Query(channel=channel, peer_query=discovery_pb2.PeerMembershipQuery()),
        ],
    ).SerializeToString()
    return discovery_pb2.SignedRequest(payload=payload, signature=signer.sign(payload))


def seek_envelope(
    identity: Identity, signer: Signer, channel: str, start: int, stop: int = NEWEST_POSSIBLE
) -> Message:
    """A signed DELIVER_SEEK_INFO envelope: blocks `start`..`stop`, waiting for new ones."""
    nonce = new_nonce()
    creator = identity.creator
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.HeaderType.DELIVER_SEEK_INFO,
        channel_id=channel,
        tx_id=transaction_id(nonce, creator),
        timestamp=now_timestamp(),
    )
    seek = ab_pb2.SeekInfo(
        start=ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start)),
        stop=ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=stop)),
        behavior=ab_pb2.SeekInfo.BLOCK_UNTIL_READY,
    )
    payload = common_pb2.Payload(
        header=common_pb2.Header(
            channel_header=channel_header.SerializeToString(),
            signature_header=common_pb2.SignatureHeader(
                creator=creator, nonce=nonce
            ).SerializeToString(),
        ),
        data=seek.SerializeToString(),
    ).SerializeToString()
    return common_pb2.Envelope(payload=payload, signature=signer.sign(payload))
