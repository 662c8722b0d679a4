"""The one place where hub errors become gRPC statuses with a typed reason.

Every servicer method is wrapped: a deliberate failure (hub/errors.py) aborts with its
status, its message and a `google.rpc.ErrorInfo` (reason, domain, metadata; see
proto/tonglian/v1/errors.proto); anything unexpected is logged with its traceback and
answered INTERNAL, so no request can take the hub down or leak internals. The access
interceptor aborts through `abort_with` too, so every error on the wire has a reason.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc
from google.rpc import error_details_pb2, status_pb2

from hub.audit.call import peek_call
from hub.errors import failure_of

log = logging.getLogger("tonglian.hub")

Req = TypeVar("Req")
Resp = TypeVar("Resp")

MAX_MESSAGE_CHARS = 2000
DOMAIN = "tonglian.v1"
# The standard trailer of a google.rpc.Status (grpc rich status).
DETAILS_KEY = "grpc-status-details-bin"

Context = grpc.aio.ServicerContext[Any, Any]


def _message(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"


def rich_status(
    code: grpc.StatusCode, message: str, reason: str, metadata: dict[str, str] | None = None
) -> tuple[tuple[str, bytes], ...]:
    """The trailing metadata that carries a google.rpc.Status with one ErrorInfo."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata or {})
    status = status_pb2.Status(code=code.value[0], message=message)
    status.details.add().Pack(info)
    return ((DETAILS_KEY, status.SerializeToString()),)


async def abort_with(
    context: Context,
    code: grpc.StatusCode,
    message: str,
    reason: str,
    metadata: dict[str, str] | None = None,
) -> NoReturn:
    """Ends the call with `code`, `message` and an ErrorInfo of `reason` and `metadata`."""
    await context.abort(code, message, rich_status(code, message, reason, metadata))
    raise AssertionError("unreachable: abort raises")


async def abort_for(exc: Exception, method: Callable[..., Any], context: Context) -> NoReturn:
    """Aborts the call with the status of a deliberate failure; anything else is INTERNAL."""
    failure = failure_of(exc)
    if failure is None:
        log.exception("unexpected failure in %s", method.__qualname__)
        status, reason, metadata = grpc.StatusCode.INTERNAL, "INTERNAL", None
        message = f"internal error in {method.__name__}; the hub logged the details"
    else:
        status, reason, metadata = failure.status, failure.reason, failure.metadata
        message = _message(exc)
    # The call's audit event first: abort sends the status at once.
    call = peek_call()
    if call is not None:
        try:
            await call.fail(status, message)
        except Exception as unaudited:
            # No answer goes out before its event is in the log: when the log cannot be
            # written (the store is down), that is the answer (UNAVAILABLE), not UNKNOWN.
            log.warning("%s answered without its audit event: %s", method.__qualname__,
                        unaudited)  # fmt: skip
            failure = failure_of(unaudited)
            if failure is None:
                status, reason, metadata = grpc.StatusCode.INTERNAL, "INTERNAL", None
                message = f"internal error in {method.__name__}; the hub logged the details"
            else:
                status, reason, metadata = failure.status, failure.reason, failure.metadata
                message = _message(unaudited)
    await abort_with(context, status, message, reason, metadata)


def unary(
    method: Callable[[Any, Req, Context], Awaitable[Resp]],
) -> Callable[[Any, Req, Context], Awaitable[Resp]]:
    @functools.wraps(method)
    async def wrapper(self: Any, request: Req, context: Context) -> Resp:
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_for(exc, method, context)

    return wrapper


def streaming(
    method: Callable[[Any, Req, Context], AsyncIterator[Resp]],
) -> Callable[[Any, Req, Context], AsyncIterator[Resp]]:
    @functools.wraps(method)
    async def wrapper(self: Any, request: Req, context: Context) -> AsyncIterator[Resp]:
        try:
            async for item in method(self, request, context):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_for(exc, method, context)

    return wrapper
