"""Endorsements a gateway cannot plan: retried while discovery misses a peer, refused otherwise.

The peers are fakes (unit test): what is checked is the request the adapter signs for
discovery, how it reads discovery's answer, and which typed error an endorsement that
failed with FAILED_PRECONDITION becomes.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.base import AdapterContext
from adapters.fabric.adapter import FabricAdapter
from adapters.fabric.discovery import DiscoveryView, read_view
from adapters.fabric.errors import DiscoveryError, EndorseError, MalformedAnswer, PeerUnavailable
from adapters.fabric.identity import Identity
from adapters.fabric.options import FabricAdapterOptions
from adapters.fabric.protos import Message, discovery_pb2, identities_pb2
from adapters.fabric.requests import discovery_request
from adapters.fabric.signer import Signer

NO_PLAN = "no combination of peers can be derived which satisfy the endorsement policy"


def _response(*, satisfiable: bool, orgs: list[str]) -> Message:
    endorsement = (
        discovery_pb2.QueryResult(cc_query_res=discovery_pb2.ChaincodeQueryResult())
        if satisfiable
        else discovery_pb2.QueryResult(error=discovery_pb2.Error(content="no peer combination"))
    )
    members = discovery_pb2.PeerMembershipResult()
    for org in orgs:
        members.peers_by_org[org].peers.add(identity=b"peer of " + org.encode())
    return discovery_pb2.Response(results=[endorsement, discovery_pb2.QueryResult(members=members)])


def test_request_asks_both_questions_signed_and_bound_to_the_tls_certificate(
    fabric_identity: tuple[Identity, Signer],
) -> None:
    identity, signer = fabric_identity
    signed = discovery_request(identity, signer, identity.certificate_der, "ch", "records")
    signer.public_key().verify(signed.signature, signed.payload, ec.ECDSA(hashes.SHA256()))
    request = discovery_pb2.Request.FromString(signed.payload)
    creator = identities_pb2.SerializedIdentity.FromString(request.authentication.client_identity)
    assert (creator.mspid, creator.id_bytes) == ("Org1MSP", identity.certificate_pem)
    assert (
        request.authentication.client_tls_cert_hash
        == hashlib.sha256(identity.certificate_der).digest()
    )
    cc, peers = request.queries
    assert (cc.channel, cc.WhichOneof("query")) == ("ch", "cc_query")
    assert [c.name for c in cc.cc_query.interests[0].chaincodes] == ["records"]
    assert (peers.channel, peers.WhichOneof("query")) == ("ch", "peer_query")


def test_view_reads_satisfiable_policy_and_the_orgs_with_peers() -> None:
    view = read_view(_response(satisfiable=True, orgs=["Org1MSP", "Org2MSP"]))
    assert view == DiscoveryView(True, "", frozenset({"Org1MSP", "Org2MSP"}))
    assert view.missing(frozenset({"Org1MSP", "Org3MSP"})) == frozenset({"Org3MSP"})


def test_view_keeps_discoverys_refusal() -> None:
    view = read_view(_response(satisfiable=False, orgs=["Org1MSP"]))
    assert view == DiscoveryView(False, "no peer combination", frozenset({"Org1MSP"}))


def test_view_refuses_answers_to_other_questions() -> None:
    with pytest.raises(MalformedAnswer, match="discovery answered 1 results to 2 questions"):
        read_view(discovery_pb2.Response(results=[discovery_pb2.QueryResult()]))
    refused = _response(satisfiable=True, orgs=[])
    refused.results[1].CopyFrom(
        discovery_pb2.QueryResult(error=discovery_pb2.Error(content="access denied"))
    )
    with pytest.raises(MalformedAnswer, match="refused the membership query: access denied"):
        read_view(refused)


class FakePeer:
    """A gateway that cannot plan an endorsement, and its discovery's answer."""

    def __init__(self, msp_id: str, discovery: Message | Exception) -> None:
        self.msp_id = msp_id
        self.endpoint = f"{msp_id.lower()}:7051"
        self.discovery = discovery
        self.endorse_code = "FAILED_PRECONDITION"

    async def endorse(self, tx_id: str, *args: Any) -> Message:
        raise EndorseError("Endorse", self.endpoint, self.endorse_code, NO_PLAN, [], tx_id)

    def connected(self) -> bool:
        return True

    async def discover(self, *args: Any) -> Message:
        if isinstance(self.discovery, Exception):
            raise self.discovery
        return self.discovery


