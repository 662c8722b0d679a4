"""Exit codes scripts can rely on, and how gRPC statuses map to them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

# By status name, so that importing this module does not import grpc (the CLI starts fast).
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


def for_status(code: grpc.StatusCode) -> int:
    return _BY_STATUS.get(code.name, INTERNAL)
