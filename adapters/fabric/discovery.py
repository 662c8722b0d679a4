"""What a peer's discovery service knows now: which organisations it sees peers of, and
whether those peers can satisfy the chaincode's endorsement policy.

A Fabric gateway plans each endorsement from its peer's discovery. After a peer of
another organisation restarts, the gateway refuses endorsements (FAILED_PRECONDITION,
"no combination of peers can be derived ...") until gossip has rediscovered it; the
same status also reports a chaincode that is not installed. The adapter asks discovery
which of the two it is, so that the first is retried as an unavailable chain and the
second is refused for good, and tests wait on this answer instead of on a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.fabric.errors import MalformedAnswer
from adapters.fabric.protos import Message


@dataclass(frozen=True)
class DiscoveryView:
    # The chaincode's endorsement policy can be satisfied by the peers discovery knows.
    policy_satisfiable: bool
    # Why not, as discovery put it ("" when satisfiable).
    refusal: str
    # Organisations with at least one peer alive in the channel, as discovery sees them.
    orgs_with_peers: frozenset[str]

    def missing(self, orgs: frozenset[str]) -> frozenset[str]:
        """The organisations of `orgs` of which discovery sees no peer."""
        return orgs - self.orgs_with_peers


def read_view(response: Message) -> DiscoveryView:
    """The view from a discovery Response to `requests.discovery_request` (two results, in
    the order asked: the chaincode query, then the membership query)."""
    results = list(response.results)
    if len(results) != 2:
        raise MalformedAnswer(f"discovery answered {len(results)} results to 2 questions")
    endorsement, membership = results
    kind = membership.WhichOneof("result")
    if kind == "error":
        raise MalformedAnswer(f"discovery refused the membership query: {membership.error.content}")
    if kind != "members":
        raise MalformedAnswer(f"discovery answered the membership query with {kind}")
    orgs = frozenset(org for org, peers in membership.members.peers_by_org.items() if peers.peers)
    if endorsement.WhichOneof("result") == "cc_query_res":
        return DiscoveryView(True, "", orgs)
    if endorsement.WhichOneof("result") == "error":
        return DiscoveryView(False, str(endorsement.error.content), orgs)
    raise MalformedAnswer(
        f"discovery answered the chaincode query with {endorsement.WhichOneof('result')}"
    )
