"""Endorser transactions: parsing, creator and endorser signatures, endorsement policy.

A committed transaction is only as good as its endorsements. The checks follow what a
Fabric committing peer does, except that every signature must verify (a forged
endorsement is a forged proof, even when the others would be enough):

- the creator signed the envelope payload, and the tx id is SHA-256(nonce || creator);
- the single action's header names the same creator, and the proposal hash that the
  endorsers signed is SHA-256(channel header || signature header || proposal payload)
  of this very transaction;
- every endorser signed `proposal_response_payload || endorser` (the envelope holds
  one payload, so all endorsements are over the same bytes by construction);
- every written namespace (and the invoked chaincode) has its endorsement policy
  satisfied by the valid endorsers; `_lifecycle` writes to an org's implicit
  collection need that org's Endorsement policy, public `_lifecycle` writes need
  LifecycleEndorsement, as in Fabric.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.fabric import protos
from tonglian_proof.verify.fabric.config import ChannelConfig
from tonglian_proof.verify.fabric.msp import Identity
from tonglian_proof.verify.fabric.policy import Policy, evaluate, policy_text, resolve

_Envelope = protos.common.Envelope
_Payload = protos.common.Payload
_ChannelHeader = protos.common.ChannelHeader
_SignatureHeader = protos.common.SignatureHeader
_ENDORSER_TRANSACTION = protos.common.ENDORSER_TRANSACTION
_Transaction = protos.transaction.Transaction
_ChaincodeActionPayload = protos.transaction.ChaincodeActionPayload
_ProposalResponsePayload = protos.proposal_response.ProposalResponsePayload
_ChaincodeAction = protos.proposal.ChaincodeAction
_ChaincodeHeaderExtension = protos.proposal.ChaincodeHeaderExtension
_TxReadWriteSet = protos.rwset.TxReadWriteSet
_KVRWSet = protos.kv_rwset.KVRWSet
_HashedRWSet = protos.kv_rwset.HashedRWSet

SYSTEM_CHAINCODES = frozenset({"_lifecycle", "lscc", "qscc", "cscc", "escc", "vscc"})
DEFAULT_ENDORSEMENT = "/Channel/Application/Endorsement"
LIFECYCLE_ENDORSEMENT = "/Channel/Application/LifecycleEndorsement"
_IMPLICIT_PREFIX = "_implicit_org_"


@dataclass(frozen=True, slots=True)
class Header:
    """The channel and signature header every envelope carries; `time` (UTC, from
    seconds and nanos) and `label` are derived once, as every check reads them."""

    block: int
    index: int
    type: int
    channel: str
    tx_id: str
    seconds: int
    nanos: int
    creator: bytes
    nonce: bytes
    channel_header: bytes
    signature_header: bytes
    payload: bytes
    signature: bytes
    data: bytes
    extension: bytes
    time: datetime
    label: str


@dataclass(frozen=True, slots=True)
class Write:
    namespace: str
    key: str
    is_delete: bool
    value: bytes


@dataclass(frozen=True, slots=True)
class Endorsement:
    endorser: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class EndorserTx:
    header: Header
    action_creator: bytes
    proposal_payload: bytes
    prp: bytes
    proposal_hash_ok: bool
    chaincode: str
    invoked: str
    endorsements: tuple[Endorsement, ...]
    writes: tuple[Write, ...]
    # (namespace, collection) of private-data writes, seen only as hashes.
    hashed_writes: tuple[tuple[str, str], ...]
    response_status: int


def _fail(header: Header | None, what: str) -> ProofRejected:
    return ProofRejected(f"{header.label}: {what}" if header else what)


def parse_header(block: int, index: int, envelope: bytes) -> Header:
    """Parse an envelope's payload header; malformed bytes are refused."""
    # upb hands scalar fields out as bytes, int and str already: no conversions needed.
    try:
        env = _Envelope.FromString(envelope)
        payload_bytes = env.payload
        payload = _Payload.FromString(payload_bytes)
        ph = payload.header
        channel_header, signature_header = ph.channel_header, ph.signature_header
        chdr = _ChannelHeader.FromString(channel_header)
        shdr = _SignatureHeader.FromString(signature_header)
    except Exception as exc:
        raise ProofRejected(f"tx {block}:{index}: envelope does not parse: {exc}") from exc
    if not payload.HasField("header"):
        raise ProofRejected(f"tx {block}:{index}: envelope payload has no header")
    tx_id = chdr.tx_id
    ts = chdr.timestamp
    seconds, nanos = ts.seconds, ts.nanos
    label = f"tx {block}:{index} ({tx_id[:12] + '…' if len(tx_id) > 12 else tx_id or '?'})"
    try:
        time = datetime.fromtimestamp(seconds, UTC).replace(microsecond=nanos // 1000)
    except (ValueError, OverflowError, OSError) as exc:
        raise ProofRejected(f"{label}: timestamp {seconds}s {nanos}ns is not a time") from exc
    return Header(
        block,
        index,
        chdr.type,
        chdr.channel_id,
        tx_id,
        seconds,
        nanos,
        shdr.creator,
        shdr.nonce,
        channel_header,
        signature_header,
        payload_bytes,
        env.signature,
        payload.data,
        chdr.extension,
        time,
        label,
    )


def _writes(results: bytes) -> tuple[tuple[Write, ...], tuple[tuple[str, str], ...]]:
    txrw = _TxReadWriteSet.FromString(results)
    writes: list[Write] = []
    hashed: list[tuple[str, str]] = []
    for ns in txrw.ns_rwset:
        namespace = ns.namespace
        kv = _KVRWSet.FromString(ns.rwset)
        for w in kv.writes:
            writes.append(Write(namespace, w.key, w.is_delete, w.value))
        if kv.metadata_writes:  # key-level policy updates need the namespace's policy
            hashed.append((namespace, ""))
        for coll in ns.collection_hashed_rwset:
            hrw = _HashedRWSet.FromString(coll.hashed_rwset)
            if hrw.hashed_writes or hrw.metadata_writes:
                hashed.append((namespace, coll.collection_name))
    return tuple(writes), tuple(dict.fromkeys(hashed))


def parse_endorser_tx(header: Header) -> EndorserTx:
    """Parse the transaction of an ENDORSER_TRANSACTION envelope."""
    if header.type != _ENDORSER_TRANSACTION:
        raise _fail(header, f"is of type {header.type}, not an endorser transaction")
    try:
        tx = _Transaction.FromString(header.data)
        actions = tx.actions
        if len(actions) != 1:
            raise _fail(header, f"has {len(actions)} actions; Fabric allows exactly one")
        action = actions[0]
        action_header = action.header
        # Fabric puts the proposal's signature header in the action: the same bytes
        # carry the same creator, so only a different header is parsed.
        if action_header == header.signature_header:
            action_creator = header.creator
        else:
            action_creator = _SignatureHeader.FromString(action_header).creator
        cap = _ChaincodeActionPayload.FromString(action.payload)
        endorsed = cap.action
        prp_bytes = endorsed.proposal_response_payload
        prp = _ProposalResponsePayload.FromString(prp_bytes)
        cc_action = _ChaincodeAction.FromString(prp.extension)
        ext = _ChaincodeHeaderExtension.FromString(header.extension)
        writes, hashed = _writes(cc_action.results)
    except ProofRejected:
        raise
    except Exception as exc:
        raise _fail(header, f"transaction does not parse: {exc}") from exc
    proposal_payload = cap.chaincode_proposal_payload
    # The proposal hash covers the action's signature header (Fabric's GetProposalHash2).
    proposal_hash = hashlib.sha256(
        b"".join((header.channel_header, action_header, proposal_payload))
    ).digest()
    return EndorserTx(
        header,
        action_creator,
        proposal_payload,
        prp_bytes,
        proposal_hash == prp.proposal_hash,
        cc_action.chaincode_id.name,
        ext.chaincode_id.name,
        tuple(Endorsement(e.endorser, e.signature) for e in endorsed.endorsements),
        writes,
        hashed,
        cc_action.response.status,
    )


@dataclass(frozen=True, slots=True)
class VerifiedTx:
    tx: EndorserTx
    creator: Identity
    endorsers: tuple[Identity, ...]
    checks: tuple[str, ...]


def check_structure(tx: EndorserTx, config: ChannelConfig) -> list[str]:
    """Binding checks that need no signature: channel, tx id, proposal hash, chaincode."""
    h = tx.header
    if h.channel != config.channel:
        raise _fail(h, f"is for channel {h.channel!r}, not {config.channel!r}")
    expected = hashlib.sha256(h.nonce + h.creator).hexdigest()
    if h.tx_id != expected:
        raise _fail(h, f"tx id is not SHA-256(nonce || creator) (expected {expected})")
    if tx.action_creator != h.creator:
        raise _fail(h, "the action's creator differs from the envelope's creator")
    if not tx.proposal_hash_ok:
        raise _fail(
            h, "proposal hash in the endorsed response does not match this transaction's proposal"
        )
    if tx.invoked != tx.chaincode:
        raise _fail(
            h,
            f"invoked chaincode {tx.invoked!r} differs from the endorsed chaincode "
            f"{tx.chaincode!r}",
        )
    return [
        f"{h.label}: channel {h.channel}, tx id, proposal hash and chaincode "
        f"{tx.chaincode} bind together"
    ]


def check_signatures(
    tx: EndorserTx, config: ChannelConfig
) -> tuple[Identity, tuple[Identity, ...]]:
    """Creator signature over the payload; every endorsement over prp || endorser.

    Certificates must be valid at the transaction's timestamp.
    """
    h = tx.header
    at = h.time
    try:
        creator = config.msps.verify(h.creator, h.signature, h.payload, at)
    except ProofRejected as exc:
        raise _fail(h, f"creator signature: {exc.reason}") from exc
    if not tx.endorsements:
        raise _fail(h, "has no endorsements")
    endorsers: list[Identity] = []
    for i, e in enumerate(tx.endorsements):
        try:
            endorsers.append(config.msps.verify(e.endorser, e.signature, tx.prp + e.endorser, at))
        except ProofRejected as exc:
            raise _fail(h, f"endorsement {i}: {exc.reason}") from exc
    return creator, tuple(endorsers)


def _org_name(config: ChannelConfig, msp_id: str) -> str | None:
    return next((name for name, mid in config.application_orgs.items() if mid == msp_id), None)


def required_policies(
    tx: EndorserTx, config: ChannelConfig, policies: Mapping[str, Policy | str]
) -> dict[str, Policy | str]:
    """The endorsement policies this transaction must satisfy, by what they guard."""
    out: dict[str, Policy | str] = {}

    def chaincode_policy(ns: str) -> Policy | str:
        if ns == "_lifecycle":
            return LIFECYCLE_ENDORSEMENT
        return policies.get(ns, DEFAULT_ENDORSEMENT)

    public = {w.namespace for w in tx.writes}
    for ns in sorted(public):
        out[f"namespace {ns}"] = chaincode_policy(ns)
    for ns, coll in tx.hashed_writes:
        if ns == "_lifecycle" and coll.startswith(_IMPLICIT_PREFIX):
            org = _org_name(config, coll[len(_IMPLICIT_PREFIX) :])
            if org is None:
                raise _fail(tx.header, f"writes to {coll} of an organisation not in the channel")
            out[f"namespace {ns} collection {coll}"] = f"/Channel/Application/{org}/Endorsement"
        elif f"namespace {ns}" not in out:
            out[f"namespace {ns}"] = chaincode_policy(ns)
    if not out:
        out[f"namespace {tx.chaincode}"] = chaincode_policy(tx.chaincode)
    return out


def check_endorsement_policies(
    tx: EndorserTx,
    endorsers: tuple[Identity, ...],
    config: ChannelConfig,
    policies: Mapping[str, Policy | str],
) -> list[str]:
    """Evaluate every required endorsement policy with the verified endorsers."""
    checks: list[str] = []
    for what, ref in required_policies(tx, config, policies).items():
        try:
            policy, group = resolve(ref, config.policies, "/Channel/Application")
        except Exception as exc:
            raise _fail(tx.header, f"endorsement policy for {what}: {exc}") from exc
        outcome = evaluate(policy, group, endorsers)
        name = policy_text(ref)
        if not outcome.satisfied:
            raise _fail(
                tx.header, f"endorsement policy {name} for {what} not satisfied: {outcome.detail}"
            )
        checks.append(
            f"{tx.header.label}: endorsement policy {name} for {what} satisfied ({outcome.detail})"
        )
    return checks


def verify_endorser_tx(
    tx: EndorserTx, config: ChannelConfig, policies: Mapping[str, Policy | str]
) -> VerifiedTx:
    """All transaction-level checks; raises ProofRejected naming the first that fails."""
    checks = check_structure(tx, config)
    creator, endorsers = check_signatures(tx, config)
    checks.append(f"{tx.header.label}: creator signature by {creator.describe()} verifies")
    who = "; ".join(e.describe() for e in endorsers)
    checks.append(f"{tx.header.label}: {len(endorsers)} endorsement signature(s) verify ({who})")
    checks.extend(check_endorsement_policies(tx, endorsers, config, policies))
    return VerifiedTx(tx, creator, endorsers, tuple(checks))
