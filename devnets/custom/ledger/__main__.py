"""`python -m devnets.custom.ledger --data-dir DIR --port N --validators-file F --threshold K`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from devnets.custom.ledger import validators
from devnets.custom.ledger.api import make_app
from devnets.custom.ledger.chain import Ledger
from devnets.custom.ledger.store import Store


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m devnets.custom.ledger", description=__doc__)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--validators-file", type=Path, required=True)
    p.add_argument("--threshold", type=int, required=True)
    p.add_argument("--block-interval-ms", type=int, default=200)
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    args.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(args.data_dir / "ledger.sqlite")
    ledger = Ledger(store, validators.load(args.validators_file), args.threshold)
    runner = web.AppRunner(make_app(ledger), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    logging.info("ledger %s serving on http://%s:%d", ledger.ledger_id, args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    cutter = asyncio.create_task(ledger.run_cutter(args.block_interval_ms / 1000))
    try:
        await stop.wait()
    finally:
        cutter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cutter
        await runner.cleanup()
        store.close()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(argv)
    if args.block_interval_ms < 10:
        print("--block-interval-ms must be at least 10", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(args))
    except (validators.ValidatorFileError, ValueError, OSError) as exc:
        print(f"custom ledger cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
