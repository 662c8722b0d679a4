"""Exit codes scripts can rely on, and how gRPC statuses map to them."""

from __future__ import annotations

import grpc

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


def for_status(code: grpc.StatusCode) -> int:
    return _BY_STATUS.get(code, INTERNAL)
