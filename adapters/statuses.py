"""Typed adapter errors <-> gRPC statuses: the one mapping both ends of tonglian.v1.Adapter share.

An out-of-process adapter reports a typed error as a status (`adapters/serve.py`
does it for any in-process adapter); `adapters/remote.py` turns the status back
into the same typed error, so the hub cannot tell a remote adapter from a local
one. Servers written in other languages follow the table in `docs/adapters.md`.
"""

from __future__ import annotations

import grpc

from adapters.base import (
    AdapterError,
    AdapterMisconfigured,
    ChainUnavailable,
    InvalidAdapterRequest,
    RecordNotFound,
    SubmissionRejected,
)

# Most specific first: the first matching class decides the status.
STATUS_OF_ERROR: tuple[tuple[type[AdapterError], grpc.StatusCode], ...] = (
    (RecordNotFound, grpc.StatusCode.NOT_FOUND),
    (ChainUnavailable, grpc.StatusCode.UNAVAILABLE),
    (InvalidAdapterRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (AdapterMisconfigured, grpc.StatusCode.FAILED_PRECONDITION),
    (SubmissionRejected, grpc.StatusCode.ABORTED),
)

ERROR_OF_STATUS: dict[grpc.StatusCode, type[AdapterError]] = {
    grpc.StatusCode.NOT_FOUND: RecordNotFound,
    grpc.StatusCode.UNAVAILABLE: ChainUnavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: ChainUnavailable,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ChainUnavailable,
    grpc.StatusCode.CANCELLED: ChainUnavailable,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidAdapterRequest,
    grpc.StatusCode.OUT_OF_RANGE: InvalidAdapterRequest,
    grpc.StatusCode.FAILED_PRECONDITION: AdapterMisconfigured,
    grpc.StatusCode.PERMISSION_DENIED: AdapterMisconfigured,
    grpc.StatusCode.UNAUTHENTICATED: AdapterMisconfigured,
    grpc.StatusCode.ABORTED: SubmissionRejected,
}


def status_of(exc: AdapterError) -> grpc.StatusCode:
    """The status a server answers for a typed error; INTERNAL for a bare AdapterError."""
    for cls, code in STATUS_OF_ERROR:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


def error_of(code: grpc.StatusCode, message: str) -> AdapterError:
    """The typed error for a status a server answered; a bare AdapterError when none fits."""
    return ERROR_OF_STATUS.get(code, AdapterError)(message)
