"""The one place where hub errors become gRPC statuses.

Every servicer method is wrapped: a HubError aborts with its status and message;
anything unexpected is logged with its traceback and answered INTERNAL, so no
request can take the hub down or leak internals.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from hub.audit.call import peek_call
from hub.errors import status_of

log = logging.getLogger("tonglian.hub")

Req = TypeVar("Req")
Resp = TypeVar("Resp")

MAX_MESSAGE_CHARS = 2000

Context = grpc.aio.ServicerContext[Any, Any]


def _message(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"


async def abort_for(exc: Exception, method: Callable[..., Any], context: Context) -> None:
    """Aborts the call with the status of a deliberate failure; anything else is INTERNAL."""
    status = status_of(exc)
    if status is None:
        log.exception("unexpected failure in %s", method.__qualname__)
        status = grpc.StatusCode.INTERNAL
        message = f"internal error in {method.__name__}; the hub logged the details"
    else:
        message = _message(exc)
    # The call's audit event first: abort sends the status at once.
    call = peek_call()
    if call is not None:
        await call.fail(status, message)
    await context.abort(status, message)


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
        raise AssertionError("unreachable: abort raises")

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
