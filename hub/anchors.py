"""Checks a trust anchor when a chain is registered, before anything is verified against it.

A registration is the moment an integrator can still fix a typo; later every
proof would fail with a puzzling reason. Each chain kind's verifier module owns
the rules for its anchor.
"""

from __future__ import annotations

from tonglian.v1 import chains_pb2

from hub.errors import InvalidInput

ANCHOR_OF_KIND: dict[int, str] = {
    chains_pb2.CHAIN_KIND_FABRIC: "fabric",
    chains_pb2.CHAIN_KIND_EVM: "evm",
    chains_pb2.CHAIN_KIND_SIGNED_MERKLE: "signed_merkle",
}


def check_anchor(kind: int, anchor: chains_pb2.TrustAnchor) -> None:
    """Raises InvalidInput, naming the field, unless `anchor` is usable for a chain of `kind`."""
    expected = ANCHOR_OF_KIND.get(kind)
    if expected is None:
        raise InvalidInput(
            "chain.kind must be CHAIN_KIND_FABRIC, CHAIN_KIND_EVM or CHAIN_KIND_SIGNED_MERKLE"
        )
    given = anchor.WhichOneof("anchor")
    if given != expected:
        raise InvalidInput(
            f"chain.trust_anchor must be a {expected} anchor for this chain kind, "
            f"got {given or 'none'}"
        )
    if expected == "signed_merkle":
        from hub.verify.signed_merkle import validate_trust_anchor

        validate_trust_anchor(anchor.signed_merkle)
    elif expected == "evm":
        from hub.verify.evm import check_evm_anchor

        check_evm_anchor(anchor.evm)
    else:
        from hub.verify.fabric import check_fabric_anchor

        check_fabric_anchor(anchor.fabric)
