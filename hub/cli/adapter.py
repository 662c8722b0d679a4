"""`tonglian adapter list|serve|check`: the adapter SDK from the command line.

(`adapter new`, the scaffold, is development tooling: tonglian_tools adds it.)"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from pathlib import Path

from google.protobuf.json_format import ParseDict, ParseError

from adapters.serve import start_server
from adapters.tls import TlsFiles
from hub import adapter_plugins
from hub.adapter_target import open_target, parse_options
from hub.cli import exit_codes
from hub.cli.local_chains import devnet_chain
from hub.cli.output import print_json, table
from hub.cli.progress import Meter
from hub.errors import InvalidInput
from tonglian.v1 import chains_pb2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("adapter", help="list, serve, certify and scaffold chain adapters")
    asub = p.add_subparsers(dest="adapter_command", metavar="ACTION", required=True)

    ls = asub.add_parser("list", help="installed adapter plugins and whether they load")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)

    serve = asub.add_parser("serve", help="serve an installed adapter as tonglian.v1.Adapter")
    serve.add_argument("kind", metavar="KIND", help="installed adapter name (see `adapter list`)")
    serve.add_argument("--listen", default="127.0.0.1:50071", metavar="HOST:PORT")
    _target_flags(serve)
    serve.add_argument("--tls-cert", help="serve TLS with this certificate (PEM)")
    serve.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
    serve.add_argument("--tls-ca", help="require client certificates issued by this CA (PEM)")
    serve.add_argument(
        "--json", action="store_true", help="announce the address as one JSON line when serving"
    )
    serve.set_defaults(func=run_serve)

    check = asub.add_parser("check", help="run the conformance suite against an adapter")
    check.add_argument(
        "target", metavar="TARGET", help="installed adapter name, or remote:HOST:PORT"
    )
    _target_flags(check)
    check.add_argument("--anchor", type=Path, help="the tonglian.v1.TrustAnchor to verify against")
    check.add_argument(
        "--seed",
        action="append",
        default=[],
        metavar="NAMESPACE/KEY",
        help="an existing record to check (repeatable); needed when the kit cannot write",
    )
    check.add_argument(
        "--no-write",
        action="store_true",
        help="write nothing to the chain: no records, no test delivery (submit is skipped)",
    )
    check.add_argument("--report", type=Path, help="write the JSON report here")
    check.add_argument("--json", action="store_true", help="print the JSON report")
    check.set_defaults(func=run_check)


def _target_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--chain-id", default="", help="the chain id records are labelled with")
    p.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="adapter option"
    )
    p.add_argument(
        "--from-devnet",
        default="",
        metavar="KIND",
        help="take chain id, options and trust anchor from a running devnet",
    )
    p.add_argument("--timeout", type=float, default=10.0, help="deadline of one call, seconds")


def run_list(args: argparse.Namespace) -> int:
    plugins = adapter_plugins.statuses()
    if args.json:
        print_json([vars(p) for p in plugins])
        return exit_codes.OK
    rows = [
        [p.name, p.target, p.distribution, "yes" if p.loadable else f"no: {p.error}"]
        for p in plugins
    ]
    rows.append(["remote", "adapters.remote (built in)", "", "yes (needs --adapter-address)"])
    print(table(["adapter", "module", "package", "loadable"], rows))
    return exit_codes.OK


async def run_serve(args: argparse.Namespace) -> int:
    target = open_target(
        args.kind,
        chain_id=args.chain_id,
        options=parse_options(args.option),
        timeout=args.timeout,
        local=devnet_chain(args.from_devnet) if args.from_devnet else None,
    )
    tls = TlsFiles(args.tls_ca, args.tls_cert, args.tls_key)
    server, port = await start_server(target.adapter, args.listen, tls)
    host = args.listen.rsplit(":", 1)[0]
    if args.json:
        announce = {
            "adapter": args.kind,
            "chain_id": target.chain_id,
            "address": f"{host}:{port}",
            "tls": tls.enabled,
        }
        print(json.dumps(announce), flush=True)
    else:
        print(
            f"serving adapter {args.kind} for chain {target.chain_id} on {host}:{port}"
            f"{' (TLS)' if tls.enabled else ''}",
            flush=True,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop(2)
        with contextlib.suppress(Exception):
            await target.adapter.close()
    return exit_codes.OK


def _load_anchor(path: Path) -> chains_pb2.TrustAnchor:
    try:
        return ParseDict(json.loads(path.read_text()), chains_pb2.TrustAnchor())
    except OSError as exc:
        raise InvalidInput(f"cannot read anchor file {path}: {exc.strerror}") from None
    except (ValueError, ParseError) as exc:
        raise InvalidInput(f"{path} is not a tonglian.v1.TrustAnchor in JSON: {exc}") from None


def _seeds(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        ns, sep, key = item.partition("/")
        if not sep or not ns or not key:
            raise InvalidInput(f"--seed wants NAMESPACE/KEY, got {item!r}")
        out.append((ns, key))
    return out


async def run_check(args: argparse.Namespace) -> int:
    from hub.conformance.suite import SuiteConfig, run_suite

    target = open_target(
        args.target,
        chain_id=args.chain_id,
        options=parse_options(args.option),
        timeout=args.timeout,
        local=devnet_chain(args.from_devnet) if args.from_devnet else None,
    )
    anchor = _load_anchor(args.anchor) if args.anchor else target.anchor
    if anchor is None:
        raise InvalidInput(
            "give the trust anchor to verify against: --anchor FILE or --from-devnet"
        )
    writer = None
    if target.local is not None and not args.no_write:
        writer = target.local.writer()
    meter = Meter("adapter check", quiet=args.json)
    config = SuiteConfig(
        anchor=anchor,
        chain_id=target.chain_id,
        writer=writer,
        seeds=_seeds(args.seed),
        timeout=args.timeout,
        may_write=not args.no_write,
        on_clause=lambda clause, title: meter.step(f"clause {clause}: {title}"),
    )
    try:
        card = await run_suite(target.adapter, args.target, config)
    finally:
        meter.close()
        with contextlib.suppress(Exception):
            await target.adapter.close()
    if args.report:
        card.write(args.report)
    if args.json:
        print_json(card.to_json())
    else:
        print(card.render())
    return exit_codes.OK if card.certified else exit_codes.FAILED
