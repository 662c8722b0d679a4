"""Ends a server stream the moment its caller's certificate stops authenticating.

A stream is authenticated once, when it opens, yet may run for days; a revoked or
expired certificate must not keep one. `guarded` races each next item against the
certificate's lapse and checks the certificate again before every item it yields,
so nothing produced after a revocation reaches the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from hub.errors import Unauthenticated

T = TypeVar("T")


async def guarded(
    items: AsyncIterator[T],
    lapse: asyncio.Future[Unauthenticated],
    check: Callable[[], object],
) -> AsyncIterator[T]:
    """Yields `items` until they end; raises the Unauthenticated that `lapse` resolves to,
    or that `check` raises before an item, and then closes `items`."""
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            pending = asyncio.ensure_future(anext(items))
            racing: set[asyncio.Future[Any]] = {pending, lapse}
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            if not pending.done():
                raise lapse.result()
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            check()
            yield item
    finally:
        lapse.cancel()
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