def _adapter(fabric_identity: tuple[Identity, Signer], *peers: FakePeer) -> FabricAdapter:
    identity, signer = fabric_identity
    pem = identity.certificate_pem.decode()
    options = FabricAdapterOptions.model_validate(
        {
            "channel": "ch",
            "chaincode": "records",
            "peers": [
                {"endpoint": p.endpoint, "msp_id": p.msp_id, "tls_root_cert_pem": pem}
                for p in peers
            ],
            "identity": {"msp_id": "Org1MSP", "cert_pem": pem},
        }
    )
    return FabricAdapter(AdapterContext("fab"), options, identity, signer, peers)  # type: ignore[arg-type]


async def test_missing_peer_in_discovery_is_unavailable_and_fails_over(
    fabric_identity: tuple[Identity, Signer],
) -> None:
    org1 = FakePeer("Org1MSP", _response(satisfiable=False, orgs=["Org1MSP"]))
    org2 = FakePeer("Org2MSP", _response(satisfiable=False, orgs=["Org2MSP"]))
    with pytest.raises(PeerUnavailable) as err:
        await _adapter(fabric_identity, org1, org2).submit_transaction("put", "k", "s", "{}")
    # The last gateway tried (Org2's) is the one reported; both were tried.
    assert str(err.value) == (
        f"Endorse via org2msp:7051 failed (FAILED_PRECONDITION): {NO_PLAN} "
        "(discovery at org2msp:7051 sees no peer of Org1MSP yet)"
    )


async def test_discovery_caught_up_since_is_unavailable_too(
    fabric_identity: tuple[Identity, Signer],
) -> None:
    org1 = FakePeer("Org1MSP", _response(satisfiable=True, orgs=["Org1MSP"]))
    with pytest.raises(PeerUnavailable, match="discovery at org1msp:7051 has since found"):
        await _adapter(fabric_identity, org1).submit_transaction("put", "k", "s", "{}")


async def test_every_peer_seen_and_policy_unmet_is_refused_for_good(
    fabric_identity: tuple[Identity, Signer],
) -> None:
    org1 = FakePeer("Org1MSP", _response(satisfiable=False, orgs=["Org1MSP", "Org2MSP"]))
    org2 = FakePeer("Org2MSP", _response(satisfiable=False, orgs=["Org1MSP", "Org2MSP"]))
    with pytest.raises(EndorseError) as err:
        await _adapter(fabric_identity, org1, org2).submit_transaction("put", "k", "s", "{}")
    assert not isinstance(err.value, PeerUnavailable)
    assert err.value.endpoint == "org1msp:7051"  # refused at the first gateway: no failover


async def test_discovery_that_cannot_answer_leaves_the_refusal_as_it_was(
    fabric_identity: tuple[Identity, Signer],
) -> None:
    refused = DiscoveryError("Discover", "org1msp:7051", "PERMISSION_DENIED", "access denied")
    org1 = FakePeer("Org1MSP", refused)
    with pytest.raises(EndorseError) as err:
        await _adapter(fabric_identity, org1).submit_transaction("put", "k", "s", "{}")
    assert type(err.value) is EndorseError


async def test_other_endorsement_failures_do_not_ask_discovery(
    fabric_identity: tuple[Identity, Signer],
) -> None:
    org1 = FakePeer("Org1MSP", RuntimeError("discovery must not be asked"))
    org1.endorse_code = "ABORTED"
    with pytest.raises(EndorseError, match=r"failed \(ABORTED\)"):
        await _adapter(fabric_identity, org1).submit_transaction("put", "k", "s", "{}")


async def test_ready_to_endorse_needs_every_peers_view_complete(
    fabric_identity: tuple[Identity, Signer],
) -> None:
    full = _response(satisfiable=True, orgs=["Org1MSP", "Org2MSP"])
    partial = _response(satisfiable=True, orgs=["Org2MSP"])
    assert await _adapter(
        fabric_identity, FakePeer("Org1MSP", full), FakePeer("Org2MSP", full)
    ).ready_to_endorse()
    assert not await _adapter(
        fabric_identity, FakePeer("Org1MSP", full), FakePeer("Org2MSP", partial)
    ).ready_to_endorse()
