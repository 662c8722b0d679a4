"""Entry point of `tonglian`: parses the command line and dispatches to one command module."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Sequence

import grpc

from hub.cli import adapter, chains, demo, devnet, exit_codes, query, routes, serve, verify
from hub.cli.connection import hub_address
from hub.cli.output import error
from hub.errors import HubError, ProofRejected


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tonglian",
        description="Tonglian (通链): link vendor blockchains, query them with proofs.",
    )
    parser.add_argument(
        "--hub",
        metavar="HOST:PORT",
        help="the hub to talk to (default: $TONGLIAN_HUB or 127.0.0.1:50051)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (serve, chains, query, verify, devnet, demo, routes, adapter):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:2] == ["verify", "fabric-block"]:
        from hub.cli.verify_fabric_block import main as fabric_block_main

        code: int = fabric_block_main(args_list[2:])
        return code
    parser = build_parser()
    args = parser.parse_args(args_list)
    try:
        result = args.func(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return int(result)
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except grpc.aio.AioRpcError as exc:
        return report_rpc_error(exc, args)
    except ProofRejected as exc:
        error(f"verification failed: {exc.reason}")
        return exit_codes.FAILED
    except HubError as exc:
        error(str(exc))
        return exit_codes.for_status(exc.status)


def report_rpc_error(exc: grpc.aio.AioRpcError, args: argparse.Namespace) -> int:
    code = exc.code()
    details = exc.details() or ""
    # The hub's own UNAVAILABLE answers name the chain; only a bare one means no hub.
    if (
        code == grpc.StatusCode.UNAVAILABLE
        and "connect" in details.lower()
        and not details.startswith("chain ")
    ):
        error(
            f"cannot reach the hub at {hub_address(args.hub)}: "
            "is `tonglian serve` running? (set --hub or TONGLIAN_HUB)"
        )
    else:
        error(f"{code.name}: {exc.details()}")
    return exit_codes.for_status(code)


if __name__ == "__main__":
    sys.exit(main())
