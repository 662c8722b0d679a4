"""Entry point of `tonglian`: parses the command line and dispatches to one command module."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys
from collections.abc import Sequence

import grpc

from hub.cli import (
    adapter,
    audit,
    chains,
    demo,
    devnet,
    exit_codes,
    pki,
    predicate,
    query,
    routes,
    serve,
    verify,
)
from hub.cli.connection import hub_address
from hub.cli.output import error
from hub.errors import HubError, ProofError, ProofRejected, status_of
from tonglian_client.channel import error_from
from tonglian_client.errors import ClientError, HubUnreachable


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
    tls = parser.add_argument_group("client TLS (every command that talks to the hub)")
    # Own dests, so that a verb's argument named `cert` or `key` cannot overwrite them.
    tls.add_argument(
        "--cert",
        dest="tls_cert",
        metavar="FILE",
        help="client certificate (default: $TONGLIAN_CERT)",
    )
    tls.add_argument(
        "--key", dest="tls_key", metavar="FILE", help="client private key (default: $TONGLIAN_KEY)"
    )
    tls.add_argument(
        "--ca",
        dest="tls_ca",
        metavar="FILE",
        help="CA that issued the hub's certificate ($TONGLIAN_CA)",
    )
    tls.add_argument(
        "--insecure",
        dest="client_insecure",
        action="store_true",
        help="plaintext, no certificate: only for a hub run with --insecure ($TONGLIAN_INSECURE=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (
        serve,
        chains,
        query,
        predicate,
        verify,
        audit,
        pki,
        devnet,
        demo,
        routes,
        adapter,
    ):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The `tonglian` entry point; a closed stdout (`| head`) ends it quietly."""
    try:
        code = _run(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Nothing more can be printed; point stdout at /dev/null so that the
        # interpreter's final flush does not raise (and print) a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return exit_codes.PIPE_CLOSED


def _run(argv: Sequence[str] | None) -> int:
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
        # A verb that called a stub itself (tooling, not a client verb): typed all the same.
        return report_client_error(asyncio.run(error_from(exc, hub_address(args.hub), None)), args)
    except ProofRejected as exc:
        error(f"verification failed: {exc.reason}")
        return exit_codes.FAILED
    except (HubError, ProofError) as exc:
        error(str(exc))
        return exit_codes.for_status(status_of(exc) or grpc.StatusCode.UNKNOWN)
    except ClientError as exc:
        return report_client_error(exc, args)


def report_client_error(exc: ClientError, args: argparse.Namespace) -> int:
    """Prints an SDK error for a person; the exit code comes from its class."""
    if isinstance(exc, HubUnreachable):
        error(
            f"cannot reach the hub at {exc.address}: "
            "is `tonglian serve` running? (set --hub or TONGLIAN_HUB)"
        )
    else:
        error(str(exc))
    return exit_codes.for_error(exc)


if __name__ == "__main__":
    sys.exit(main())
