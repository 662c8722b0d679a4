"""The proof core's own failures: plain exceptions, no transport attached.

The hub maps them to gRPC statuses (hub/services/status.py) and the SDK and CLI
to exit codes; here they only say what is wrong, in words a person can act on.
"""

from __future__ import annotations


class ProofError(Exception):
    """Base class of every failure the proof core raises on purpose."""

    reason_code = "PROOF_ERROR"


class MalformedInput(ProofError):
    """A proof, bundle, statement or trust anchor does not parse or is out of bounds."""

    reason_code = "MALFORMED_INPUT"


class ProofRejected(ProofError):
    """A proof does not verify; `reason` names the check that failed."""

    reason_code = "PROOF_REJECTED"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAnchored(ProofError):
    """The material is consistent, but nothing the reader trusts vouches for it."""

    reason_code = "NOT_ANCHORED"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
