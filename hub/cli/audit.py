"""`tonglian audit list|head|export|verify`: read the audit log and check that it is intact."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hub.audit.anchor_check import check_anchor_proofs
from hub.audit.chain_check import Finding, check_chain
from hub.audit.export_file import AuditExport, read_export, write_export
from hub.cli import exit_codes
from hub.cli.chains import _parse_json_file
from hub.cli.connection import client
from hub.cli.output import print_json, table, to_json
from hub.errors import InvalidInput
from tonglian.v1 import chains_pb2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="the hash-chained audit log (operators)")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    ls = asub.add_parser("list", help="show events")
    ls.add_argument("--from", dest="from_sequence", type=int, default=1)
    ls.add_argument("--principal", default="", help="only this principal (agency/client)")
    ls.add_argument("--action", default="", help="only this action, e.g. query.get_record")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true", help="one JSON event per line")
    ls.set_defaults(func=run_list)

    head = asub.add_parser("head", help="the last event's sequence and hash")
    head.add_argument("--json", action="store_true")
    head.set_defaults(func=run_head)

    export = asub.add_parser("export", help="write the log and its anchors to a file")
    export.add_argument("file", type=Path)
    export.add_argument("--from", dest="from_sequence", type=int, default=1)
    export.set_defaults(func=run_export)

    verify = asub.add_parser(
        "verify", help="recompute the hash chain and check the anchors' proofs"
    )
    verify.add_argument("--file", type=Path, help="an export file (default: fetch from the hub)")
    verify.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="CHAIN=FILE",
        help="trust anchor (tonglian.v1.TrustAnchor JSON) to check a chain's anchors against",
    )
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(func=run_verify)


async def run_list(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        events = await hub.audit_events(
            from_sequence=args.from_sequence,
            principal=args.principal,
            action=args.action,
            limit=args.limit,
        )
    if args.json:
        for e in events:
            print(json.dumps(to_json(e), ensure_ascii=False))
        return exit_codes.OK
    rows = [
        [
            str(e.sequence),
            e.time.ToJsonString()[:19],
            e.principal,
            e.action,
            e.target,
            e.purpose,
            e.outcome,
        ]
        for e in events
    ]
    print(table(["seq", "time", "principal", "action", "target", "purpose", "outcome"], rows))
    return exit_codes.OK


async def run_head(args: argparse.Namespace) -> int:
    async with client(args) as hub:
        head = await hub.audit_head()
    if args.json:
        print_json({"sequence": head.sequence, "hash": head.hash.hex()})
    else:
        print(f"sequence {head.sequence}   hash {head.hash.hex()}")
    return exit_codes.OK


async def _fetch(args: argparse.Namespace, from_sequence: int = 1) -> AuditExport:
    async with client(args) as hub:
        anchors = await hub.audit_anchors()
        events = await hub.export_audit(from_sequence=from_sequence)
    last = events[-1] if events else None
    return AuditExport(last.sequence if last else 0, last.hash if last else b"", events, anchors)


async def run_export(args: argparse.Namespace) -> int:
    export = await _fetch(args, args.from_sequence)
    write_export(args.file, export)
    print(
        f"wrote {len(export.events)} events (head {export.head_sequence}) and "
        f"{len(export.anchors)} anchors to {args.file}"
    )
    return exit_codes.OK


def _trusted(items: list[str]) -> dict[str, chains_pb2.TrustAnchor]:
    trusted: dict[str, chains_pb2.TrustAnchor] = {}
    for item in items:
        chain_id, sep, path = item.partition("=")
        if not sep:
            raise InvalidInput(f"--anchor wants CHAIN=FILE, got {item!r}")
        trusted[chain_id] = _parse_json_file(Path(path), chains_pb2.TrustAnchor(), "trust anchor")
    return trusted


def verify_export(
    export: AuditExport, trusted: dict[str, chains_pb2.TrustAnchor] | None = None
) -> list[Finding]:
    first = export.events[0].sequence if export.events else 1
    findings = check_chain(
        export.events,
        first_sequence=first,
        first_previous_hash=export.events[0].previous_hash if first > 1 else bytes(32),
        head_sequence=export.head_sequence,
        anchors=export.anchors,
    )
    findings += check_anchor_proofs(export.anchors, trusted)
    return sorted(findings, key=lambda f: f.sequence)


async def run_verify(args: argparse.Namespace) -> int:
    export = read_export(args.file) if args.file else await _fetch(args)
    findings = verify_export(export, _trusted(args.anchor))
    source = str(args.file) if args.file else "the hub's log"
    if args.json:
        print_json(
            {
                "intact": not findings,
                "events": len(export.events),
                "anchors": len(export.anchors),
                "findings": [{"sequence": f.sequence, "problem": f.problem} for f in findings],
            }
        )
    elif findings:
        print(f"{source}: {len(findings)} problem(s) in {len(export.events)} events")
        for finding in findings:
            print(f"  ✗ {finding}")
    else:
        anchors = ", ".join(f"{a.sequence}@{a.chain_id}" for a in export.anchors) or "none"
        print(
            f"{source}: intact: {len(export.events)} events chained by hash; "
            f"anchors verified: {anchors}"
        )
    return exit_codes.FAILED if findings else exit_codes.OK
