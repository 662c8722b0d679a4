"""Entry point of `tonglian`: parses the command line and dispatches to one command module.

It starts in a blink: only the verb on the command line has its module imported
and its parser built; `tonglian --help` lists the verbs from VERBS and the
installed extensions (hub.cli.extensions: devnet, demo, adapter new) without
importing any of them, and each module imports its heavy parts when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hub.cli import exit_codes
from hub.cli.extensions import Extension, actions_of, discover
from hub.cli.output import error

if TYPE_CHECKING:
    from tonglian_client.errors import ClientError

# Built-in verbs: the module whose `register(sub)` declares the verb, and its help.
VERBS: dict[str, tuple[str, str]] = {
    "serve": ("hub.cli.serve", "run the hub"),
    "ping": ("hub.cli.ping", "check that the hub answers (and wait while it starts)"),
    "chains": ("hub.cli.chains", "register and inspect linked chains"),
    "secrets": ("hub.cli.secrets", "a chain's own secrets on the hub (names only shown)"),
    "query": ("hub.cli.query", "read one verified record and its proof bundle"),
    "records": ("hub.cli.query", "list or watch verified records of a chain"),
    "predicate": ("hub.cli.predicate", "a signed yes/no answer about a record (record not shown)"),
    "verify": (
        "hub.cli.verify",
        "re-verify a proof bundle offline; `verify fabric-block`: raw Fabric blocks",
    ),
    "audit": ("hub.cli.audit", "the hash-chained audit log (operators)"),
    "pki": ("hub.cli.pki", "development CA: init, issue and revoke certificates"),
    "routes": ("hub.cli.routes", "forward records between chains"),
    "deliveries": ("hub.cli.routes", "deliveries of the relay"),
    "adapter": ("hub.cli.adapter", "list, serve and certify chain adapters"),
}
# Built-in verbs that extensions may add actions to (`adapter.new`); a command line naming
# another built-in verb builds its parser without looking for extensions at all.
EXTENSIBLE = frozenset({"adapter"})
# Global flags that take a value: the verb is the first other word.
_VALUE_FLAGS = ("--hub", "--cert", "--key", "--ca")
# Global flags without a value; `serve --insecure` is serve's own (serve plaintext).
_SWITCHES = ("--insecure",)
_OWN_SWITCHES = {"serve": frozenset({"--insecure"})}
EPILOG = """\
offline checks, no hub needed:
  tonglian verify FILE [--anchor ANCHOR]        a proof bundle from `tonglian query --out`
  tonglian verify fabric-block --config CONFIG_BLOCK BLOCK...
                                                raw Fabric blocks against a config block
"""


def build_parser(
    verbs: Sequence[str] | None = None, extensions: Sequence[Extension] | None = None
) -> argparse.ArgumentParser:
    """The parser with `verbs` fully declared (every verb when None), the others listed only."""
    parser = argparse.ArgumentParser(
        prog="tonglian",
        description="Tonglian (通链): link vendor blockchains, query them with proofs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    exts = discover() if extensions is None else list(extensions)
    wanted = set(VERBS) | {e.verb for e in exts} if verbs is None else set(verbs)
    helps = {name: text for name, (_, text) in VERBS.items()}
    helps.update({e.verb: e.help for e in exts if not e.action})
    names = _ordered(helps)
    # The chosen verbs first: one module may declare several verbs (query and records).
    for name in (n for n in names if n in wanted):
        if name in sub.choices:
            continue
        if name in VERBS:
            importlib.import_module(VERBS[name][0]).register(sub)
        else:
            for ext in exts:
                if ext.name == name:
                    ext.register(sub)
    for name in names:
        if name not in sub.choices:
            # Listed for --help; choosing it re-parses with the verb declared.
            sub.add_parser(name, help=helps[name], add_help=False)
    for ext in exts:
        if ext.action and ext.verb in EXTENSIBLE & wanted and ext.verb in sub.choices:
            actions = actions_of(sub.choices[ext.verb])
            if actions is not None:
                ext.register(actions)
    return parser


def _ordered(helps: dict[str, str]) -> list[str]:
    """Built-in verbs in VERBS order, then the extensions' verbs by name."""
    return [n for n in VERBS if n in helps] + sorted(n for n in helps if n not in VERBS)


