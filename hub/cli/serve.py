"""`tonglian serve`: runs the hub in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hub.config import load_settings
from hub.server import serve


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the hub")
    p.add_argument(
        "--listen", metavar="HOST:PORT", help="address to listen on (default 127.0.0.1:50051)"
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        help="where the hub keeps its store (default: per-user data folder)",
    )
    p.add_argument("--config", type=Path, help="settings file (.toml or .yaml)")
    p.add_argument("--verify-workers", type=int, help="processes that verify proofs")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    settings = load_settings(
        args.config,
        listen=args.listen,
        data_dir=args.data_dir,
        verify_workers=args.verify_workers,
    )
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    await serve(settings)
    return 0
