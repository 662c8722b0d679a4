"""Signed qscc answers: how the hub learns a transaction's validation code.

The block's TRANSACTIONS_FILTER is written by whichever peer served the block and no
one signs it. A peer's answer to qscc `GetTransactionByID` is signed, like any
endorsement, over `proposal_response_payload || endorser`; the payload carries the
hash of the query proposal (so it answers *this* query for this channel and tx id)
and the ProcessedTransaction: the envelope as that peer committed it and the
validation code it gave. Answers from peers of k distinct organisations, all equal,
make the code believable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tonglian_proof.errors import ProofRejected
from tonglian_proof.verify.fabric import protos
from tonglian_proof.verify.fabric.config import ChannelConfig
from tonglian_proof.verify.fabric.transaction import Header

QSCC = "qscc"
GET_TX_BY_ID = b"GetTransactionByID"
# How far a query's timestamp may run ahead of the verifier's clock.
CLOCK_SKEW = timedelta(minutes=15)


@dataclass(frozen=True)
class QsccAttestation:
    """One verified answer: which peer said which validation code."""

    msp_id: str
    peer: str
    validation_code: int


def _proposal(
    answer: Any, config: ChannelConfig, tx: Header, now: datetime
) -> tuple[bytes, datetime]:
    """Check the query proposal and return its hash (as the peer computes it) and time."""
    sp = protos.proposal.SignedProposal.FromString(answer.signed_proposal)
    prop = protos.proposal.Proposal.FromString(sp.proposal_bytes)
    hdr = protos.common.Header.FromString(prop.header)
    chdr = protos.common.ChannelHeader.FromString(hdr.channel_header)
    if str(chdr.channel_id) != config.channel:
        raise ProofRejected(f"query is for channel {chdr.channel_id!r}, not {config.channel!r}")
    cpp = protos.proposal.ChaincodeProposalPayload.FromString(prop.payload)
    cis = protos.chaincode.ChaincodeInvocationSpec.FromString(cpp.input)
    name = str(cis.chaincode_spec.chaincode_id.name)
    args = [bytes(a) for a in cis.chaincode_spec.input.args]
    wanted = [GET_TX_BY_ID, config.channel.encode(), tx.tx_id.encode()]
    if name != QSCC or args != wanted:
        shown = [a.decode("utf-8", "replace") for a in args]
        raise ProofRejected(
            f"query is {name} {shown}, not qscc GetTransactionByID {config.channel} {tx.tx_id}"
        )
    at = datetime.fromtimestamp(int(chdr.timestamp.seconds), UTC)
    if at > now + CLOCK_SKEW:
        raise ProofRejected(f"query is dated {at.isoformat()}, in the future")
    if at + CLOCK_SKEW < tx.time:
        raise ProofRejected(f"query is dated {at.isoformat()}, before the transaction")
    # Fabric hashes the proposal payload with its transient map removed.
    stripped = protos.proposal.ChaincodeProposalPayload(input=cpp.input).SerializeToString()
    digest = hashlib.sha256(
        bytes(hdr.channel_header) + bytes(hdr.signature_header) + stripped
    ).digest()
    return digest, at


def verify_answer(answer: Any, config: ChannelConfig, tx: Header, now: datetime) -> QsccAttestation:
    """Verify one FabricQsccAnswer for the transaction `tx`; raises ProofRejected."""
    try:
        proposal_hash, at = _proposal(answer, config, tx, now)
        resp = protos.proposal_response.ProposalResponse.FromString(answer.proposal_response)
        prp = protos.proposal_response.ProposalResponsePayload.FromString(resp.payload)
        action = protos.proposal.ChaincodeAction.FromString(prp.extension)
    except ProofRejected:
        raise
    except Exception as exc:
        raise ProofRejected(f"does not parse: {exc}") from exc
    if not resp.HasField("endorsement") or not resp.endorsement.endorser:
        raise ProofRejected("is not signed by a peer")
    endorser = bytes(resp.endorsement.endorser)
    peer = config.msps.verify(
        endorser, bytes(resp.endorsement.signature), bytes(resp.payload) + endorser, at
    )
    if peer.msp_id != str(answer.msp_id):
        raise ProofRejected(f"is labelled {answer.msp_id} but signed by {peer.describe()}")
    if not peer.has_role("peer"):
        raise ProofRejected(f"is signed by {peer.describe()}, which is not a peer")
    if bytes(prp.proposal_hash) != proposal_hash:
        raise ProofRejected("answers a different query (proposal hash mismatch)")
    if int(action.response.status) != 200:
        raise ProofRejected(
            f"qscc failed with status {action.response.status}: {action.response.message}"
        )
    if resp.response.payload and bytes(resp.response.payload) != bytes(action.response.payload):
        raise ProofRejected("unsigned response payload differs from the signed one")
    try:
        ptx = protos.transaction.ProcessedTransaction.FromString(action.response.payload)
    except Exception as exc:
        raise ProofRejected(f"payload is not a ProcessedTransaction: {exc}") from exc
    env = ptx.transactionEnvelope
    if bytes(env.payload) != tx.payload or bytes(env.signature) != tx.signature:
        raise ProofRejected("describes a transaction envelope other than the block's")
    return QsccAttestation(peer.msp_id, peer.subject, int(ptx.validationCode))


def check_qscc(
    answers: Sequence[Any], config: ChannelConfig, tx: Header, min_orgs: int, now: datetime
) -> tuple[int, list[str]]:
    """Verify every answer, require k distinct application orgs, all agreeing on the code.

    Returns the attested validation code (the caller decides what VALID means for it).
    """
    app_msps = set(config.application_orgs.values())
    need = min_orgs or len(app_msps)
    if need > len(app_msps):
        raise ProofRejected(
            f"{tx.label}: trust anchor wants qscc answers from {need} organisations; "
            f"the channel has {len(app_msps)}"
        )
    attestations: list[QsccAttestation] = []
    for i, answer in enumerate(answers):
        try:
            att = verify_answer(answer, config, tx, now)
        except ProofRejected as exc:
            raise ProofRejected(
                f"{tx.label}: qscc answer {i} ({answer.msp_id}) {exc.reason}"
            ) from exc
        if att.msp_id not in app_msps:
            raise ProofRejected(
                f"{tx.label}: qscc answer {i} is from {att.msp_id}, not an application organisation"
            )
        attestations.append(att)
    codes = {a.validation_code for a in attestations}
    if len(codes) > 1:
        said = ", ".join(
            f"{a.msp_id} says {protos.validation_code_name(a.validation_code)}"
            for a in attestations
        )
        raise ProofRejected(f"{tx.label}: qscc answers disagree: {said}")
    orgs = sorted({a.msp_id for a in attestations})
    if len(orgs) < need:
        raise ProofRejected(
            f"{tx.label}: qscc answers from {len(orgs)} organisation(s) "
            f"({', '.join(orgs) or 'none'}); {need} required"
        )
    code = codes.pop()
    name = protos.validation_code_name(code)
    return code, [
        f"{tx.label}: validation code {name} attested by signed qscc answers of {', '.join(orgs)}"
    ]
