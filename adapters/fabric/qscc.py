"""Queries to qscc, the peer's ledger query system chaincode, and reading its signed answers.

qscc answers are asked of each peer directly (Endorser.ProcessProposal), not
through the gateway, because the hub needs the peer's signed ProposalResponse:
it attests the validation code that block metadata carries unsigned.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from adapters.fabric.errors import MalformedAnswer
from adapters.fabric.identity import Identity
from adapters.fabric.proposal import SignedProposal, build_proposal
from adapters.fabric.protos import Message, ledger_pb2, proposal_response_pb2, transaction_pb2
from adapters.fabric.signer import Signer

QSCC = "qscc"
GET_CHAIN_INFO = "GetChainInfo"
GET_BLOCK_BY_NUMBER = "GetBlockByNumber"
GET_BLOCK_BY_TX_ID = "GetBlockByTxID"
GET_TRANSACTION_BY_ID = "GetTransactionByID"


class QsccRefused(Exception):
    """The peer answered with a non-200 status (e.g. unknown transaction or block)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"qscc answered {status}: {message}")
        self.status = status
        self.message = message


def qscc_proposal(
    identity: Identity, signer: Signer, channel: str, function: str, *args: str
) -> SignedProposal:
    return build_proposal(
        identity, signer, channel=channel, chaincode=QSCC, args=[function, channel, *args]
    )


@dataclass(frozen=True)
class QsccAnswer:
    """One peer's signed answer, byte for byte, and the payload it carries."""

    msp_id: str
    signed_proposal: bytes
    proposal_response: bytes
    payload: bytes


def read_answer(msp_id: str, proposal: SignedProposal, response_bytes: bytes) -> QsccAnswer:
    """Checks the answer is a 200 ProposalResponse; keeps the exact bytes for the proof."""
    try:
        response = proposal_response_pb2.ProposalResponse.FromString(response_bytes)
    except DecodeError as exc:
        raise MalformedAnswer(f"{msp_id} peer sent no ProposalResponse: {exc}") from exc
    if response.response.status != 200:
        raise QsccRefused(response.response.status, response.response.message)
    return QsccAnswer(
        msp_id=msp_id,
        signed_proposal=proposal.serialize(),
        proposal_response=response_bytes,
        payload=bytes(response.response.payload),
    )


def chain_info(payload: bytes) -> Message:
    try:
        return ledger_pb2.BlockchainInfo.FromString(payload)
    except DecodeError as exc:
        raise MalformedAnswer(f"GetChainInfo payload does not decode: {exc}") from exc


def processed_transaction(payload: bytes) -> Message:
    try:
        return transaction_pb2.ProcessedTransaction.FromString(payload)
    except DecodeError as exc:
        raise MalformedAnswer(f"GetTransactionByID payload does not decode: {exc}") from exc
