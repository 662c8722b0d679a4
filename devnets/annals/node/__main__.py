"""`python -m devnets.annals.node --data-dir DIR --port N --signers-file F --quorum K`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from devnets.annals.node.api import make_app
from devnets.annals.node.book import Book, load_signers


async def serve(args: argparse.Namespace) -> None:
    network, signers = load_signers(args.signers_file)
    book = Book(args.data_dir, network, signers, args.quorum)
    runner = web.AppRunner(make_app(book), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    logging.info("annals %s serving on http://%s:%d", network, args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sealer = asyncio.create_task(book.run_sealer(args.seal_interval_ms / 1000))
    try:
        await stop.wait()
    finally:
        sealer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sealer
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    p = argparse.ArgumentParser(prog="python -m devnets.annals.node", description=__doc__)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--signers-file", type=Path, required=True)
    p.add_argument("--quorum", type=int, required=True)
    p.add_argument("--seal-interval-ms", type=int, default=200)
    args = p.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except (ValueError, OSError, KeyError) as exc:
        print(f"annals node cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
