"""Exit codes scripts can rely on, decided by the SDK's error class (the hub's reason)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

# Failures that carry no hub reason (a deadline, an older hub): by gRPC status name, so
# that importing this module does not import grpc (the CLI starts fast).
_BY_STATUS = {
    "INVALID_ARGUMENT": USAGE,
    "NOT_FOUND": NOT_FOUND,
    "ALREADY_EXISTS": CONFLICT,
    "PERMISSION_DENIED": DENIED,
    "UNAUTHENTICATED": DENIED,
    "FAILED_PRECONDITION": FAILED,
    "UNAVAILABLE": UNAVAILABLE,
    "DEADLINE_EXCEEDED": UNAVAILABLE,
    "UNIMPLEMENTED": USAGE,
}


def for_error(exc: errors.ClientError) -> int:
    """The exit code of an SDK error: by its class (most specific first), else by status."""
    from tonglian_client import errors

    by_class: tuple[tuple[type[errors.ClientError], int], ...] = (
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
        (errors.HubUnavailable, UNAVAILABLE),
        (errors.WatchOverflow, UNAVAILABLE),
        (errors.LimitExceeded, UNAVAILABLE),
        (errors.HubInternal, INTERNAL),
    )
    for kind, code in by_class:
        if isinstance(exc, kind):
            return code
    return for_status(exc.status)


def for_status(code: grpc.StatusCode) -> int:
    return _BY_STATUS.get(code.name, INTERNAL)
