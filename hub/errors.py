"""Every error the hub raises on purpose, in one place, each with the gRPC status it maps to.

Code below the services raises these; `hub/services/status.py` turns them into
gRPC statuses, so a caller can tell failures apart and a person can act on the message.
"""

from __future__ import annotations

import grpc

# The proof core's failures are the hub's too: re-exported so hub code names one module.
from tonglian_proof.errors import MalformedInput as MalformedInput
from tonglian_proof.errors import NotAnchored as NotAnchored
from tonglian_proof.errors import ProofError as ProofError
from tonglian_proof.errors import ProofRejected as ProofRejected


class HubError(Exception):
    """Base class: a failure with a message meant for the person who called."""

    status: grpc.StatusCode = grpc.StatusCode.INTERNAL


class InvalidInput(HubError):
    """The request, a config file or a trust anchor is malformed or out of bounds."""

    status = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(HubError):
    """An id (chain, record, route, delivery) names nothing the hub knows."""

    status = grpc.StatusCode.NOT_FOUND


class AlreadyExists(HubError):
    """A registration under an id that is taken."""

    status = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(HubError):
    """The caller's policy does not allow this; the message names the rule."""

    status = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(HubError):
    """The caller's certificate is missing, expired, revoked or not from a trusted CA."""

    status = grpc.StatusCode.UNAUTHENTICATED


class SchemaViolation(HubError):
    """A record's value does not conform to its catalog schema; names the failing field."""

    status = grpc.StatusCode.FAILED_PRECONDITION


class AuditTampered(HubError):
    """An audit log (or an export of it) fails its hash chain; says which event and why."""

    status = grpc.StatusCode.DATA_LOSS


class ChainUnreachable(HubError):
    """A chain (or its adapter) cannot be reached, or did not answer in time."""

    status = grpc.StatusCode.UNAVAILABLE


class AdapterMisbehaved(HubError):
    """An adapter answered with something that is not a valid answer."""

    status = grpc.StatusCode.FAILED_PRECONDITION


class DeliveryRefused(HubError):
    """A destination refused a delivery on its merits (adapters' SubmissionRejected):
    retrying the same delivery will not change the answer."""

    status = grpc.StatusCode.FAILED_PRECONDITION


class ChainMisconfigured(HubError):
    """A registered chain's adapter settings do not work; the registration needs fixing."""

    status = grpc.StatusCode.FAILED_PRECONDITION


class FailedPrecondition(HubError):
    """The thing exists but is not in a state that allows the request."""

    status = grpc.StatusCode.FAILED_PRECONDITION


class StoreUnavailable(HubError):
    """The hub's database cannot be reached (a PostgreSQL failover or restart); retry."""

    status = grpc.StatusCode.UNAVAILABLE


class LeaseLost(HubError):
    """This replica no longer holds a route's lease (another took over): the fence
    refused the commit, and the work is left to the new holder."""

    status = grpc.StatusCode.ABORTED


# What `except` clauses name when any deliberate failure, hub or proof core, may arrive.
KNOWN_ERRORS: tuple[type[Exception], ...] = (HubError, ProofError)

_PROOF_STATUS: dict[type[ProofError], grpc.StatusCode] = {
    MalformedInput: grpc.StatusCode.INVALID_ARGUMENT,
    ProofRejected: grpc.StatusCode.FAILED_PRECONDITION,
    NotAnchored: grpc.StatusCode.FAILED_PRECONDITION,
}


def status_of(exc: BaseException) -> grpc.StatusCode | None:
    """The gRPC status a deliberate failure maps to; None for anything unexpected."""
    if isinstance(exc, HubError):
        return exc.status
    if isinstance(exc, ProofError):
        for kind in type(exc).__mro__:
            if kind in _PROOF_STATUS:
                return _PROOF_STATUS[kind]
        return grpc.StatusCode.FAILED_PRECONDITION
    return None
