"""The channel configuration a config block carries: MSPs, policies, orderer consenters.

The config block is the trust anchor (the operator obtained it out of band), so its
own signatures are not checked; everything else is judged against it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from tonglian_proof.errors import MalformedInput
from tonglian_proof.verify.fabric import protos
from tonglian_proof.verify.fabric.msp import Msp, MspManager, build_msp
from tonglian_proof.verify.fabric.policy import PolicyGroup, policy_from_proto

_CACHE_SIZE = 16


@dataclass(frozen=True)
class ChannelConfig:
    """What verification needs from one channel config."""

    channel: str
    block_number: int
    sequence: int
    msps: MspManager
    # Config group name -> MSP id, for application and orderer organisations.
    application_orgs: dict[str, str]
    orderer_orgs: dict[str, str]
    policies: PolicyGroup
    # BFT consenter id -> serialized identity, for signatures that carry an
    # IdentifierHeader instead of a SignatureHeader.
    consenters: dict[int, bytes]
    hashing_algorithm: str
    # SHA-256 of the config block: what caches of facts verified under it are keyed by.
    digest: bytes = b""


def _policies(group: Any, path: str) -> PolicyGroup:
    out = PolicyGroup(path)
    for name, cp in group.policies.items():
        out.policies[str(name)] = policy_from_proto(cp.policy)
    for name, sub in group.groups.items():
        out.groups[str(name)] = _policies(sub, f"{path}/{name}")
    return out


def _orgs(group: Any, kind: str, msps: dict[str, Msp], notes: dict[str, str]) -> dict[str, str]:
    orgs: dict[str, str] = {}
    for name, org in group.groups.items():
        value = org.values.get("MSP")
        if value is None:
            raise MalformedInput(f"config: {kind} organisation {name} has no MSP value")
        msp = build_msp(bytes(value.value), f"{kind} organisation {name}")
        if isinstance(msp, str):
            # Unsupported MSP kinds (idemix): their identities are refused with this note.
            notes[str(name)] = msp
            orgs[str(name)] = str(name)
            continue
        orgs[str(name)] = msp.msp_id
        msps.setdefault(msp.msp_id, msp)
    return orgs


def _consenters(orderer: Any) -> dict[int, bytes]:
    value = orderer.values.get("Orderers")
    if value is None:
        return {}
    try:
        orderers = protos.configuration.Orderers.FromString(value.value)
    except Exception as exc:
        raise MalformedInput(f"config: malformed Orderers value: {exc}") from exc
    out: dict[int, bytes] = {}
    for c in orderers.consenter_mapping:
        sid = protos.identities.SerializedIdentity(mspid=c.msp_id, id_bytes=c.identity)
        out[int(c.id)] = sid.SerializeToString()
    return out


def parse_config_block(data: bytes) -> ChannelConfig:
    """Parse a serialized config block; raises MalformedInput when it is not one."""
    try:
        block = protos.common.Block.FromString(data)
        if len(block.data.data) != 1:
            raise MalformedInput(f"config block holds {len(block.data.data)} envelopes, not 1")
        env = protos.common.Envelope.FromString(block.data.data[0])
        payload = protos.common.Payload.FromString(env.payload)
        chdr = protos.common.ChannelHeader.FromString(payload.header.channel_header)
        if int(chdr.type) != protos.common.CONFIG:
            raise MalformedInput(
                f"block {block.header.number} is not a config block (type {chdr.type})"
            )
        cenv = protos.configtx.ConfigEnvelope.FromString(payload.data)
    except MalformedInput:
        raise
    except Exception as exc:
        raise MalformedInput(f"config block does not parse: {exc}") from exc
    root = cenv.config.channel_group
    hashing = "SHA256"
    if "HashingAlgorithm" in root.values:
        hashing = str(
            protos.configuration.HashingAlgorithm.FromString(
                root.values["HashingAlgorithm"].value
            ).name
        )
    if hashing != "SHA256":
        raise MalformedInput(f"channel hashing algorithm {hashing} is not supported (SHA256 only)")
    msps: dict[str, Msp] = {}
    notes: dict[str, str] = {}
    app = root.groups.get("Application")
    orderer = root.groups.get("Orderer")
    if orderer is None:
        raise MalformedInput("config has no Orderer group")
    app_orgs = _orgs(app, "application", msps, notes) if app is not None else {}
    ord_orgs = _orgs(orderer, "orderer", msps, notes)
    return ChannelConfig(
        channel=str(chdr.channel_id),
        block_number=int(block.header.number),
        sequence=int(cenv.config.sequence),
        msps=MspManager(msps, notes),
        application_orgs=app_orgs,
        orderer_orgs=ord_orgs,
        policies=_policies(root, "/Channel"),
        consenters=_consenters(orderer),
        hashing_algorithm=hashing,
        digest=hashlib.sha256(data).digest(),
    )


_cache: OrderedDict[bytes, ChannelConfig] = OrderedDict()


def load_config(data: bytes) -> ChannelConfig:
    """`parse_config_block`, cached by the block's bytes (trust anchors repeat per call;
    CPython caches a bytes object's hash, so a repeated lookup costs one compare)."""
    key = bytes(data)
    hit = _cache.get(key)
    if hit is not None:
        _cache.move_to_end(key)
        return hit
    cfg = parse_config_block(data)
    _cache[key] = cfg
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return cfg
