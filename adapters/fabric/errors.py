"""Typed failures of Fabric calls, each carrying what a caller needs to tell them apart.

They extend the adapter errors of `adapters.base`, so the hub maps them without
knowing Fabric: an unreachable peer is ChainUnavailable, an invalid transaction
is SubmissionRejected.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.base import AdapterError, ChainUnavailable, SubmissionRejected


@dataclass(frozen=True)
class ErrorDetail:
    """One peer's part of a gateway failure (fabric gateway.ErrorDetail)."""

    address: str
    msp_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.msp_id}@{self.address}: {self.message}"


def _describe(op: str, endpoint: str, code: str, message: str, details: list[ErrorDetail]) -> str:
    text = f"{op} via {endpoint} failed ({code}): {message}"
    if details:
        text += " [" + "; ".join(str(d) for d in details) + "]"
    return text


class FabricCallError(AdapterError):
    """A gRPC call to a peer failed for a reason other than reachability."""

    def __init__(
        self,
        op: str,
        endpoint: str,
        code: str,
        message: str,
        details: list[ErrorDetail] | None = None,
        tx_id: str = "",
    ) -> None:
        self.op = op
        self.endpoint = endpoint
        self.code = code
        self.grpc_message = message
        self.details = list(details or [])
        self.tx_id = tx_id
        super().__init__(_describe(op, endpoint, code, message, self.details))


class PeerUnavailable(ChainUnavailable):
    """A peer (or a peer the gateway needed) cannot be reached now."""

    def __init__(
        self,
        op: str,
        endpoint: str,
        code: str,
        message: str,
        details: list[ErrorDetail] | None = None,
        tx_id: str = "",
    ) -> None:
        self.op = op
        self.endpoint = endpoint
        self.code = code
        self.details = list(details or [])
        self.tx_id = tx_id
        super().__init__(_describe(op, endpoint, code, message, self.details))


class EndorseError(FabricCallError):
    """Endorsement failed: the chaincode refused, or endorsements did not match."""


class DiscoveryError(FabricCallError):
    """The peer's discovery service refused a question (access, TLS binding, channel)."""


class SubmitError(FabricCallError):
    """The orderer did not accept the endorsed transaction."""


class CommitStatusError(FabricCallError):
    """The commit status could not be obtained."""


class EvaluateError(FabricCallError):
    """A query (evaluate, or a qscc call) failed."""


class TransactionInvalid(SubmissionRejected):
    """The transaction was ordered but committed with a validation code other than VALID."""

    def __init__(self, tx_id: str, validation_code: str, block_number: int) -> None:
        self.tx_id = tx_id
        self.validation_code = validation_code
        self.block_number = block_number
        super().__init__(
            f"transaction {tx_id} committed in block {block_number} as {validation_code}"
        )


class MalformedAnswer(AdapterError):
    """A peer answered with bytes that are not what the protocol promises."""
