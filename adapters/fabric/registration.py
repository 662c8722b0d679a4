"""Building what the hub registers for a Fabric channel: its trust anchor and its Chain.

Used by the devnet and by `tonglian chains add fabric --config-block FILE ...`.
The config block is taken as given (it is the trust anchor, obtained out of band);
we only check that it is a config block and name the channel it configures.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from google.protobuf import struct_pb2
from google.protobuf.message import DecodeError

from adapters.fabric.options import IDENTITY_KEY, FabricAdapterOptions
from adapters.fabric.protos import common_pb2
from tonglian.v1 import chains_pb2


class InvalidConfigBlock(ValueError):
    """The file is not a Fabric config block (or configures another channel)."""


def config_block_channel(config_block: bytes) -> str:
    """The channel a config block configures; InvalidConfigBlock if it is not one."""
    try:
        block = common_pb2.Block.FromString(config_block)
        if len(block.data.data) != 1:
            raise InvalidConfigBlock("a config block holds exactly one envelope")
        envelope = common_pb2.Envelope.FromString(block.data.data[0])
        payload = common_pb2.Payload.FromString(envelope.payload)
        header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    except DecodeError as exc:
        raise InvalidConfigBlock(f"not a serialized common.Block: {exc}") from exc
    if header.type != common_pb2.HeaderType.CONFIG:
        name = common_pb2.HeaderType.Name(header.type)
        raise InvalidConfigBlock(f"block {block.header.number} is a {name} block, not CONFIG")
    if not header.channel_id:
        raise InvalidConfigBlock("config block names no channel")
    return str(header.channel_id)


def fabric_trust_anchor(
    config_block: bytes | Path,
    *,
    channel: str = "",
    endorsement_policies: Mapping[str, str] | None = None,
    qscc_min_orgs: int = 0,
) -> chains_pb2.TrustAnchor:
    """A TrustAnchor{fabric} from a config block (bytes, or a file from `peer channel fetch`).

    `channel`, when given, must be the channel the block configures.
    `endorsement_policies` maps chaincode name -> signature policy text.
    """
    data = config_block.read_bytes() if isinstance(config_block, Path) else config_block
    found = config_block_channel(data)
    if channel and channel != found:
        raise InvalidConfigBlock(f"config block is for channel {found!r}, not {channel!r}")
    if qscc_min_orgs < 0:
        raise ValueError("qscc_min_orgs must be >= 0")
    return chains_pb2.TrustAnchor(
        fabric=chains_pb2.FabricTrustAnchor(
            channel=found,
            config_block=data,
            endorsement_policies=dict(endorsement_policies or {}),
            qscc_min_orgs=qscc_min_orgs,
        )
    )


def fabric_chain(
    chain_id: str,
    options: FabricAdapterOptions,
    config_block: bytes | Path,
    *,
    display_name: str = "",
    endorsement_policies: Mapping[str, str] | None = None,
    qscc_min_orgs: int = 0,
    identity_key: chains_pb2.SecretRef | None = None,
) -> chains_pb2.Chain:
    """A tonglian.v1.Chain for the fabric adapter, ready for RegisterChain.

    `identity_key` references the identity's private key: `file:` where the registering
    tool runs (the SDK puts it into the chain's secret store before registering, see
    tonglian_client/secret_files.py), or `store:`/`env:` as the hub resolves it.
    """
    anchor = fabric_trust_anchor(
        config_block,
        channel=options.channel,
        endorsement_policies=endorsement_policies,
        qscc_min_orgs=qscc_min_orgs,
    )
    struct = struct_pb2.Struct()
    struct.update(options.model_dump(mode="json"))
    chain = chains_pb2.Chain(
        chain_id=chain_id,
        display_name=display_name or f"Fabric {options.channel}",
        kind=chains_pb2.CHAIN_KIND_FABRIC,
        adapter=chains_pb2.AdapterSettings(adapter="fabric", options=struct),
        trust_anchor=anchor,
    )
    if identity_key is not None:
        chain.adapter.secrets[IDENTITY_KEY].CopyFrom(identity_key)
    return chain
