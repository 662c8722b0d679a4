"""Every error the hub raises on purpose, in one place, each with its gRPC status and reason.

Code below the services raises these; `hub/services/status.py` turns them into
gRPC statuses with a `google.rpc.ErrorInfo` whose `reason` (an ErrorReason of
proto/tonglian/v1/errors.proto) code can switch on; the message is for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

# The proof core's failures are the hub's too: re-exported so hub code names one module.
from tonglian_proof.errors import MalformedInput as MalformedInput
from tonglian_proof.errors import NotAnchored as NotAnchored
from tonglian_proof.errors import ProofError as ProofError
from tonglian_proof.errors import ProofRejected as ProofRejected


class HubError(Exception):
    """Base class: a failure with a message meant for the person who called, and
    `metadata` (e.g. chain_id, rule) that travels in the ErrorInfo beside the reason."""

    status: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "INTERNAL"

    def __init__(self, message: str = "", **metadata: str) -> None:
        super().__init__(message)
        self.metadata = {k: v for k, v in metadata.items() if v}


class InvalidInput(HubError):
    """The request, a config file or a trust anchor is malformed or out of bounds."""

    status = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_REQUEST"


class NotFound(HubError):
    """An id (chain, record, route, delivery) names nothing the hub knows."""

    status = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"


class AlreadyExists(HubError):
    """A registration under an id that is taken."""

    status = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class PermissionDenied(HubError):
    """The caller's policy does not allow this; the message names the rule."""

    status = grpc.StatusCode.PERMISSION_DENIED
    reason = "POLICY_DENIED"


class Unauthenticated(HubError):
    """The caller's certificate is missing, expired, revoked or not from a trusted CA."""

    status = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class SchemaViolation(HubError):
    """A record's value does not conform to its catalog schema; names the failing field."""

    status = grpc.StatusCode.FAILED_PRECONDITION
    reason = "SCHEMA_VIOLATION"


class AuditTampered(HubError):
    """An audit log (or an export of it) fails its hash chain; says which event and why."""

    status = grpc.StatusCode.DATA_LOSS
    reason = "AUDIT_TAMPERED"


class ChainUnreachable(HubError):
    """A chain (or its adapter) cannot be reached, or did not answer in time."""

    status = grpc.StatusCode.UNAVAILABLE
    reason = "CHAIN_UNAVAILABLE"


class AdapterMisbehaved(HubError):
    """An adapter answered with something that is not a valid answer."""

    status = grpc.StatusCode.FAILED_PRECONDITION
    reason = "ADAPTER_MISBEHAVED"


class DeliveryRefused(HubError):
    """A destination refused a delivery on its merits (adapters' SubmissionRejected):
    retrying the same delivery will not change the answer."""

    status = grpc.StatusCode.FAILED_PRECONDITION
    reason = "DELIVERY_REFUSED"


class ChainMisconfigured(HubError):
    """A registered chain's adapter settings do not work; the registration needs fixing."""

    status = grpc.StatusCode.FAILED_PRECONDITION
    reason = "CHAIN_MISCONFIGURED"


class FailedPrecondition(HubError):
    """The thing exists but is not in a state that allows the request."""

    status = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class WatchOverflow(HubError):
    """A watcher fell too far behind and was dropped: it must reconnect and catch up."""

    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "WATCH_OVERFLOW"


class LimitExceeded(HubError):
    """A principal is past a per-principal limit of the hub (hub/access/limits.py); the
    message names the limit and its setting."""

    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "LIMIT_EXCEEDED"


class StoreUnavailable(HubError):
    """The hub's database cannot be reached (a PostgreSQL failover or restart); retry."""

    status = grpc.StatusCode.UNAVAILABLE
    reason = "STORE_UNAVAILABLE"


class LeaseLost(HubError):
    """This replica no longer holds a route's lease (another took over): the fence
    refused the commit, and the work is left to the new holder."""

    status = grpc.StatusCode.ABORTED
    reason = "LEASE_LOST"


# What `except` clauses name when any deliberate failure, hub or proof core, may arrive.
KNOWN_ERRORS: tuple[type[Exception], ...] = (HubError, ProofError)

_PROOF_STATUS: dict[type[ProofError], grpc.StatusCode] = {
    MalformedInput: grpc.StatusCode.INVALID_ARGUMENT,
    ProofRejected: grpc.StatusCode.FAILED_PRECONDITION,
    NotAnchored: grpc.StatusCode.FAILED_PRECONDITION,
}


@dataclass(frozen=True)
class Failure:
    """What the caller is told about a deliberate failure: status, reason and metadata."""

    status: grpc.StatusCode
    reason: str
    metadata: dict[str, str] = field(default_factory=dict)


def failure_of(exc: BaseException) -> Failure | None:
    """The status, ErrorInfo reason and metadata of a deliberate failure; None otherwise."""
    if isinstance(exc, HubError):
        return Failure(exc.status, exc.reason, dict(exc.metadata))
    if isinstance(exc, ProofError):
        status = grpc.StatusCode.FAILED_PRECONDITION
        for kind in type(exc).__mro__:
            if kind in _PROOF_STATUS:
                status = _PROOF_STATUS[kind]
                break
        return Failure(status, exc.reason_code)
    return None


def status_of(exc: BaseException) -> grpc.StatusCode | None:
    """The gRPC status a deliberate failure maps to; None for anything unexpected."""
    failure = failure_of(exc)
    return failure.status if failure else None