def verb_of(argv: Sequence[str]) -> str | None:
    """The verb on a command line: the first word that is neither a flag nor a flag's value."""
    at = _verb_at(argv)
    return None if at is None else argv[at]


def _verb_at(argv: Sequence[str]) -> int | None:
    skip = False
    for i, token in enumerate(argv):
        if skip:
            skip = False
        elif token == "--":
            return None
        elif token.startswith("-"):
            # argparse accepts unique prefixes (`--hu X`); `--hub=X` carries its value.
            skip = "=" not in token and any(
                f.startswith(token) for f in _VALUE_FLAGS if token.startswith("--")
            )
        else:
            return i
    return None


def hoist_globals(argv: Sequence[str]) -> list[str]:
    """The command line with the global flags written after the verb moved before it, so
    that `tonglian chains list --hub X` means `tonglian --hub X chains list`.

    Only the exact global names (`--hub X`, `--hub=X`) move, never an abbreviation, which
    could be a verb's own flag; nothing after `--` moves."""
    at = _verb_at(argv)
    if at is None:
        return list(argv)
    verb = argv[at]
    before, rest, moved = list(argv[:at]), [], []
    own = _OWN_SWITCHES.get(verb, frozenset())
    tokens = list(argv[at:])
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--":
            rest.extend(tokens[i:])
            break
        name = token.split("=", 1)[0]
        if name in _VALUE_FLAGS and i > 0:
            take = 1 if "=" in token else 2
            moved.extend(tokens[i : i + take])
            i += take
            continue
        if token in _SWITCHES and token not in own and i > 0:
            moved.append(token)
        else:
            rest.append(token)
        i += 1
    return before + moved + rest


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


def quiet_grpc_core(verb: str | None) -> None:
    """Keeps gRPC core's own log lines (handshake failures, `E0000 ...`) out of a client
    verb's terminal: the CLI prints one message that says what went wrong. Set before
    grpc is imported (gRPC reads it then); a GRPC_VERBOSITY the user set is kept, and
    `serve` keeps gRPC's defaults in its logs."""
    if verb != "serve":
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")


def _run(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    quiet_grpc_core(verb_of(args_list))
    if args_list[:2] == ["verify", "fabric-block"]:
        from hub.cli.verify_fabric_block import main as fabric_block_main

        code: int = fabric_block_main(args_list[2:])
        return code
    verb = verb_of(args_list)
    # Finding entry points costs more than a fast verb's whole start: only when they matter.
    needs_extensions = verb is None or verb not in VERBS or verb in EXTENSIBLE
    parser = build_parser([verb] if verb else [], None if needs_extensions else [])
    args = parser.parse_args(hoist_globals(args_list))
    try:
        result = args.func(args)
        if isinstance(result, types.CoroutineType):
            import asyncio

            result = asyncio.run(result)
        return int(result)
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except Exception as exc:
        reported = report(exc, args)
        if reported is None:
            raise
        return reported


def report(exc: Exception, args: argparse.Namespace) -> int | None:
    """Prints a failure the user can act on and returns its exit code; None: a bug, re-raise."""
    import grpc

    from hub.errors import HubError, ProofError, ProofRejected, status_of
    from tonglian_client.errors import ClientError

    if isinstance(exc, grpc.aio.AioRpcError):
        import asyncio

        from hub.cli.connection import hub_address
        from tonglian_client.channel import error_from

        # A verb that called a stub itself (tooling, not a client verb): typed all the same.
        return report_client_error(asyncio.run(error_from(exc, hub_address(args.hub), None)))
    if isinstance(exc, ProofRejected):
        error(f"verification failed: {exc.reason}")
        return exit_codes.FAILED
    if isinstance(exc, HubError | ProofError):
        error(str(exc))
        return exit_codes.for_status(status_of(exc) or grpc.StatusCode.UNKNOWN)
    if isinstance(exc, ClientError):
        return report_client_error(exc)
    return None


def report_client_error(exc: ClientError) -> int:
    """Prints an SDK error for a person; the exit code comes from its class."""
    from tonglian_client.errors import HubUnreachable

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
