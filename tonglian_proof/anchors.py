"""Checks a trust anchor when a chain is registered, before anything is verified against it.

A registration is the moment an integrator can still fix a typo; later every
proof would fail with a puzzling reason. Each chain kind's verifier module owns
the rules for its anchor.
"""

from __future__ import annotations

from tonglian.v1 import chains_pb2
from tonglian_proof.errors import MalformedInput

ANCHOR_OF_KIND: dict[int, str] = {
    chains_pb2.CHAIN_KIND_FABRIC: "fabric",
    chains_pb2.CHAIN_KIND_EVM: "evm",
    chains_pb2.CHAIN_KIND_SIGNED_MERKLE: "signed_merkle",
}


def check_anchor(kind: int, anchor: chains_pb2.TrustAnchor) -> None:
    """Raises MalformedInput, naming the field, unless `anchor` is usable for a chain of `kind`."""
    expected = ANCHOR_OF_KIND.get(kind)
    if expected is None:
        raise MalformedInput(
            "chain.kind must be CHAIN_KIND_FABRIC, CHAIN_KIND_EVM or CHAIN_KIND_SIGNED_MERKLE"
        )
    given = anchor.WhichOneof("anchor")
    if given != expected:
        raise MalformedInput(
            f"chain.trust_anchor must be a {expected} anchor for this chain kind, "
            f"got {given or 'none'}"
        )
    if expected == "signed_merkle":
        from tonglian_proof.verify.signed_merkle import validate_trust_anchor

        validate_trust_anchor(anchor.signed_merkle)
    elif expected == "evm":
        from tonglian_proof.verify.evm_anchor import validate_evm_anchor

        validate_evm_anchor(anchor.evm)
    else:
        check_fabric_anchor(anchor.fabric)


def check_fabric_anchor(anchor: chains_pb2.FabricTrustAnchor) -> None:
    """The config block parses, names the channel, and every chaincode policy parses."""
    from tonglian_proof.errors import ProofError
    from tonglian_proof.verify.fabric.config import load_config
    from tonglian_proof.verify.fabric.policy import parse_signature_policy

    if not anchor.config_block:
        raise MalformedInput("fabric trust anchor needs config_block (the channel's config block)")
    try:
        config = load_config(anchor.config_block)
    except ProofError as exc:
        raise MalformedInput(f"fabric trust anchor: config_block is not usable: {exc}") from exc
    except Exception as exc:  # a malformed block may fail anywhere inside the protobuf walk
        raise MalformedInput(f"fabric trust anchor: config_block does not parse: {exc}") from exc
    if anchor.channel and anchor.channel != config.channel:
        raise MalformedInput(
            f"fabric trust anchor names channel {anchor.channel!r} but the config block is "
            f"of channel {config.channel!r}"
        )
    for chaincode, text in anchor.endorsement_policies.items():
        try:
            parse_signature_policy(text)
        except MalformedInput as exc:
            raise MalformedInput(f"endorsement policy of chaincode {chaincode!r}: {exc}") from exc
    orgs = len(config.application_orgs)
    if anchor.qscc_min_orgs > orgs:
        raise MalformedInput(
            f"qscc_min_orgs {anchor.qscc_min_orgs} exceeds the channel's {orgs} organisations"
        )
