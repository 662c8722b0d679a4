"""Exit codes scripts can rely on, decided by the SDK's error class (the hub's reason)."""

from __future__ import annotations

import grpc

from tonglian_client import errors

OK = 0
# The thing asked about is not good: a proof failed, a check found problems.
FAILED = 1
# The command line or an input file is unusable.
USAGE = 2
# The hub or a chain cannot be reached.
UNAVAILABLE = 3
NOT_FOUND = 4
DENIED = 5
CONFLICT = 6
INTERNAL = 70
# The reader of our output went away (`tonglian ... | head`): 128 + SIGPIPE, as shells do.
PIPE_CLOSED = 141

# Most specific first: the first class an error is an instance of decides.
_BY_CLASS: tuple[tuple[type[errors.ClientError], int], ...] = (
    (errors.InvalidRequest, USAGE),
    (errors.NotFound, NOT_FOUND),
    (errors.AlreadyExists, CONFLICT),
    (errors.PolicyDenied, DENIED),
    (errors.Unauthenticated, DENIED),
    (errors.ProofFailed, FAILED),
    (errors.SchemaViolation, FAILED),
    (errors.AuditTampered, FAILED),
    (errors.ChainFault, FAILED),
    (errors.FailedPrecondition, FAILED),
    (errors.ChainUnavailable, UNAVAILABLE),
    (errors.HubUnreachable, UNAVAILABLE),
    (errors.WatchOverflow, UNAVAILABLE),
    (errors.HubInternal, INTERNAL),
)

# Failures that carry no hub reason (a deadline, an older hub): by gRPC status.
_BY_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: USAGE,
    grpc.StatusCode.NOT_FOUND: NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: CONFLICT,
    grpc.StatusCode.PERMISSION_DENIED: DENIED,
    grpc.StatusCode.UNAUTHENTICATED: DENIED,
    grpc.StatusCode.FAILED_PRECONDITION: FAILED,
    grpc.StatusCode.UNAVAILABLE: UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: UNAVAILABLE,
    grpc.StatusCode.UNIMPLEMENTED: USAGE,
}


def for_error(exc: errors.ClientError) -> int:
    """The exit code of an SDK error: by its class, else by its gRPC status."""
    for kind, code in _BY_CLASS:
        if isinstance(exc, kind):
            return code
    return for_status(exc.status)


def for_status(code: grpc.StatusCode) -> int:
    return _BY_STATUS.get(code, INTERNAL)
