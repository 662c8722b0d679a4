"""`tonglian audit list|head|export|verify`: read the audit log and check that it is intact."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hub.audit.anchor_check import check_anchor_proofs
from hub.audit.chain_anchors import (
    UnanchoredTail,
    compare_with_table,
    heads_on_chain,
    unanchored_tail,
)
from hub.audit.chain_check import Finding, check_chain
from hub.audit.export_file import AuditExport, read_export, write_export
from hub.cli import exit_codes
from hub.cli.connection import client
from hub.cli.json_input import parse_json_file
from hub.cli.output import print_json, table, to_json
from hub.cli.progress import Meter
from hub.errors import InvalidInput
from tonglian.v1 import audit_pb2, chains_pb2

if TYPE_CHECKING:
    from tonglian_client.client import AsyncClient


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
    export.add_argument("--json", action="store_true", help="print what was written as JSON")
    export.set_defaults(func=run_export)

    verify = asub.add_parser(
        "verify",
        help="recompute the hash chain and check it against the heads anchored on chain",
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
    with Meter("audit export", unit="events", quiet=args.json) as meter:
        meter.step("fetching the log and its anchors from the hub")
        export = await _fetch(args, args.from_sequence)
        meter.advance(len(export.events))
        meter.step(f"writing {args.file}")
        write_export(args.file, export)
    if args.json:
        print_json(
            {
                "file": str(args.file),
                "events": len(export.events),
                "head_sequence": export.head_sequence,
                "anchors": len(export.anchors),
            }
        )
        return exit_codes.OK
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
        trusted[chain_id] = parse_json_file(Path(path), chains_pb2.TrustAnchor(), "trust anchor")
    return trusted


@dataclass(frozen=True)
class ChainHeads:
    """The heads read back from the anchor chain (through the hub's verified read path)."""

    chain_id: str
    namespace: str
    anchors: list[audit_pb2.AuditAnchor]
    findings: list[Finding]


def verify_export(
    export: AuditExport,
    trusted: dict[str, chains_pb2.TrustAnchor] | None = None,
    on_chain: ChainHeads | None = None,
) -> list[Finding]:
    """Findings on the export's hash chain, its anchors' proofs and, given the heads read
    back from the anchor chain, on every head there (which the table may have lost)."""
    first = export.events[0].sequence if export.events else 1
    chain_anchors = list(on_chain.anchors) if on_chain else []
    findings = check_chain(
        export.events,
        first_sequence=first,
        first_previous_hash=export.events[0].previous_hash if first > 1 else bytes(32),
        head_sequence=export.head_sequence,
        anchors=[*export.anchors, *chain_anchors],
    )
    findings += check_anchor_proofs(export.anchors, trusted)
    if on_chain is not None:
        findings += on_chain.findings
        findings += compare_with_table(
            on_chain.anchors, export.anchors, on_chain.chain_id, on_chain.namespace
        )
    return sorted(findings, key=lambda f: f.sequence)


# A live hub writes a head on the chain first and into its table once the chain has
# confirmed it: a head just read back may be a moment ahead of the table read before.
TABLE_GRACE_SECONDS = 10.0


async def _table_catching_up(
    hub: AsyncClient, table: list[audit_pb2.AuditAnchor], on_chain: set[int]
) -> list[audit_pb2.AuditAnchor]:
    """The anchor table once it holds every head read back from the chain, re-read for
    up to TABLE_GRACE_SECONDS; a head still missing then is reported as missing."""
    deadline = time.monotonic() + TABLE_GRACE_SECONDS
    while on_chain - {a.sequence for a in table} and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        table = await hub.audit_anchors()
    return table


async def _fetch_with_chain(args: argparse.Namespace) -> tuple[AuditExport, ChainHeads | None]:
    """The log, its anchor table and the heads on the anchor chain, read in that order:
    a head in the table is on the chain before it is read, and a head on the chain
    is in the log before the export starts."""
    async with client(args) as hub:
        head = await hub.audit_head()
        table = await hub.audit_anchors()
        on_chain = None
        if head.anchor_chain_id:
            # Read through the Audit service: the right to read the log implies these reads.
            records = [r async for r in hub.audit_chain_heads()]
            anchors, findings = heads_on_chain(records)
            on_chain = ChainHeads(head.anchor_chain_id, head.anchor_namespace, anchors, findings)
            table = await _table_catching_up(hub, table, {a.sequence for a in anchors})
        events = await hub.export_audit()
    last = events[-1] if events else None
    export = AuditExport(last.sequence if last else 0, last.hash if last else b"", events, table)
    return export, on_chain


async def run_verify(args: argparse.Namespace) -> int:
    on_chain: ChainHeads | None = None
    with Meter("audit verify", unit="events", quiet=args.json) as meter:
        meter.step(f"reading {args.file}" if args.file else "fetching the log from the hub")
        if args.file:
            export = read_export(args.file)
        else:
            export, on_chain = await _fetch_with_chain(args)
        meter.advance(len(export.events))
        meter.step("recomputing the hash chain, checking the anchors")
        findings = verify_export(export, _trusted(args.anchor), on_chain)
    tail = unanchored_tail(export.head_sequence, on_chain.anchors) if on_chain else None
    source = str(args.file) if args.file else "the hub's log"
    if args.json:
        print_json(
            {
                "intact": not findings,
                "events": len(export.events),
                "head_sequence": export.head_sequence,
                "anchors": len(export.anchors),
                "anchor_chain": _chain_json(on_chain, tail),
                "findings": [{"sequence": f.sequence, "problem": f.problem} for f in findings],
            }
        )
        return exit_codes.FAILED if findings else exit_codes.OK
    if findings:
        print(f"{source}: {len(findings)} problem(s) in {len(export.events)} events")
        for finding in findings:
            print(f"  ✗ {finding}")
    else:
        anchors = ", ".join(f"{a.sequence}@{a.chain_id}" for a in export.anchors) or "none"
        print(
            f"{source}: intact: {len(export.events)} events chained by hash; "
            f"anchors verified: {anchors}"
        )
    print(_chain_summary(source, on_chain, tail))
    return exit_codes.FAILED if findings else exit_codes.OK


def _chain_json(on_chain: ChainHeads | None, tail: UnanchoredTail | None) -> object:
    if on_chain is None or tail is None:
        return None
    return {
        "chain_id": on_chain.chain_id,
        "namespace": on_chain.namespace,
        "heads": [a.sequence for a in on_chain.anchors],
        "unanchored_tail": {"after_sequence": tail.after_sequence, "events": tail.events},
    }


def _chain_summary(source: str, on_chain: ChainHeads | None, tail: UnanchoredTail | None) -> str:
    if on_chain is None or tail is None:
        if source != "the hub's log":
            return "  note: heads on the anchor chain are read only from a hub (without --file)"
        return "  note: the hub anchors its log on no chain: nothing outside it vouches for the log"
    where = f"{on_chain.chain_id}/{on_chain.namespace}"
    return (
        f"  heads on chain {where}: {len(on_chain.anchors)}; unanchored tail: "
        f"{tail.events} event(s) after event {tail.after_sequence}, "
        "which could be cut without notice until the next anchor"
    )
