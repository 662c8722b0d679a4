"""A stand-in HTTP server on a free local port, for tests whose node or ledger must
misbehave on purpose (a fake JSON-RPC node, a proxy that forges or drops answers)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serves `app` on 127.0.0.1 until the block ends; yields its base URL (no slash)."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
